"""Column selection, identifier exclusion, the preprocessing step and the split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.ml import categories_as_text, feature_layout
from training.ml.preprocessing import (
    build_preprocessor,
    constant_reason,
    plan_columns,
    split_rows,
)

N = 50


def test_constant_reason():
    assert constant_reason(pd.Series([1.0, np.nan, 1.0])) == "constant"
    assert constant_reason(pd.Series(["a"] * 5 + [None])) == "constant"
    assert constant_reason(pd.Series([np.nan, np.nan])) == "all values missing"
    assert constant_reason(pd.Series([None, None], dtype=object)) == "all values missing"
    assert constant_reason(pd.Series([1, 2])) is None
    assert constant_reason(pd.Series([True, False])) is None


# What the dataset profile flags for the generated clinical set (datasets/profiling.py).
PROFILE_FLAGS = {
    "patient_id": "values are consecutive numbers, one per row",
    "full_name": "every value is different",
    "contact": "values look like e-mail addresses",
}


def test_plan_columns_excludes_the_profile_flags_with_their_reason(clinical):
    candidates = [c for c in clinical.columns if c not in ("readmitted", "length_of_stay")]
    plan = plan_columns(clinical, candidates, identifiers=PROFILE_FLAGS)
    dropped = {d["name"]: d["reason"] for d in plan.dropped}
    assert set(dropped) == {"patient_id", "full_name", "contact", "dob", "lab_unit"}
    assert (
        dropped["contact"]
        == "likely identifier (dataset profile: values look like e-mail addresses)"
    )
    assert dropped["lab_unit"] == "constant"
    assert "dates" in dropped["dob"]
    assert plan.numeric == ["age", "bmi"]
    assert plan.categorical == ["sex", "smoker", "ward", "site"]

    kept = plan_columns(clinical, candidates, identifiers=PROFILE_FLAGS, include_identifiers=True)
    assert [d["name"] for d in kept.dropped] == ["dob", "lab_unit"]  # dates stay unusable
    assert {"patient_id", "full_name", "contact"} <= set(kept.features)


def test_plan_columns_drops_nothing_for_its_name():
    """ward_id, test_name, visit_no: the old word list dropped them; no flag, no drop."""
    frame = pd.DataFrame(
        {
            "ward_id": np.arange(N) % 5,
            "test_name": ["hb", "crp", "wbc", "na", "k"] * (N // 5),
            "visit_no": np.arange(N) % 3 + 1,
            "un_region_name": ["europe", "asia"] * (N // 2),
        }
    )
    plan = plan_columns(frame, list(frame.columns))
    assert plan.dropped == []
    assert plan.features == ["ward_id", "visit_no", "test_name", "un_region_name"]


def test_exclude_and_include_lists_are_honoured(clinical):
    candidates = ["patient_id", "contact", "age", "bmi", "sex", "lab_unit"]
    plan = plan_columns(
        clinical,
        candidates,
        identifiers=PROFILE_FLAGS,
        exclude=["bmi"],
        include=["patient_id", "lab_unit"],
    )
    dropped = {d["name"]: d["reason"] for d in plan.dropped}
    assert dropped == {
        "contact": "likely identifier (dataset profile: values look like e-mail addresses)",
        "bmi": "excluded by request (exclude)",
        "lab_unit": "constant",  # include cannot make a constant column useful
    }
    assert plan.features == ["patient_id", "age", "sex"]


def test_datetime_and_date_text_columns_are_dropped():
    frame = pd.DataFrame(
        {
            "admitted": pd.date_range("2021-01-01", periods=N),
            "discharged": pd.date_range("2021-02-01", periods=N).strftime("%Y-%m-%d %H:%M"),
            "age": np.arange(N) % 7,
        }
    )
    plan = plan_columns(frame, list(frame.columns))
    assert plan.features == ["age"]
    assert all("dates" in d["reason"] for d in plan.dropped)


def test_categories_as_text_keeps_missing_values_missing():
    out = categories_as_text(pd.DataFrame({"x": ["a", None, 1, np.nan, True]}))
    assert out[:, 0].tolist()[0] == "a"
    assert out[2, 0] == "1" and out[4, 0] == "True"
    assert pd.isna(out[1, 0]) and pd.isna(out[3, 0])


def test_preprocessor_layout_maps_back_to_raw_columns(clinical):
    preprocess = build_preprocessor(["age", "bmi"], ["sex", "ward"])
    matrix = preprocess.fit_transform(clinical)
    layout = feature_layout(preprocess)
    assert matrix.shape == (len(clinical), 2 + 2 + 4)
    assert layout.labels[:2] == ["age", "bmi"]
    assert layout.labels[2:] == [
        "sex=F",
        "sex=M",
        "ward=cardio",
        "ward=general",
        "ward=icu",
        "ward=neuro",
    ]
    assert layout.groups() == {"age": [0], "bmi": [1], "sex": [2, 3], "ward": [4, 5, 6, 7]}
    # Scaler parameters are what undo the standardisation for tree thresholds.
    assert layout.means[0] == pytest.approx(clinical["age"].fillna(clinical["age"].median()).mean())
    assert layout.sum_by_column(np.arange(8.0)) == {"age": 0, "bmi": 1, "sex": 5, "ward": 22}


def test_split_sizes_stratification_and_seed():
    y = np.array(["yes"] * 100 + ["no"] * 400, dtype=object)
    split = split_rows(y, task="classification", test_size=0.2, validation_size=0.1, seed=3)
    assert (len(split.train), len(split.val), len(split.test)) == (350, 50, 100)
    every = np.concatenate([split.train, split.val, split.test])
    assert sorted(every.tolist()) == list(range(500))
    for part in (split.train, split.val, split.test):
        assert np.mean(y[part] == "yes") == pytest.approx(0.2, abs=0.01)
    again = split_rows(y, task="classification", test_size=0.2, validation_size=0.1, seed=3)
    other = split_rows(y, task="classification", test_size=0.2, validation_size=0.1, seed=4)
    assert np.array_equal(split.test, again.test)
    assert not np.array_equal(split.test, other.test)
