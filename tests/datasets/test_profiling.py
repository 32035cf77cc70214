"""datasets.profiling: values cross-checked against pandas; identifiers; targets."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from datasets.parsing import ParseLimits, normalise_table
from datasets.profiling import _distinct_numbers, infer_task, json_value, profile_table


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 600
    age = rng.integers(18, 90, n).astype("float")
    age[rng.random(n) < 0.05] = np.nan
    weight = rng.normal(75, 12, n)
    weight[rng.random(n) < 0.1] = np.nan
    ward = rng.choice(["cardio", "neuro", "onco", "icu", "er", "peds"], n).astype(object)
    ward[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "age": pd.array(age, dtype="Int64"),
            "weight": weight,
            "ward": ward,
            "smoker": rng.random(n) < 0.3,
            "admitted": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "label": rng.integers(0, 2, n),
        }
    )


@pytest.fixture(scope="module")
def profile(frame) -> dict:
    table = normalise_table(pa.Table.from_pandas(frame, preserve_index=False), limits=ParseLimits())
    return profile_table(table)


def by_name(profile: dict) -> dict:
    return {c["name"]: c for c in profile["columns"]}


def test_counts_match_pandas(frame, profile):
    assert profile["rows"] == len(frame) and profile["n_columns"] == 6
    for name, column in by_name(profile).items():
        assert column["missing"] == frame[name].isna().sum(), name
        assert column["count"] == frame[name].notna().sum(), name
        assert column["unique"] == frame[name].nunique(), name


@pytest.mark.parametrize("name", ["age", "weight", "label"])
def test_numeric_statistics_match_pandas(frame, profile, name):
    column = by_name(profile)[name]
    series = frame[name].astype("float")
    assert column["kind"] == "numeric"
    assert column["min"] == pytest.approx(series.min())
    assert column["max"] == pytest.approx(series.max())
    assert column["mean"] == pytest.approx(series.mean())
    assert column["std"] == pytest.approx(series.std())  # sample std, as pandas


def test_top_values_match_pandas(frame, profile):
    ward = by_name(profile)["ward"]
    counts = frame["ward"].value_counts()
    assert ward["kind"] == "categorical"
    assert [t["count"] for t in ward["top"]] == list(counts.values)
    assert {t["value"]: t["count"] for t in ward["top"]} == counts.to_dict()
    smoker = by_name(profile)["smoker"]
    assert smoker["kind"] == "boolean"
    assert {t["value"]: t["count"] for t in smoker["top"]} == frame[
        "smoker"
    ].value_counts().to_dict()


def test_dates_report_iso_bounds(frame, profile):
    admitted = by_name(profile)["admitted"]
    assert admitted["kind"] == "datetime"
    assert admitted["min"] == frame["admitted"].min().isoformat()
    assert admitted["max"] == frame["admitted"].max().isoformat()
    assert admitted["mean"] is None


def test_label_is_the_first_suggested_target(profile):
    first = profile["suggested_targets"][0]
    assert first == {
        "column": "label",
        "task": "classification",
        "classes": 2,
        "reason": "named like a target, last column, binary",
    }


def profile_of(**columns) -> dict:
    return by_name(profile_table(pa.table(columns)))


N = 40


@pytest.mark.parametrize(
    ("name", "values", "reason"),
    [
        ("first_name", [f"Name{i % 30}" for i in range(N)], "person's name"),
        ("PatientName", [f"P{i}" for i in range(N)], "person's name"),
        ("MRN", [f"{i:08d}" for i in range(N)], "patient or record identifier"),
        ("patient_id", list(range(N)), "patient or record identifier"),
        ("Phone", ["+1 555-010-0000"] * N, "phone number"),
        ("e_mail", [f"x{i}" for i in range(N)], "e-mail"),
        ("DOB", [dt.date(1970, 1, 1 + i % 28) for i in range(N)], "date of birth"),
        ("home_address", [f"{i} High Street" for i in range(N)], "postal address"),
        ("contact", [f"user{i}@example.org" for i in range(N)], "e-mail addresses"),
        ("govt_ref", [f"123-45-{i:04d}" for i in range(N)], "social security"),
        ("callback", [f"(555) 010-{i:04d}" for i in range(N)], "phone numbers"),
        ("code", [f"AB-{100000 + i}" for i in range(N)], "record numbers"),
        ("note", [f"seen on day {i} for review" for i in range(N)], "unique per row"),
        ("sample_id", list(range(N)), "identifier"),
    ],
)
def test_identifiers_are_flagged(name, values, reason):
    column = profile_of(**{name: values})[name]
    assert column["likely_identifier"] is True
    assert reason in column["identifier_reason"]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("age", list(range(N))),
        ("bmi", [20.0 + i / 7 for i in range(N)]),
        ("ward", ["a", "b", "c", "d"] * (N // 4)),
        ("visit_id", [1, 2] * (N // 2)),  # an id column, but not distinct per row
        ("note", ["short", "text"] * (N // 2)),
        ("few", ["a", "b", "c"]),  # too few rows to call unique-per-row
        # Named like identifiers, but the values repeat: a name alone flags nothing
        # (issue #16: these were dropped by a word list and the model lost AUC).
        ("ward_id", ["W1", "W2", "W3", "W4"] * (N // 4)),
        ("visit_no", [1, 2, 3, 4, 5] * (N // 5)),
        ("test_name", ["glucose", "sodium"] * (N // 2)),
        ("un_region_name", ["Europe", "Asia", "Africa", "Americas"] * (N // 4)),
        ("first_name", ["Ann", "Bob"] * (N // 2)),
        ("zip", ["12345"] * N),
        ("birth_date", ["unknown"] * N),
    ],
)
def test_ordinary_columns_are_not_flagged(name, values):
    column = profile_of(**{name: values})[name]
    assert column["likely_identifier"] is False and column["identifier_reason"] is None


def test_targets_skip_identifiers_constants_and_text():
    profile = profile_table(
        pa.table(
            {
                "patient_id": [f"MRN{i:06d}" for i in range(N)],
                "constant": [1] * N,
                "free_text": [f"text {i}" for i in range(N)],
                "sex": ["F", "M"] * (N // 2),
                "grade": [1, 2, 3, 4] * (N // 4),
                "progression": [float(i) * 1.5 for i in range(N)],
            }
        )
    )
    targets = [(t["column"], t["task"]) for t in profile["suggested_targets"]]
    assert targets[0] == ("progression", "regression")
    assert ("sex", "classification") in targets and ("grade", "classification") in targets
    assert {"patient_id", "constant", "free_text"}.isdisjoint(c for c, _ in targets)


@pytest.mark.parametrize(
    ("dtype", "kind", "unique", "count", "expected"),
    [
        ("bool", "boolean", 2, 10, "classification"),
        ("string", "categorical", 5, 10, "classification"),
        ("string", "text", 500, 1000, None),
        ("int64", "numeric", 3, 100, "classification"),
        ("int64", "numeric", 60, 100, "regression"),
        ("int64", "numeric", 8, 10, "regression"),  # every row different: a quantity
        ("double", "numeric", 2, 100, "classification"),
        ("double", "numeric", 90, 100, "regression"),
        ("timestamp[s]", "datetime", 90, 100, None),
        ("int64", "numeric", 1, 100, None),
    ],
)
def test_infer_task(dtype, kind, unique, count, expected):
    assert infer_task({"dtype": dtype, "kind": kind, "unique": unique, "count": count}) == expected


def test_json_value():
    assert json_value(float("nan")) is None and json_value(float("-inf")) is None
    assert json_value(dt.datetime(2024, 1, 2, 3, 4)) == "2024-01-02T03:04:00"
    assert json_value(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_value(dt.timedelta(minutes=2)) == 120.0
    assert json_value(True) is True and json_value(3) == 3


def test_empty_and_all_missing_columns():
    column = profile_of(x=pa.array([None, None], pa.float64()))["x"]
    assert (column["missing"], column["unique"], column["min"], column["mean"]) == (
        2,
        0,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("values", "unique"),
    [
        ([f"P{i:05d}" for i in range(100)], 100),  # sorted: counted without hashing
        ([f"P{i:05d}" for i in range(50)] + ["P00049"] + ["P00060"], 51),  # sorted, not strict
        ([3, 1, 2, 2], 3),
        (list(range(100)), 100),
    ],
)
def test_distinct_counts_of_sorted_and_unsorted_columns(values, unique):
    chunked = pa.chunked_array([values[: len(values) // 3], values[len(values) // 3 :]])
    assert profile_table(pa.table({"v": chunked}))["columns"][0]["unique"] == unique


NAN = float("nan")


@pytest.mark.parametrize(
    "chunks",
    [
        [[NAN, NAN, 1.0, 0.0], [-0.0, None, 2.5, 2.5]],  # one NaN; 0.0 and -0.0 are two
        [[None, None], [None]],
        [list(np.random.default_rng(0).normal(size=5000).round(2)), [None, 1.0]],
        [list(np.random.default_rng(1).integers(-5, 5, 3000)), [None, 7]],
        [np.random.default_rng(2).normal(size=3000).astype(np.float32)],
        [[]],
    ],
)
def test_numbers_are_counted_by_sorting_as_arrow_would_hash_them(chunks):
    """Continuous numbers are counted by a sort (several times faster than a hash
    table that outgrows the caches); the count is the hash's, whatever the values."""
    column = pa.chunked_array([pa.array(c, type=None if len(c) else pa.float64()) for c in chunks])
    hashed = pc.unique(column)
    expected = len(hashed) - int(hashed.null_count > 0)
    assert _distinct_numbers(column) == expected
    profile = profile_table(pa.table({"v": column}))["columns"][0]
    assert profile["unique"] == expected
