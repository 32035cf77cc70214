from rest_framework.routers import SimpleRouter

from .views import WorkspaceViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("workspaces", WorkspaceViewSet, basename="workspace")

urlpatterns = router.urls
