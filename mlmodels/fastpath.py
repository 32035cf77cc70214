"""The engine's pipelines evaluated without scikit-learn's per-call dispatch.

A registered engine model is ``Pipeline([("preprocess", ColumnTransformer), ("estimator",
model)])``. For one row, almost none of ``pipeline.predict_proba``'s time is arithmetic:
the ColumnTransformer and a forest each go through joblib's ``Parallel`` with one
configuration context per task (one per transformer, one per tree), and a 100-tree
random forest spends about 12x longer in that machinery than in its trees. Here the
same fitted objects are called directly, in the same order:

* the ColumnTransformer: each fitted transformer on its own columns, stacked left to
  right, as ``ColumnTransformer.transform`` does for dense output. The engine's two
  column pipelines are not even called: each of their five steps validates its input
  and converts it through pandas, about 3 ms a step whatever the row count. A numeric
  ``SimpleImputer(mean | median)`` -> ``StandardScaler`` is the same three array
  operations in the same order (fill, subtract, divide); a categorical ``text ->
  impute -> one-hot`` pipeline is a function of each cell's text alone, so it becomes
  a table: the pipeline's own output for every category it knows, for a missing
  cell and for an unseen one, looked up per row;
* a forest: every tree's ``predict_proba`` / ``predict`` summed in order and divided
  by the tree count, as the forest's own sequential path accumulates them.

``compile_pipeline`` returns None for anything else (an uploaded pipeline of another
shape, pandas output, passthrough columns, sparse output), and the caller keeps the
plain pipeline. It also returns None unless the fast path gives the pipeline's own
numbers, bit for bit, on probe rows: a scikit-learn upgrade that changed either
algorithm would turn the fast path off rather than change a prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

# A DataFrame, or {column name: 1-D array} as `features.rows_to_columns` builds it.
Columns = pd.DataFrame | Mapping[str, Any]
Transform = Callable[[Columns], np.ndarray]


@dataclass(frozen=True)
class CompiledPipeline:
    """``transform`` -> model input; ``predict_proba`` / ``predict`` on raw columns (a
    DataFrame or a {name: array} mapping; columns are picked by name)."""

    transform: Transform
    proba: Callable[[np.ndarray], np.ndarray] | None
    predict_values: Callable[[np.ndarray], np.ndarray]

    def predict_proba(self, data: Columns) -> np.ndarray:
        if self.proba is None:
            raise AttributeError("this model has no class probabilities")
        return self.proba(self.transform(data))

    def predict(self, data: Columns) -> np.ndarray:
        return self.predict_values(self.transform(data))


def compile_pipeline(pipeline: Any, probe: pd.DataFrame) -> CompiledPipeline | None:
    """A fast evaluator for an engine-shaped pipeline, or None (see the module doc)."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2:
        return None
    column_transform = _column_transform(steps[0][1])
    if column_transform is None:
        return None
    transform, categories = column_transform
    probe = _with_every_category(probe, categories)
    final = steps[1][1]
    proba, predict_values = _forest_methods(final)
    if predict_values is None:
        predict_values = final.predict
        proba = getattr(final, "predict_proba", None)
    compiled = CompiledPipeline(transform=transform, proba=proba, predict_values=predict_values)
    return compiled if _same_results(compiled, pipeline, probe) else None


def _column_transform(step: Any) -> tuple[Transform, dict[str, list[str]]] | None:
    """The ColumnTransformer's fast equivalent, and the known categories of each column
    it turned into a lookup table (for the probe rows); None if it cannot be had."""
    if type(step) is not ColumnTransformer or step.sparse_threshold != 0:
        return None
    if getattr(step, "_sklearn_output_config", {}).get("transform", "default") != "default":
        return None  # set_output(transform="pandas"): the estimator may read column names
    parts = []
    categories: dict[str, list[str]] = {}
    for _name, transformer, columns in step.transformers_:
        if isinstance(transformer, str):
            if transformer == "drop":
                continue
            return None  # "passthrough": left to ColumnTransformer itself
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            return None
        if not columns:  # ColumnTransformer skips a transformer with no columns
            continue
        table = _category_table(transformer, columns)
        if table is not None:
            categories[columns[0]] = table.categories
        parts.append(table or _numeric_steps(transformer, columns) or _as_is(transformer, columns))
    if not parts:
        return None

    def transform(data: Columns) -> np.ndarray:
        return np.hstack([part(data) for part in parts])

    return transform, categories


def _as_is(transformer: Any, columns: list[str]) -> Transform:
    method = transformer.transform

    def transform(data: Columns) -> np.ndarray:
        if isinstance(data, pd.DataFrame):
            return np.asarray(method(data[columns]))
        return np.asarray(method(pd.DataFrame({name: data[name] for name in columns})))

    return transform


def _steps(transformer: Any) -> list[Any]:
    if type(transformer) is Pipeline:
        return [step for _name, step in transformer.steps]
    return [transformer]


def _imputes_nan(step: Any, strategies: tuple[str, ...]) -> bool:
    if type(step) is not SimpleImputer:
        return False
    missing = step.missing_values
    return (
        step.strategy in strategies
        and not step.add_indicator
        and isinstance(missing, float)
        and np.isnan(missing)
    )


def _numeric_steps(transformer: Any, columns: list[str]) -> Transform | None:
    """SimpleImputer(mean | median) and StandardScaler steps as array operations, or
    None. The same operations scikit-learn's ``transform`` methods run on the float64
    array they validate, in the same order, so the same bits come out."""
    # (ufunc, operand) pairs applied in place; None for the imputer's fill.
    operations: list[tuple[Any, np.ndarray]] = []
    for step in _steps(transformer):
        if _imputes_nan(step, ("mean", "median")):
            statistics = np.asarray(step.statistics_, dtype=np.float64)
            if getattr(step, "_fill_dtype", np.float64) != np.float64:
                return None
            if not step.keep_empty_features and not np.isfinite(statistics).all():
                return None  # it would drop the empty columns
            operations.append((None, statistics))
        elif type(step) is StandardScaler:
            if step.with_mean and step.mean_ is not None:
                operations.append((np.subtract, np.asarray(step.mean_, dtype=np.float64)))
            if step.with_std and step.scale_ is not None:
                operations.append((np.divide, np.asarray(step.scale_, dtype=np.float64)))
        else:
            return None
    if not operations:
        return None
    slow = _as_is(transformer, columns)

    def transform(data: Columns) -> np.ndarray:
        arrays = [np.asarray(data[name]) for name in columns]
        if any(array.dtype.kind not in "fiub" or array.ndim != 1 for array in arrays):
            return slow(data)  # scikit-learn's own conversion (and errors) for the rest
        X = np.empty((len(arrays[0]), len(columns)), dtype=np.float64)
        for position, array in enumerate(arrays):
            X[:, position] = array
        for ufunc, operand in operations:
            if ufunc is None:
                np.copyto(X, operand, where=np.isnan(X))
            else:
                ufunc(X, operand, out=X)
        return X

    return transform


def _category_table(transformer: Any, columns: list[str]) -> Transform | None:
    """The engine's ``categories_as_text -> SimpleImputer -> OneHotEncoder`` pipeline on
    one column as a lookup table, or None. Every step maps a cell by its text alone, so
    the pipeline's own output for each known category, for a missing cell and for one
    it has never seen is the whole function."""
    from training.ml.preprocessing import categories_as_text

    steps = _steps(transformer)
    if len(columns) != 1 or len(steps) < 2:
        return None
    text, *middle, encoder = steps
    if type(text) is not FunctionTransformer or text.func is not categories_as_text:
        return None
    if text.kw_args or text.validate:
        return None
    if not all(_imputes_nan(step, ("most_frequent", "constant")) for step in middle):
        return None
    if type(encoder) is not OneHotEncoder or encoder.sparse_output:
        return None
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        return None
    known = [value for value in encoder.categories_[0] if isinstance(value, str)]
    unseen = "\x00unseen"
    while unseen in known:
        unseen += "\x00"
    name = columns[0]
    cells = np.array([*known, unseen, np.nan], dtype=object)
    table = np.asarray(transformer.transform(pd.DataFrame({name: cells})))
    if table.ndim != 2 or table.shape[0] != len(cells):
        return None
    lookup = {value: row for row, value in enumerate(known)}
    unseen_row, missing_row = len(known), len(known) + 1

    def transform(data: Columns) -> np.ndarray:
        values = np.asarray(data[name], dtype=object)
        # categories_as_text's own conversion: str() of the cell, missing stays missing.
        keys = values.astype(str).tolist()
        rows = np.fromiter(
            (lookup.get(key, unseen_row) for key in keys), dtype=np.intp, count=len(keys)
        )
        rows[pd.isna(values)] = missing_row
        return table[rows]

    transform.categories = known  # type: ignore[attr-defined] # for the probe rows
    return transform


def _with_every_category(probe: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """The probe rows, plus rows that between them show every known category of every
    lookup-table column: the check below then covers each entry of every table."""
    categories = {name: known for name, known in categories.items() if known}
    count = max(map(len, categories.values()), default=0)
    if not count or probe.empty or not categories.keys() <= set(probe.columns):
        return probe
    extra = probe.iloc[[0] * count].reset_index(drop=True)
    for name, known in categories.items():
        extra[name] = [known[i % len(known)] for i in range(count)]
    return pd.concat([probe, extra], ignore_index=True)


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
    """The pipeline's numbers, bit for bit, from the probe as a DataFrame and as the
    {name: array} columns that predict requests arrive as."""
    columns = {name: probe[name].to_numpy() for name in probe.columns}
    try:
        expected = pipeline.predict(probe)
        proba = pipeline.predict_proba(probe) if compiled.proba is not None else None
        for data in (probe, columns):
            if proba is not None and not _equal(compiled.predict_proba(data), proba):
                return False
            if not _equal(compiled.predict(data), expected):
                return False
        return True
    except Exception:  # noqa: BLE001 - any failure means: use the pipeline as it is
        return False


def _equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind != b.dtype.kind:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
