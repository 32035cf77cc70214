from __future__ import annotations

from django.http import Http404

from collaboration.selectors import restrict_to_member

from .events import metrics_message
from .models import RunMetric, TrainingRun


def runs_for_user(*, user):
    return restrict_to_member(TrainingRun.objects.all(), user=user)


def run_get_for_user(*, user, run_id) -> TrainingRun:
    """The run if the user belongs to its workspace; Http404 otherwise."""
    try:
        return runs_for_user(user=user).select_related("dataset", "workspace").get(pk=run_id)
    except (TrainingRun.DoesNotExist, ValueError):
        raise Http404 from None


def run_history(*, run_id, after_seq: int = 0) -> list[dict]:
    """Every recorded epoch of a run as stream `metrics` messages, in order."""
    rows = RunMetric.objects.filter(run_id=run_id, seq__gt=after_seq).order_by("seq")
    return [
        metrics_message(
            seq=row.seq, epoch=row.epoch, values=row.values, timestamp=row.created_at.isoformat()
        )
        for row in rows
    ]


def run_snapshot(*, run_id) -> dict | None:
    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    history = run_history(run_id=run_id)
    return {
        "type": "snapshot",
        "status": run.status,
        "seq": history[-1]["seq"] if history else 0,
        "progress": run.progress or {},
        "history": history,
    }
