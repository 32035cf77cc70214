from __future__ import annotations

import json
from typing import Any

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
    """Every recorded epoch of a run as stream `metrics` messages, in order. Read as
    tuples, not model instances: a 10,000-epoch history is read for every late joiner."""
    rows = (
        RunMetric.objects.filter(run_id=run_id, seq__gt=after_seq)
        .order_by("seq")
        .values_list("seq", "epoch", "values", "created_at")
    )
    return [
        metrics_message(seq=seq, epoch=epoch, values=values, timestamp=created_at.isoformat())
        for seq, epoch, values, created_at in rows
    ]


def run_snapshot(*, run_id) -> dict | None:
    run = TrainingRun.objects.filter(pk=run_id).only("status", "progress").first()
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


# daphne refuses to send a WebSocket message over 1 MiB (autobahn's payload limit, which
# also bounds what clients send): a 10,000-epoch snapshot is 2.3 MB. Half of it leaves
# room for the keys around the history and for escaping.
SNAPSHOT_MAX_BYTES = 512 * 1024


def run_snapshot_frames(*, run_id) -> list[dict] | None:
    """The snapshot as the messages that carry it: the snapshot with as many of the
    first epochs as fit SNAPSHOT_MAX_BYTES, then the rest in `snapshot_part` messages
    of the same size, so a long history costs the client a few frames, not one each."""
    snapshot = run_snapshot(run_id=run_id)
    if snapshot is None:
        return None
    history = snapshot["history"]
    if len(json.dumps(history)) <= SNAPSHOT_MAX_BYTES:  # nearly always: one C-speed pass
        return [snapshot]
    parts, size, start = [], 0, 0
    for index, message in enumerate(history):
        length = len(json.dumps(message)) + 2  # ", " as in the whole list's encoding
        if size + length > SNAPSHOT_MAX_BYTES and index > start:
            parts.append(history[start:index])
            size, start = 0, index
        size += length
    parts.append(history[start:])
    frames, left = [], len(history)
    for number, part in enumerate(parts):
        left -= len(part)
        frame = {"seq": part[-1]["seq"], "history": part, "more": left}
        if number == 0:
            frames.append({**snapshot, **frame})
        else:
            frames.append({"type": "snapshot_part", **frame})
    return frames


def model_type_specs() -> list[dict[str, Any]]:
    """The engine's model specs (training/ml/config.py) as the web form reads them: each
    model type with its tasks and hyperparameters, defaults and choices given per task.

    Read on each call from MODEL_TYPES and HYPERPARAMETERS, so there is no second copy
    to fall out of step. The engine is imported here, not at module level: the web
    process loads scikit-learn only when it needs it.
    """
    from training.ml.config import HYPERPARAMETERS, MODEL_TYPES

    types = []
    for model_type, model_tasks in MODEL_TYPES.items():
        parameters = []
        for name, spec in HYPERPARAMETERS[model_type].items():
            tasks = [task for task in model_tasks if task in spec.tasks]
            parameters.append(
                {
                    "name": name,
                    "kind": spec.kind,
                    "tasks": tasks,
                    "default": {task: _plain(spec.default_for(task)) for task in tasks},
                    "choices": {task: list(spec.choices_for(task)) for task in tasks},
                    "minimum": spec.minimum,
                    "maximum": spec.maximum,
                    "exclusive_minimum": spec.exclusive_minimum,
                    "exclusive_maximum": spec.exclusive_maximum,
                    "nullable": spec.nullable,
                    "help": spec.help,
                }
            )
        types.append(
            {"model_type": model_type, "tasks": list(model_tasks), "hyperparameters": parameters}
        )
    return types


def _plain(value: Any) -> Any:
    """A default as JSON has it: the hidden layers' tuple becomes a list."""
    return list(value) if isinstance(value, tuple) else value
