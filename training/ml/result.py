"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .jsonsafe import json_safe

SUCCEEDED = "succeeded"
STOPPED = "stopped"


@dataclass
class TrainResult:
    """The outcome of :func:`training.ml.train`.

    ``status`` is ``"succeeded"`` or ``"stopped"`` (``should_stop`` said so; the partial
    model is still evaluated when at least one stage finished, otherwise ``pipeline`` is
    None and the artefacts are empty). ``pipeline`` is ``Pipeline([("preprocess", ...),
    ("model", ...)])`` and predicts raw DataFrame rows. ``split_index`` holds the index
    labels of the rows in each split. Everything else is JSON-safe; :meth:`to_dict`
    returns it all but the pipeline and the split index.
    """

    status: str
    task: str
    model_type: str
    pipeline: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    confusion_matrix: dict[str, Any] | None = None
    roc_curve: dict[str, Any] | None = None
    pr_curve: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    threshold: dict[str, Any] | None = None
    residuals: dict[str, Any] | None = None
    predictions_sample: dict[str, Any] | None = None
    feature_importance: dict[str, Any] | None = None
    subgroup_metrics: dict[str, Any] | None = None
    training_history: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] | None = None
    feature_schema: list[dict[str, str]] = field(default_factory=list)
    class_labels: list[Any] | None = None
    positive_class: Any = None
    #: Every candidate column left out of the features: {name, reason}.
    excluded_columns: list[dict[str, str]] = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    n_rows_without_target: int = 0
    duration: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    split_index: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary: every field but ``pipeline`` and ``split_index``."""
        skip = {"pipeline", "split_index"}
        return json_safe({name: value for name, value in vars(self).items() if name not in skip})
