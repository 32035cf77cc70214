"""The engine's pipelines evaluated without scikit-learn's per-call dispatch.

A registered engine model is ``Pipeline([("preprocess", ColumnTransformer), ("estimator",
model)])``. For one row, almost none of ``pipeline.predict_proba``'s time is arithmetic:
the ColumnTransformer and a forest each go through joblib's ``Parallel`` with one
configuration context per task (one per transformer, one per tree), and a 100-tree
random forest spends about 12x longer in that machinery than in its trees. Here the
same fitted objects are called directly, in the same order:

* the ColumnTransformer: each fitted transformer's ``transform`` on its own columns,
  stacked left to right, as ``ColumnTransformer.transform`` does for dense output;
* a forest: every tree's ``predict_proba`` / ``predict`` summed in order and divided
  by the tree count, as the forest's own sequential path accumulates them.

``compile_pipeline`` returns None for anything else (an uploaded pipeline of another
shape, pandas output, passthrough columns, sparse output), and the caller keeps the
plain pipeline. It also returns None unless the fast path gives the pipeline's own
numbers, bit for bit, on probe rows: a scikit-learn upgrade that changed either
algorithm would turn the fast path off rather than change a prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)


@dataclass(frozen=True)
class CompiledPipeline:
    """``transform`` -> model input; ``predict_proba`` / ``predict`` on raw rows."""

    transform: Callable[[pd.DataFrame], np.ndarray]
    proba: Callable[[np.ndarray], np.ndarray] | None
    predict_values: Callable[[np.ndarray], np.ndarray]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.proba is None:
            raise AttributeError("this model has no class probabilities")
        return self.proba(self.transform(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_values(self.transform(frame))


def compile_pipeline(pipeline: Any, probe: pd.DataFrame) -> CompiledPipeline | None:
    """A fast evaluator for an engine-shaped pipeline, or None (see the module doc)."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2:
        return None
    transform = _column_transform(steps[0][1])
    if transform is None:
        return None
    final = steps[1][1]
    proba, predict_values = _forest_methods(final)
    if predict_values is None:
        predict_values = final.predict
        proba = getattr(final, "predict_proba", None)
    compiled = CompiledPipeline(transform=transform, proba=proba, predict_values=predict_values)
    return compiled if _same_results(compiled, pipeline, probe) else None


def _column_transform(step: Any) -> Callable[[pd.DataFrame], np.ndarray] | None:
    if type(step) is not ColumnTransformer or step.sparse_threshold != 0:
        return None
    if getattr(step, "_sklearn_output_config", {}).get("transform", "default") != "default":
        return None  # set_output(transform="pandas"): the estimator may read column names
    parts = []
    for _name, transformer, columns in step.transformers_:
        if isinstance(transformer, str):
            if transformer == "drop":
                continue
            return None  # "passthrough": left to ColumnTransformer itself
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            return None
        if columns:  # ColumnTransformer skips a transformer with no columns
            parts.append((transformer.transform, columns))
    if not parts:
        return None

    def transform(frame: pd.DataFrame) -> np.ndarray:
        return np.hstack([np.asarray(method(frame[columns])) for method, columns in parts])

    return transform


def _forest_methods(final: Any) -> tuple[Any, Any]:
    """(predict_proba, predict) for a fitted single-output forest, else (None, None)."""
    trees = getattr(final, "estimators_", None)
    if not trees or getattr(final, "n_outputs_", 1) != 1:
        return None, None
    count = len(trees)

    if type(final) in (RandomForestClassifier, ExtraTreesClassifier):
        classes = final.classes_

        def proba(X: np.ndarray) -> np.ndarray:
            X = np.asarray(X, dtype=np.float32)
            out = np.zeros((X.shape[0], final.n_classes_), dtype=np.float64)
            for tree in trees:
                out += tree.predict_proba(X, check_input=False)
            out /= count
            return out

        def predict(X: np.ndarray) -> np.ndarray:
            return classes.take(np.argmax(proba(X), axis=1), axis=0)

        return proba, predict

    if type(final) in (RandomForestRegressor, ExtraTreesRegressor):

        def predict_regression(X: np.ndarray) -> np.ndarray:
            X = np.asarray(X, dtype=np.float32)
            out = np.zeros(X.shape[0], dtype=np.float64)
            for tree in trees:
                out += tree.predict(X, check_input=False)
            out /= count
            return out

        return None, predict_regression
    return None, None


def _same_results(compiled: CompiledPipeline, pipeline: Any, probe: pd.DataFrame) -> bool:
    try:
        if compiled.proba is not None:
            fast, slow = compiled.predict_proba(probe), pipeline.predict_proba(probe)
        else:
            fast, slow = compiled.predict(probe), pipeline.predict(probe)
        return _equal(fast, slow) and _equal(compiled.predict(probe), pipeline.predict(probe))
    except Exception:  # noqa: BLE001 - any failure means: use the pipeline as it is
        return False


def _equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
