"""Training REST endpoints (DESIGN.md section 4, "Training" and "Visualisation")."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from collaboration.permissions import require_role
from collaboration.viewsets import WorkspaceScopedViewSet

from . import services
from .models import RunStatus, TrainingRun
from .selectors import run_get_for_user, run_history
from .serializers import (
    ConfusionSerializer,
    GraphSerializer,
    MetricsHistorySerializer,
    RunResultsSerializer,
    RunSerializer,
    RunStartSerializer,
    RunStatusSerializer,
)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The run is not in a state that allows this."


def _run(request, run_id) -> TrainingRun:
    return run_get_for_user(user=request.user, run_id=run_id)


class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Runs of the caller's workspaces, newest first; `?workspace=` and `?status=` filter."""

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
        return queryset


class RunStartView(APIView):
    @extend_schema(request=RunStartSerializer, responses={202: RunSerializer})
    def post(self, request):
        from datasets.selectors import dataset_get_for_user

        data = RunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        dataset = dataset_get_for_user(user=request.user, id=fields.pop("dataset"))
        require_role(user=request.user, workspace_id=dataset.workspace_id)
        name = fields.pop("name", "")
        try:
            config = services.run_config_build(dataset=dataset, data=fields)
        except services.RunConfigError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        run = services.run_start(
            user=request.user, dataset=dataset, config=config, name=name, request=request
        )
        run.refresh_from_db()
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunStatusView(APIView):
    @extend_schema(responses=RunStatusSerializer)
    def get(self, request, run_id):
        return Response(RunStatusSerializer(_run(request, run_id)).data)


class RunStopView(APIView):
    @extend_schema(request=None, responses={202: RunStatusSerializer})
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
    @extend_schema(
        responses={200: RunResultsSerializer, 409: OpenApiResponse(description="unfinished")}
    )
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
        return Response(body)


# --- visualisation --------------------------------------------------------------------


class GraphView(APIView):
    @extend_schema(responses=GraphSerializer)
    def get(self, request, run_id):
        graph = (_finished_results(_run(request, run_id))).get("graph")
        if not graph:
            raise Http404
        return Response(graph)


class MetricsView(APIView):
    """The curve so far, live while the run trains; `history` carries each epoch's `seq`."""

    @extend_schema(responses=MetricsHistorySerializer)
    def get(self, request, run_id):
        run = _run(request, run_id)
        history = run_history(run_id=run.pk)
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


class ConfusionView(APIView):
    @extend_schema(responses=ConfusionSerializer)
    def get(self, request, run_id):
        confusion = _finished_results(_run(request, run_id)).get("confusion_matrix")
        if not confusion:
            raise exceptions.NotFound("This run has no confusion matrix (regression).")
        return Response(confusion)


class RocView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, run_id):
        roc = _finished_results(_run(request, run_id)).get("roc_curve")
        if not roc:
            raise exceptions.NotFound("This run has no ROC curve (regression).")
        return Response(roc)
