from django.urls import re_path

from collaboration.viewsets import OptionalSlashRouter

from .views import DatasetUploadView, DatasetViewSet

router = OptionalSlashRouter()
router.register("data", DatasetViewSet, basename="dataset")

urlpatterns = [
    re_path(
        r"^data/upload/?$", DatasetUploadView.as_view({"post": "create"}), name="dataset-upload"
    ),
    *router.urls,
]
