"""Training REST endpoints (DESIGN.md section 4, "Training" and "Visualisation")."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from collaboration.permissions import require_role
from collaboration.renderers import CSVRenderer, attachment_filename
from collaboration.viewsets import WorkspaceScopedViewSet, error_response, parse_uuid

from . import services
from .models import RunStatus, TrainingRun
from .selectors import model_type_specs, run_get_for_user, run_history
from .serializers import (
    ConfusionSerializer,
    GraphSerializer,
    MetricsHistorySerializer,
    ModelTypesSerializer,
    RocCurveSerializer,
    RunResultsSerializer,
    RunSerializer,
    RunStartSerializer,
    RunStatusSerializer,
)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The run is not in a state that allows this."


class TooManyRuns(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_runs"
    default_detail = "Too many runs are queued or running."


TOO_MANY_RUNS = error_response(
    "Throttled (Retry-After), or the caller or the workspace has as many runs queued or "
    "running as allowed (`too_many_runs`; the detail says how many are waiting)."
)
NO_RESULTS = error_response("The run has not finished, or it failed, so it has no results.")
ALREADY_FINISHED = error_response("The run has already finished.")


def _run(request, run_id) -> TrainingRun:
    return run_get_for_user(user=request.user, run_id=run_id)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("workspace", OpenApiTypes.UUID, description="Only this workspace."),
            OpenApiParameter("status", str, enum=RunStatus.values, description="Only runs in it."),
            OpenApiParameter("dataset", OpenApiTypes.UUID, description="Only runs on it."),
            OpenApiParameter("model_type", str, description="Only this model type."),
        ]
    )
)
class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Runs of the caller's workspaces, newest first; `?workspace=`, `?status=`,
    `?dataset=` and `?model_type=` filter."""

    queryset = TrainingRun.objects.select_related("created_by")
    serializer_class = RunSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in RunStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"Must be one of {', '.join(RunStatus.values)}."]}
                )
            queryset = queryset.filter(status=wanted)
        dataset = self.request.query_params.get("dataset")
        if dataset:
            queryset = queryset.filter(dataset_id=parse_uuid(dataset, field="dataset"))
        model_type = self.request.query_params.get("model_type")
        if model_type:
            queryset = queryset.filter(model_type=model_type)
        return queryset


class ModelTypesView(APIView):
    """The engine's model types, their tasks and hyperparameters: the one source of the
    choices, limits and defaults that the web form offers."""

    @extend_schema(responses=ModelTypesSerializer)
    def get(self, request):
        return Response({"model_types": model_type_specs()})


class RunStartView(APIView):
    @extend_schema(request=RunStartSerializer, responses={202: RunSerializer, 429: TOO_MANY_RUNS})
    def post(self, request):
        from datasets.selectors import dataset_get_for_user

        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        dataset = dataset_get_for_user(user=request.user, id=fields.pop("dataset"))
        require_role(user=request.user, workspace_id=dataset.workspace_id)
        name = fields.pop("name", "")
        try:
            config = services.run_config_build(
                dataset=dataset, data=fields, user=request.user, request=request
            )
        except services.RunConfigError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        try:
            run = services.run_start(
                user=request.user, dataset=dataset, config=config, name=name, request=request
            )
        except services.RunLimit as exc:
            raise TooManyRuns(str(exc)) from None
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunStatusView(APIView):
    @extend_schema(responses=RunStatusSerializer)
    def get(self, request, run_id):
        return Response(RunStatusSerializer(_run(request, run_id)).data)


class RunStopView(APIView):
    @extend_schema(request=None, responses={202: RunStatusSerializer, 409: ALREADY_FINISHED})
    def post(self, request, run_id):
        run = _run(request, run_id)
        require_role(user=request.user, workspace_id=run.workspace_id)
        try:
            run = services.run_stop(run=run, user=request.user, request=request)
        except services.RunConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(RunStatusSerializer(run).data, status=status.HTTP_202_ACCEPTED)


def _finished_results(run: TrainingRun) -> dict:
    if run.status == RunStatus.FAILED:
        raise Conflict(f"The run failed and has no results: {run.error}")
    if not run.is_finished or not run.results:
        raise Conflict(f"The run has no results yet (status: {run.status}).")
    return run.results


class RunResultsView(APIView):
    @extend_schema(responses={200: RunResultsSerializer, 409: NO_RESULTS})
    def get(self, request, run_id):
        run = _run(request, run_id)
        results = _finished_results(run)
        body = {
            key: results.get(key)
            for key in (
                "metrics",
                "confusion_matrix",
                "roc_curve",
                "pr_curve",
                "calibration",
                "threshold",
                "feature_importance",
                "subgroup_metrics",
                "training_history",
            )
        }
        body["model"] = {
            "id": str(run.model_id) if run.model_id else None,
            "model_type": run.model_type,
            "task": run.task,
            **(results.get("model") or {}),
        }
        body["status"] = run.status
        body["positive_class"] = results.get("positive_class")
        body["excluded_columns"] = results.get("excluded_columns") or []
        return Response(body)


# --- visualisation --------------------------------------------------------------------


class GraphView(APIView):
    @extend_schema(responses={200: GraphSerializer, 409: NO_RESULTS})
    def get(self, request, run_id):
        graph = (_finished_results(_run(request, run_id))).get("graph")
        if not graph:
            raise Http404
        return Response(graph)


class MetricsView(APIView):
    """The curve so far, live while the run trains; `history` carries each epoch's `seq`.
    `?format=csv`: the history as a CSV attachment, one row per epoch."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(responses=MetricsHistorySerializer)
    def get(self, request, run_id):
        run = _run(request, run_id)
        history = run_history(run_id=run.pk)
        if request.accepted_renderer.format == "csv":
            self.csv_filename = attachment_filename(f"{run.name or 'run'}-{run.pk}-metrics")
            return Response(_history_table(history))
        body = {
            "status": run.status,
            "epochs": [m["epoch"] for m in history],
            "train_loss": [m.get("loss") for m in history],
            "val_loss": [m.get("val_loss") for m in history],
            "train_accuracy": [m.get("accuracy", m.get("mae")) for m in history],
            "val_accuracy": [m.get("val_accuracy", m.get("val_mae")) for m in history],
            "history": history,
        }
        return Response(body)


def _history_table(history: list[dict]) -> dict:
    """The stream's metrics messages as {columns, rows}: every key any epoch has, the
    usual curves first, then the rest by name (jsonb keeps no key order)."""
    curves = ["loss", "val_loss", "accuracy", "val_accuracy"]
    keys = {k for message in history for k in message} - {"type", "epoch", "seq", "timestamp"}
    columns = ["epoch", "seq", *(k for k in curves if k in keys), *sorted(keys - set(curves))]
    columns.append("timestamp")
    return {"columns": columns, "rows": [[m.get(c) for c in columns] for m in history]}


class ConfusionView(APIView):
    @extend_schema(responses={200: ConfusionSerializer, 409: NO_RESULTS})
    def get(self, request, run_id):
        confusion = _finished_results(_run(request, run_id)).get("confusion_matrix")
        if not confusion:
            raise exceptions.NotFound("This run has no confusion matrix (regression).")
        return Response(confusion)


class RocView(APIView):
    @extend_schema(responses={200: RocCurveSerializer, 409: NO_RESULTS})
    def get(self, request, run_id):
        roc = _finished_results(_run(request, run_id)).get("roc_curve")
        if not roc:
            raise exceptions.NotFound("This run has no ROC curve (regression).")
        return Response(roc)
