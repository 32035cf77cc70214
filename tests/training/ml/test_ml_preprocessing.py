"""Column selection, identifier exclusion, the preprocessing step and the split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.ml import categories_as_text, feature_layout
from training.ml.preprocessing import (
    build_preprocessor,
    constant_reason,
    identifier_reason,
    plan_columns,
    split_rows,
)

N = 50


@pytest.mark.parametrize(
    ("name", "values", "reason"),
    [
        ("patient_id", np.arange(N) * 7, "identifier-like name"),
        ("PatientID", np.arange(N) * 7, "identifier-like name"),
        ("MRN", [f"M{i:05d}" for i in range(N)], "identifier-like name"),
        ("full_name", ["Ann Lee"] * N, "identifier-like name"),
        ("contact", [f"user{i % 5}@example.com" for i in range(N)], "e-mail"),
        ("tel", [f"+44 20 7946 {i % 3:04d}" for i in range(N)], "phone"),
        ("notes", [f"free text {i}" for i in range(N)], "unique value in every row"),
        ("Unnamed: 0", np.arange(N), "identifier-like name"),
        ("row", np.arange(1, N + 1), "row index"),
        (
            "dob",
            pd.date_range("1950-01-01", periods=N, freq="MS").strftime("%d/%m/%Y"),
            "exact date of birth",
        ),
        ("date_of_birth", pd.date_range("1950-01-01", periods=N, freq="MS"), "exact date of birth"),
    ],
)
def test_identifier_columns_are_recognised(name, values, reason):
    assert reason in identifier_reason(pd.Series(values, name=name))


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("age", np.linspace(20, 80, N)),
        ("birth_year", np.arange(1950, 1950 + N)),  # a year is not an exact date of birth
        ("sex", ["F", "M"] * (N // 2)),
        ("covid", [0, 1] * (N // 2)),  # ends in "id" but is not an identifier
        ("paid", np.arange(3, 3 + N)),
        ("glucose_fasting", np.arange(N) * 1.5),  # unique numbers are measurements
        ("admission_date", pd.date_range("2020-01-01", periods=N).strftime("%Y-%m-%d")),
    ],
)
def test_ordinary_columns_are_not_identifiers(name, values):
    assert identifier_reason(pd.Series(values, name=name)) is None


def test_constant_reason():
    assert constant_reason(pd.Series([1.0, np.nan, 1.0])) == "constant"
    assert constant_reason(pd.Series(["a"] * 5 + [None])) == "constant"
    assert constant_reason(pd.Series([np.nan, np.nan])) == "all values missing"
    assert constant_reason(pd.Series([None, None], dtype=object)) == "all values missing"
    assert constant_reason(pd.Series([1, 2])) is None
    assert constant_reason(pd.Series([True, False])) is None


def test_plan_columns_reports_every_dropped_column(clinical):
    candidates = [c for c in clinical.columns if c not in ("readmitted", "length_of_stay")]
    plan = plan_columns(clinical, candidates, include_identifiers=False)
    dropped = {d["name"]: d["reason"] for d in plan.dropped}
    assert set(dropped) == {"patient_id", "full_name", "contact", "dob", "lab_unit"}
    assert dropped["lab_unit"] == "constant"
    assert dropped["dob"] == "exact date of birth"
    assert plan.numeric == ["age", "bmi"]
    assert plan.categorical == ["sex", "smoker", "ward", "site"]

    kept = plan_columns(clinical, candidates, include_identifiers=True)
    assert [d["name"] for d in kept.dropped] == ["dob", "lab_unit"]  # dates stay unusable
    assert {"patient_id", "full_name", "contact"} <= set(kept.features)


def test_datetime_and_date_text_columns_are_dropped():
    frame = pd.DataFrame(
        {
            "admitted": pd.date_range("2021-01-01", periods=N),
            "discharged": pd.date_range("2021-02-01", periods=N).strftime("%Y-%m-%d %H:%M"),
            "age": np.arange(N) % 7,
        }
    )
    plan = plan_columns(frame, list(frame.columns), include_identifiers=False)
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
