"""Column selection, the preprocessing step and the train / validation / test split."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from .config import CLASSIFICATION, ConfigError

NUMERIC = "numeric"
CATEGORICAL = "categorical"
#: One-hot width per column; rarer categories share one "infrequent" column so a
#: free-text or zip-code column cannot blow the dense matrix up.
MAX_CATEGORIES = 30
# Value checks look at a bounded sample so that a 1M-row upload costs milliseconds.
_VALUE_SAMPLE = 1000
_PATTERN_SHARE = 0.9

_DATE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
)


@dataclass
class ColumnPlan:
    """Which raw columns feed the model, as what kind, and which were dropped and why."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical


def _is_text(series: pd.Series) -> bool:
    return not (
        pd.api.types.is_numeric_dtype(series)
        or pd.api.types.is_bool_dtype(series)
        or pd.api.types.is_datetime64_any_dtype(series)
    )


def _non_null_head(series: pd.Series) -> pd.Series:
    """The first _VALUE_SAMPLE non-missing values, without copying a long column."""
    head = series.iloc[: _VALUE_SAMPLE * 4].dropna()
    if len(head) < _VALUE_SAMPLE < len(series):
        head = series.dropna()
    return head.iloc[:_VALUE_SAMPLE]


def _text_sample(series: pd.Series) -> pd.Series:
    return _non_null_head(series).astype(str).str.strip()


def _share(matches: pd.Series) -> float:
    return float(matches.mean()) if len(matches) else 0.0


def looks_like_dates(series: pd.Series) -> bool:
    """A datetime column, or text whose values read as dates (2021-03-04, 4/3/2021)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    return _is_text(series) and _share(_text_sample(series).str.match(_DATE)) >= _PATTERN_SHARE


def constant_reason(series: pd.Series) -> str | None:
    """Why a column carries no information (all missing, or a single value), or None."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        if np.isnan(values).all():
            return "all values missing"
        return "constant" if np.nanmin(values) == np.nanmax(values) else None
    head = _non_null_head(series)
    if head.empty:
        return "all values missing"
    if head.nunique() > 1:
        return None
    return "constant" if series.nunique(dropna=True) <= 1 else None


def column_kind(series: pd.Series) -> str | None:
    """numeric, categorical, or None for what the model cannot use (dates, durations)."""
    if pd.api.types.is_bool_dtype(series):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(series):
        return None if pd.api.types.is_complex_dtype(series) else NUMERIC
    if pd.api.types.is_timedelta64_dtype(series) or looks_like_dates(series):
        return None
    return CATEGORICAL


EXCLUDED_BY_REQUEST = "excluded by request (exclude)"


def plan_columns(
    df: pd.DataFrame,
    candidates: Sequence[str],
    *,
    identifiers: Mapping[str, str] | None = None,
    exclude: Sequence[str] = (),
    include: Sequence[str] = (),
    include_identifiers: bool = False,
) -> ColumnPlan:
    """Sort candidate feature columns into numeric / categorical; every column left out
    is listed with its reason.

    Left out: the caller's ``exclude``; the dataset profile's likely identifiers
    (``identifiers``: column -> the profile's reason) unless ``include`` names them or
    ``include_identifiers``; then, whatever the lists say, columns the model cannot use
    (constant, all missing, dates). Nothing is left out for its name alone.
    """
    plan = ColumnPlan()
    identifiers = identifiers or {}
    excluded, included = set(exclude), set(include)
    for name in candidates:
        series = df[name]
        reason = EXCLUDED_BY_REQUEST if name in excluded else None
        if reason is None and name in identifiers and not (include_identifiers or name in included):
            reason = f"likely identifier (dataset profile: {identifiers[name]})"
        if reason is None:
            reason = constant_reason(series)
        kind = column_kind(series)
        if reason is None and kind is None:
            reason = "dates or durations are not used directly (derive a numeric feature)"
        if reason is not None:
            plan.dropped.append({"name": str(name), "reason": reason})
        elif kind == NUMERIC:
            plan.numeric.append(name)
        else:
            plan.categorical.append(name)
    return plan


def categories_as_text(X: object) -> np.ndarray:
    """Categorical values as strings with NaN for missing.

    Mixed cells (``1`` vs ``"1"``, ``None`` vs NaN, booleans from JSON rows) would
    otherwise break the imputer and the encoder at prediction time.
    """
    values = np.asarray(X, dtype=object)
    missing = pd.isna(values)
    text = values.astype(str).astype(object)
    text[missing] = np.nan
    return text


def build_preprocessor(numeric: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """Median impute + scale numerics; most-frequent impute + one-hot each categorical.

    One transformer per categorical column keeps ``output_indices_`` an exact map
    from original column to its one-hot block (see :func:`feature_layout`).
    """
    transformers: list[tuple[str, Pipeline, list[str]]] = []
    if numeric:
        transformers.append(
            (
                NUMERIC,
                Pipeline(
                    [
                        # keep_empty_features keeps one output per input even for a column with
                        # no value in the training split, so the layout stays one-to-one.
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(numeric),
            )
        )
    for position, name in enumerate(categorical):
        transformers.append(
            (
                f"{CATEGORICAL}_{position}",
                Pipeline(
                    [
                        (
                            "text",
                            FunctionTransformer(categories_as_text, feature_names_out="one-to-one"),
                        ),
                        (
                            "impute",
                            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                        ),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="ignore",
                                max_categories=MAX_CATEGORIES,
                                sparse_output=False,
                            ),
                        ),
                    ]
                ),
                [name],
            )
        )
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


@dataclass(frozen=True)
class FeatureLayout:
    """How the transformed matrix maps back to raw columns.

    ``labels[i]`` reads like ``age`` or ``sex=F``; ``sources[i]`` is the raw column;
    numeric entries carry the scaler's mean and scale so tree thresholds can be
    shown in raw units.
    """

    labels: list[str]
    sources: list[str]
    categories: list[str | None]
    means: list[float | None]
    scales: list[float | None]

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.sources))

    def groups(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for index, source in enumerate(self.sources):
            out.setdefault(source, []).append(index)
        return out

    def sum_by_column(self, values: np.ndarray) -> dict[str, float]:
        return {column: float(np.sum(values[indices])) for column, indices in self.groups().items()}


def feature_layout(preprocess: ColumnTransformer) -> FeatureLayout:
    """Read the layout of a fitted :func:`build_preprocessor` result."""
    width = sum(s.stop - s.start for s in preprocess.output_indices_.values())
    labels: list[str] = [""] * width
    sources: list[str] = [""] * width
    categories: list[str | None] = [None] * width
    means: list[float | None] = [None] * width
    scales: list[float | None] = [None] * width
    for name, transformer, columns in preprocess.transformers_:
        if name == "remainder":
            continue
        block = preprocess.output_indices_[name]
        if name == NUMERIC:
            scaler = transformer.named_steps["scale"]
            for offset, column in enumerate(columns):
                index = block.start + offset
                labels[index] = sources[index] = str(column)
                means[index] = float(scaler.mean_[offset])
                scales[index] = float(scaler.scale_[offset])
            continue
        column = str(columns[0])
        encoder = transformer.named_steps["encode"]
        prefix = f"{column}_"
        for offset, out_name in enumerate(encoder.get_feature_names_out([column])):
            index = block.start + offset
            category = str(out_name)[len(prefix) :]
            if category == "infrequent_sklearn":
                category = "(other)"
            labels[index] = f"{column}={category}"
            sources[index] = column
            categories[index] = category
    return FeatureLayout(labels, sources, categories, means, scales)


@dataclass(frozen=True)
class Split:
    """Row positions of each part, relative to the frame that was split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_rows(
    y: np.ndarray, *, task: str, test_size: float, validation_size: float, seed: int
) -> Split:
    """Seeded train / validation / test split, stratified for classification.

    The test part is taken first; validation is then carved from the rest so that
    both are ``test_size`` / ``validation_size`` of all rows.
    """
    positions = np.arange(len(y))
    stratify = y if task == CLASSIFICATION else None
    try:
        rest, test = train_test_split(
            positions, test_size=test_size, random_state=seed, stratify=stratify
        )
        rest_stratify = y[rest] if task == CLASSIFICATION else None
        train, val = train_test_split(
            rest,
            test_size=validation_size / (1 - test_size),
            random_state=seed,
            stratify=rest_stratify,
        )
    except ValueError as error:
        raise ConfigError(
            "test_size",
            f"cannot split {len(y)} rows into train, validation and test parts: {error}",
        ) from error
    return Split(np.asarray(train), np.asarray(val), np.asarray(test))
