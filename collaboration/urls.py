from .views import RoomViewSet, WorkspaceViewSet
from .viewsets import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("workspaces", WorkspaceViewSet, basename="workspace")
router.register("rooms", RoomViewSet, basename="room")

urlpatterns = router.urls
