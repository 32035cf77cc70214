"""Turning a stored model file into something that predicts on a DataFrame.

No Django here either, so a fresh process (or a test subprocess) can load a stored
file with exactly the code the web process uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .fastpath import compile_pipeline
from .features import rows_to_columns, rows_to_frame
from .row_warnings import RowWarnings, known_categories
from .serialization import (
    ModelFileError,
    TorchBundle,
    bundle_loads,
    skops_loads,
    spec_fits_weights,
    state_dict_check,
)

SKOPS = "skops"
BUNDLE = "mlbundle"


@dataclass
class LoadedModel:
    """A loaded model: `predict` / `predict_proba` on a raw DataFrame (extra columns are
    ignored), with the decision threshold applied to binary classifiers."""

    pipeline: Any
    task: str
    feature_schema: list[dict]
    classes: list | None
    threshold: float | None = None
    positive_class: Any = None
    # How the threshold was chosen (youden, sensitivity>=0.9, ...); None when not recorded.
    threshold_rule: str | None = None
    # Intra-op threads for a torch network's forward pass. A web process serves many
    # small requests: torch's spinning thread pool then costs more than it saves
    # (measured 2x slower at 1,000 rows on 2 cores), so one thread unless configured.
    torch_threads: int = 1

    def __post_init__(self) -> None:
        fitted_on = getattr(self.pipeline, "feature_names_in_", None)
        self.input_columns = (
            [str(name) for name in fitted_on]
            if fitted_on is not None
            else [entry["name"] for entry in self.feature_schema]
        )
        # Worked out once per loaded model, not on every predict.
        self._by_name = fitted_on is not None
        self._has_proba = self.task == "classification" and hasattr(self.pipeline, "predict_proba")
        self._uses_threshold = (
            self.threshold is not None and self._has_proba and len(self.classes or []) == 2
        )
        self._binary = self._has_proba and len(self.classes or []) == 2
        self._warnings = RowWarnings(self.feature_schema, known_categories(self.pipeline))
        final = final_estimator(self.pipeline)
        self._is_torch = hasattr(final, "module") and hasattr(final, "spec")
        self._compiled = None
        if self._by_name:
            with self._threads():
                self._compiled = compile_pipeline(self.pipeline, self._probe())

    def _probe(self) -> pd.DataFrame:
        """Two rows the schema accepts (values, then nulls where allowed), for
        `compile_pipeline` to check the fast path against the pipeline."""
        values = {"number": 0.5, "integer": 1, "boolean": True}
        rows = [{}, {}]
        for entry in self.feature_schema:
            value = values.get(entry["type"], "probe")
            rows[0][entry["name"]] = value
            rows[1][entry["name"]] = None if entry.get("nullable", True) else value
        return self._inputs(rows_to_frame(rows, self.feature_schema))

    def _inputs(self, data: pd.DataFrame | dict[str, np.ndarray]) -> Any:
        """What the model reads: the fast path takes the columns as they are; the
        pipeline, a DataFrame of its own columns or, when it was fitted on a bare
        array (e.g. an uploaded state dict), a float32 array in schema order."""
        if self._compiled is not None:
            return data
        if not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(data, copy=False)
        if self._by_name:
            return data[self.input_columns]
        return data[self.input_columns].to_numpy(dtype=np.float32)

    def predict_proba(self, data: pd.DataFrame | dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities for a DataFrame or {column: array} (extra columns ignored)."""
        if not self._has_proba:
            raise AttributeError("this model has no class probabilities")
        model = self._compiled or self.pipeline
        with self._threads():
            return np.asarray(model.predict_proba(self._inputs(data)))

    def predict(self, data: pd.DataFrame | dict[str, np.ndarray]) -> np.ndarray:
        if self._uses_threshold:
            proba = self.predict_proba(data)
            return self._threshold_labels(proba)
        model = self._compiled or self.pipeline
        with self._threads():
            return np.asarray(model.predict(self._inputs(data)))

    @contextmanager
    def _threads(self) -> Iterator[None]:
        if not self._is_torch:
            yield
            return
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _threshold_labels(self, proba: np.ndarray) -> np.ndarray:
        """The positive class where its probability reaches the threshold, else the other."""
        classes = list(self.classes or [])
        positive = classes.index(self.positive_class) if self.positive_class in classes else 1
        labels = np.asarray([classes[1 - positive], classes[positive]], dtype=object)
        return labels[(proba[:, positive] >= self.threshold).astype(int)]

    def predict_rows(self, rows: Sequence[Any]) -> dict[str, Any]:
        """Validate JSON rows and answer {predictions, probabilities?, classes?,
        threshold?, positive_class?, threshold_rule?, warnings} (see row_warnings)."""
        data = rows_to_columns(rows, self.feature_schema)
        out: dict[str, Any] = {}
        if self._has_proba:
            proba = self.predict_proba(data)
            if self._uses_threshold:
                predictions = self._threshold_labels(proba)
            else:
                predictions = np.asarray(self.classes, dtype=object)[np.argmax(proba, axis=1)]
            out["predictions"] = [_plain(value) for value in predictions]
            out["probabilities"] = np.round(proba, 6).tolist()
            out["classes"] = list(self.classes or [])
            if self._binary:
                out.update(self.operating_point())
        else:
            out["predictions"] = [_plain(value) for value in self.predict(data)]
        out["warnings"] = self._warnings.check(rows, data)
        return out

    def operating_point(self) -> dict[str, Any]:
        """A binary classifier's {threshold, positive_class, threshold_rule}: threshold
        None when the most probable class decides (no threshold was registered)."""
        classes = list(self.classes or [])
        positive = self.positive_class if self.positive_class in classes else classes[1]
        return {
            "threshold": self.threshold if self._uses_threshold else None,
            "positive_class": _plain(positive),
            "threshold_rule": self.threshold_rule if self._uses_threshold else None,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def final_estimator(pipeline: Any) -> Any:
    """The last step of a Pipeline, or the estimator itself."""
    return pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline


def classes_of(estimator: Any) -> list | None:
    classes = getattr(estimator, "classes_", None)
    return None if classes is None else [_plain(label) for label in classes]


def pipeline_from_bytes(data: bytes, *, file_format: str) -> Any:
    """The sklearn-compatible estimator stored in a registry file."""
    if file_format == SKOPS:
        return skops_loads(data)
    if file_format == BUNDLE:
        return pipeline_from_bundle(data)
    raise ModelFileError(f"unknown stored format {file_format!r}")


def pipeline_from_bundle(data: bytes) -> Any:
    return bundle_pipeline(bundle_loads(data))


def bundle_pipeline(bundle: TorchBundle) -> Any:
    """The engine's MLP estimator rebuilt from a bundle, behind its preprocessing."""
    from sklearn.pipeline import Pipeline

    from training.ml.config import ConfigError
    from training.ml.nn import build_mlp, mlp_from_state, validate_spec

    try:
        validate_spec(bundle.architecture)
        spec_fits_weights(bundle.architecture, bundle.state_dict)
        state_dict_check(build_mlp(bundle.architecture), bundle.state_dict)
        estimator = mlp_from_state(
            bundle.architecture, bundle.state_dict, bundle.manifest.get("classes")
        )
    except ConfigError as exc:
        raise ModelFileError(f"architecture.json: {exc}") from None
    if bundle.preprocess is None:
        return estimator
    return Pipeline([("preprocess", bundle.preprocess), ("estimator", estimator)])


def model_from_bytes(
    data: bytes,
    *,
    file_format: str,
    task: str,
    feature_schema: list[dict],
    classes: list | None,
    threshold: float | None = None,
    positive_class: Any = None,
    threshold_rule: str | None = None,
    torch_threads: int = 1,
) -> LoadedModel:
    pipeline = pipeline_from_bytes(data, file_format=file_format)
    return LoadedModel(
        pipeline=pipeline,
        task=task,
        feature_schema=feature_schema,
        classes=classes if classes else classes_of(pipeline),
        threshold=threshold,
        positive_class=positive_class,
        threshold_rule=threshold_rule,
        torch_threads=torch_threads,
    )
