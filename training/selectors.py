from __future__ import annotations

import json
from dataclasses import dataclass
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
SIZE_SAMPLE = 256  # epochs encoded to learn how long one is


@dataclass(frozen=True)
class SnapshotFrames:
    """A run's snapshot as the socket sends it: JSON text frames, each under the limit."""

    status: str
    seq: int  # the last epoch's in the frames (0 before any)
    texts: list[str]


def run_snapshot_frames(*, run_id) -> SnapshotFrames | None:
    """The snapshot with the first epochs, then the rest in `snapshot_part` messages, each
    history under SNAPSHOT_MAX_BYTES: a long history costs the client a few frames, not
    one each. Every epoch is encoded once, here; the consumer sends the text as it is."""
    snapshot = run_snapshot(run_id=run_id)
    if snapshot is None:
        return None
    history = snapshot.pop("history")
    parts = _encoded_parts(history)
    texts, left = [], len(history)
    for number, (part, text) in enumerate(parts):
        left -= len(part)
        if number == 0:
            head = {**snapshot, "seq": part[-1]["seq"], "more": left} if left else snapshot
        else:
            head = {"type": "snapshot_part", "seq": part[-1]["seq"], "more": left}
        texts.append(_with_history(head, text))
    return SnapshotFrames(status=snapshot["status"], seq=snapshot["seq"], texts=texts)


def _encoded_parts(history: list[dict]) -> list[tuple[list[dict], str]]:
    """`history` cut into runs of epochs with their JSON, each under SNAPSHOT_MAX_BYTES.
    The run's length comes from a sample, with a quarter to spare for longer epochs
    later on; a run that still does not fit is halved. Encoding whole lists is C speed:
    epoch by epoch took 0.24 s for 10,000."""
    sample = history[:SIZE_SAMPLE]
    epoch_bytes = len(json.dumps(sample)) / max(len(sample), 1)
    step = max(1, int(SNAPSHOT_MAX_BYTES / (epoch_bytes * 1.25)))
    parts = []
    for start in range(0, max(len(history), 1), step):
        parts += _fitted(history[start : start + step])
    return parts


def _fitted(part: list[dict]) -> list[tuple[list[dict], str]]:
    text = json.dumps(part)
    if len(text) <= SNAPSHOT_MAX_BYTES or len(part) <= 1:
        return [(part, text)]
    half = len(part) // 2
    return _fitted(part[:half]) + _fitted(part[half:])


def _with_history(head: dict, history_text: str) -> str:
    """`head` as JSON with the encoded history as its last key."""
    return f'{json.dumps(head)[:-1]}, "history": {history_text}}}'


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
