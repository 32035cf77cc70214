"""Messages on `/ws/training/{run_id}` (DESIGN.md section 5), declared once.

The worker sends these to `training_group(run_id)` after its database write has
committed; the consumer forwards them to every client as JSON.
"""

from typing import Any, Literal, NotRequired

# typing_extensions' TypedDict: pydantic reads it on Python 3.11 (contracts.py's schema).
from typing_extensions import TypedDict

RunStatusName = Literal["queued", "running", "stopping", "succeeded", "failed", "stopped"]


def training_group(run_id) -> str:
    """Channel-layer group of one run's stream (ids only, never user text)."""
    return f"training.{run_id}"


class RunProgress(TypedDict, total=False):
    """How far a run is (empty before its first stage); `epoch` counts stages for
    models that have no epochs (trees added, boosting iterations)."""

    epoch: int | None
    total_epochs: int | None
    fraction: float | None


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
    mae: NotRequired[float | None]
    val_mae: NotRequired[float | None]


class SnapshotMessage(TypedDict):
    """The first message: the run so far. `seq` is the last epoch's in `history` (0
    before any). A history too long for one frame is cut: `more` says how many of the
    next epochs follow at once in `snapshot_part` messages, before anything live."""

    type: Literal["snapshot"]
    status: RunStatusName
    seq: int
    progress: RunProgress
    history: list[MetricsMessage]
    more: NotRequired[int]


class SnapshotPartMessage(TypedDict):
    """The next epochs of a snapshot too long for one frame, in order. `seq` is the last
    epoch's in `history`; `more` counts the epochs still to come (0 on the last part)."""

    type: Literal["snapshot_part"]
    seq: int
    history: list[MetricsMessage]
    more: int


class StatusMessage(TypedDict):
    type: Literal["status"]
    status: RunStatusName
    error: NotRequired[str]


class ClassMetrics(TypedDict):
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


class RunMetrics(TypedDict, total=False):
    """Test-split metrics, as GET /api/train/results/{id} has them (`Metrics` in the
    OpenAPI schema): which keys depends on the task and the number of classes."""

    n_test: int
    accuracy: float | None
    balanced_accuracy: float | None
    precision_macro: float | None
    recall_macro: float | None
    f1_macro: float | None
    mcc: float | None
    log_loss: float | None
    per_class: dict[str, ClassMetrics]
    sensitivity: float | None
    specificity: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    roc_auc_micro: float | None
    average_precision: float | None
    average_precision_micro: float | None
    brier_score: float | None
    mae: float | None
    mse: float | None
    rmse: float | None
    r2: float | None


class RunSummary(TypedDict):
    """services.results_summary: the headline; the full results are a REST call away."""

    status: RunStatusName
    task: Literal["classification", "regression"] | None
    metrics: RunMetrics
    model: str | None  # the registered model's id


class CompletedMessage(TypedDict):
    type: Literal["completed"]
    results: RunSummary


class ErrorMessage(TypedDict):
    type: Literal["error"]
    message: str


class PongMessage(TypedDict):
    """The answer to a client's ping."""

    type: Literal["pong"]


class PingMessage(TypedDict):
    """The one thing a client may send: a keep-alive, answered with a pong."""

    type: Literal["ping"]


TrainingServerMessage = (
    SnapshotMessage
    | SnapshotPartMessage
    | MetricsMessage
    | StatusMessage
    | CompletedMessage
    | ErrorMessage
    | PongMessage
)
TrainingClientMessage = PingMessage


MESSAGE_TYPES = {
    "snapshot": SnapshotMessage,
    "snapshot_part": SnapshotPartMessage,
    "metrics": MetricsMessage,
    "status": StatusMessage,
    "completed": CompletedMessage,
    "error": ErrorMessage,
    "pong": PongMessage,
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
