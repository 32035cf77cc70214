from django.urls import re_path

from collaboration.viewsets import UUID_RE, OptionalSlashRouter

from . import views

UUID = rf"(?P<run_id>{UUID_RE})"

router = OptionalSlashRouter()
router.register("train", views.TrainingRunViewSet, basename="training-run")

urlpatterns = [
    re_path(r"^train/start/?$", views.RunStartView.as_view(), name="train-start"),
    re_path(r"^train/model-types/?$", views.ModelTypesView.as_view(), name="train-model-types"),
    re_path(rf"^train/status/{UUID}/?$", views.RunStatusView.as_view(), name="train-status"),
    re_path(rf"^train/stop/{UUID}/?$", views.RunStopView.as_view(), name="train-stop"),
    re_path(rf"^train/results/{UUID}/?$", views.RunResultsView.as_view(), name="train-results"),
    re_path(rf"^viz/graph/{UUID}/?$", views.GraphView.as_view(), name="viz-graph"),
    re_path(rf"^viz/metrics/{UUID}/?$", views.MetricsView.as_view(), name="viz-metrics"),
    re_path(rf"^viz/confusion/{UUID}/?$", views.ConfusionView.as_view(), name="viz-confusion"),
    re_path(rf"^viz/roc/{UUID}/?$", views.RocView.as_view(), name="viz-roc"),
    *router.urls,
]
