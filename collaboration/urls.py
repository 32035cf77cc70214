from .views import WorkspaceViewSet
from .viewsets import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("workspaces", WorkspaceViewSet, basename="workspace")

urlpatterns = router.urls
