from django.urls import re_path

from collaboration.viewsets import UUID_RE, OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("models", views.ModelArtifactViewSet, basename="model")

MODEL = rf"^models/(?P<pk>{UUID_RE})"

urlpatterns = [
    re_path(
        r"^models/upload/?$",
        views.ModelUploadView.as_view({"post": "create"}),
        name="model-upload",
    ),
    re_path(
        rf"{MODEL}/download/?$",
        views.ModelDownloadView.as_view({"get": "retrieve"}),
        name="model-download",
    ),
    re_path(
        rf"{MODEL}/predict/?$",
        views.ModelPredictView.as_view({"post": "predict"}),
        name="model-predict",
    ),
    re_path(
        rf"{MODEL}/card/?$", views.ModelCardView.as_view({"get": "retrieve"}), name="model-card"
    ),
    re_path(
        rf"{MODEL}/graph/?$", views.ModelGraphView.as_view({"get": "retrieve"}), name="model-graph"
    ),
    re_path(
        rf"{MODEL}/aliases/?$",
        views.ModelAliasView.as_view({"post": "create"}),
        name="model-aliases",
    ),
    re_path(
        rf"{MODEL}/aliases/(?P<alias>[^/]+)/?$",
        views.ModelAliasView.as_view({"delete": "destroy"}),
        name="model-alias",
    ),
    *router.urls,
]
