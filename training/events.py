"""Messages on `/ws/training/{run_id}` (DESIGN.md section 5), declared once.

The worker sends these to `training_group(run_id)` after its database write has
committed; the consumer forwards them to every client as JSON.
"""

from typing import Any, Literal, NotRequired, TypedDict


def training_group(run_id) -> str:
    """Channel-layer group of one run's stream (ids only, never user text)."""
    return f"training.{run_id}"


class SnapshotMessage(TypedDict):
    type: Literal["snapshot"]
    status: str
    seq: int
    progress: dict
    history: list[dict]


class MetricsMessage(TypedDict):
    """One epoch or stage. Classification carries loss / accuracy / val_loss /
    val_accuracy; regression carries its own names (loss, val_loss, mae, val_mae)."""

    type: Literal["metrics"]
    seq: int
    epoch: int
    timestamp: str
    loss: NotRequired[float | None]
    accuracy: NotRequired[float | None]
    val_loss: NotRequired[float | None]
    val_accuracy: NotRequired[float | None]


class StatusMessage(TypedDict):
    type: Literal["status"]
    status: str
    error: NotRequired[str]


class CompletedMessage(TypedDict):
    type: Literal["completed"]
    results: dict[str, Any]


class ErrorMessage(TypedDict):
    type: Literal["error"]
    message: str


MESSAGE_TYPES = {
    "snapshot": SnapshotMessage,
    "metrics": MetricsMessage,
    "status": StatusMessage,
    "completed": CompletedMessage,
    "error": ErrorMessage,
}


def metrics_message(*, seq: int, epoch: int, values: dict, timestamp: str) -> MetricsMessage:
    message: dict[str, Any] = {k: v for k, v in values.items() if k not in ("type", "seq")}
    message.update(type="metrics", seq=seq, epoch=epoch, timestamp=timestamp)
    return message  # type: ignore[return-value]


def check_message(message: dict) -> None:
    """Raise ValueError when a message does not match its declared shape (used by tests)."""
    schema = MESSAGE_TYPES.get(message.get("type"))
    if schema is None:
        raise ValueError(f"unknown message type {message.get('type')!r}")
    required = schema.__required_keys__
    missing = required - message.keys()
    if missing:
        raise ValueError(f"{message['type']} message lacks {sorted(missing)}")
    if message["type"] != "metrics":
        extra = message.keys() - schema.__annotations__.keys()
        if extra:
            raise ValueError(f"{message['type']} message has undeclared keys {sorted(extra)}")
