"""What predict tells the caller about rows it accepted but could not use as sent.

A prediction is still made for every row; each row gets a list of warnings:

* `unseen_category`: a value the model never saw in training for that column (its
  one-hot encoder reads it as "none of the known categories");
* `category_case`: the same, where the value differs from a known category only by
  case or spacing ("Female" for "female"): `known` names that category. The value is
  not remapped: the caller decides;
* `out_of_range`: a number outside the range the model was trained on (`min`, `max`);
* `ignored_column`: a key of the row that the model does not read.

Written for 10,000-row requests: each column is checked in one pass, and Python only
touches the rows that get a warning. No Django here (loading.py imports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

WARNING_CODES = ("unseen_category", "category_case", "out_of_range", "ignored_column")


def known_categories(pipeline: Any) -> dict[str, frozenset[str]]:
    """{column: the categories its one-hot encoder learnt} for the single-column text
    encoders of a pipeline's ColumnTransformer (the engine's shape); other encoders and
    columns are left out, so no warning is guessed for them."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    steps = [step for _, step in pipeline.steps] if isinstance(pipeline, Pipeline) else []
    out: dict[str, frozenset[str]] = {}
    for step in steps:
        if not isinstance(step, ColumnTransformer):
            continue
        for _, transformer, columns in getattr(step, "transformers_", []):
            if not isinstance(columns, list | tuple) or len(columns) != 1:
                continue
            inner = (
                transformer.steps if isinstance(transformer, Pipeline) else [(None, transformer)]
            )
            encoder = inner[-1][1]
            if not isinstance(encoder, OneHotEncoder) or not hasattr(encoder, "categories_"):
                continue
            if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
                continue  # an unseen value is refused by the encoder itself
            learnt = [value for value in encoder.categories_[0] if not _missing(value)]
            if learnt and all(isinstance(value, str) for value in learnt):
                out[str(columns[0])] = frozenset(learnt)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


class RowWarnings:
    """The checks for one model, worked out once when it is loaded."""

    def __init__(
        self, schema: Sequence[Mapping[str, Any]], categories: Mapping[str, frozenset[str]]
    ) -> None:
        self.names = frozenset(entry["name"] for entry in schema)
        self.categories = {name: known for name, known in categories.items() if name in self.names}
        # Each known category by its folded spelling; a fold shared by two categories
        # ("ICU" and "icu") resembles neither.
        self.folded: dict[str, dict[str, str | None]] = {}
        for name, known in self.categories.items():
            by_fold: dict[str, str | None] = {}
            for value in sorted(known):
                by_fold[_fold(value)] = None if _fold(value) in by_fold else value
            self.folded[name] = by_fold
        self.ranges = {
            entry["name"]: (entry["min"], entry["max"])
            for entry in schema
            if entry.get("min") is not None and entry.get("max") is not None
        }

    def check(self, rows: Sequence[Mapping[str, Any]], columns: Mapping[str, Any]) -> list[list]:
        """A list of warnings per row for rows already checked by `rows_to_columns` (so
        every row holds every schema column) and the columns it built."""
        out: list[list[dict[str, Any]]] = [[] for _ in rows]
        for name, known in self.categories.items():
            self._categories(out, name, known, columns[name])
        for name, (low, high) in self.ranges.items():
            if name in columns:
                self._range(out, name, low, high, columns[name])
        self._ignored(out, rows)
        return out

    def _categories(self, out: list[list], name: str, known: frozenset[str], column) -> None:
        values = np.asarray(column, dtype=object)
        # The engine's own reading of a cell: its str(), missing stays missing.
        keys = values.astype(str).tolist()
        unseen = [row for row, key in enumerate(keys) if key not in known]
        if not unseen:
            return
        missing = pd.isna(values[unseen])
        folded = self.folded[name]
        for row, is_missing in zip(unseen, missing, strict=True):
            if is_missing:
                continue
            value = values[row]
            resembles = folded.get(_fold(keys[row]))
            if resembles is not None:
                out[row].append(
                    {
                        "code": "category_case",
                        "column": name,
                        "value": value,
                        "known": resembles,
                        "message": f"{name}: {keys[row]!r} is not a category the model "
                        f"knows; it resembles {resembles!r}, and was read as unseen",
                    }
                )
            else:
                out[row].append(
                    {
                        "code": "unseen_category",
                        "column": name,
                        "value": value,
                        "message": f"{name}: {keys[row]!r} was never seen in training; "
                        "the model reads it as none of the known categories",
                    }
                )

    def _range(self, out: list[list], name: str, low: float, high: float, column) -> None:
        values = np.asarray(column)
        if values.dtype.kind not in "fiu":
            return
        outside = np.flatnonzero((values < low) | (values > high))  # NaN is neither
        for row in outside.tolist():
            value = values[row].item()
            out[row].append(
                {
                    "code": "out_of_range",
                    "column": name,
                    "value": value,
                    "min": low,
                    "max": high,
                    "message": f"{name}: {value:g} is outside the training range "
                    f"[{low:g}, {high:g}]; the prediction is an extrapolation",
                }
            )

    def _ignored(self, out: list[list], rows: Sequence[Mapping[str, Any]]) -> None:
        # Every row holds every schema column, so only a longer row has extra keys.
        lengths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
        shared: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row in np.flatnonzero(lengths > len(self.names)).tolist():
            extra = frozenset(rows[row].keys() - self.names)
            if extra not in shared:
                shared[extra] = [
                    {
                        "code": "ignored_column",
                        "column": column,
                        "message": f"{column}: not a column the model reads; ignored",
                    }
                    for column in sorted(extra)
                ]
            out[row].extend(shared[extra])
