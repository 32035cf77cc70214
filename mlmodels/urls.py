from django.urls import re_path

from collaboration.viewsets import UUID_RE, OptionalSlashRouter

from . import views

router = OptionalSlashRouter()
router.register("models", views.ModelArtifactViewSet, basename="model")

MODEL = rf"^models/(?P<pk>{UUID_RE})"


def _action(path: str, view, actions: dict[str, str], name: str):
    """One action route of a model; the trailing slash is optional."""
    return re_path(rf"{MODEL}/{path}/?$", view.as_view(actions), name=name)


urlpatterns = [
    re_path(
        r"^models/upload/?$",
        views.ModelUploadView.as_view({"post": "create"}),
        name="model-upload",
    ),
    _action("download", views.ModelDownloadView, {"get": "retrieve"}, "model-download"),
    _action("predict", views.ModelPredictView, {"post": "predict"}, "model-predict"),
    _action("card", views.ModelCardView, {"get": "retrieve"}, "model-card"),
    _action("graph", views.ModelGraphView, {"get": "retrieve"}, "model-graph"),
    _action("aliases", views.ModelAliasView, {"post": "create"}, "model-aliases"),
    _action("aliases/(?P<alias>[^/]+)", views.ModelAliasView, {"delete": "destroy"}, "model-alias"),
    *router.urls,
]
