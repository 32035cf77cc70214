"""Data sets shared by the engine tests: plain DataFrames, no Django."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread():
    """Run the native thread pools (OpenMP, BLAS, torch) on one thread.

    Histogram boosting with two OpenMP threads slows down by 10-30x when other processes
    hold the cores (every parallel region waits for a descheduled thread); one thread
    keeps these small fits fast and their timing steady. The caller's settings come back.
    """
    torch = sys.modules.get("torch")
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    if torch is not None:
        torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    """569 rows, 30 numeric features, binary 0/1 target (212 malignant = 0)."""
    return load_breast_cancer(as_frame=True).frame


@pytest.fixture(scope="session")
def diabetes() -> pd.DataFrame:
    """442 rows, 10 numeric features, continuous target."""
    return load_diabetes(as_frame=True).frame


@pytest.fixture(scope="session")
def digits() -> pd.DataFrame:
    """1797 rows, 64 pixel features, ten classes."""
    return load_digits(as_frame=True).frame


def make_clinical(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Generated clinical-looking data: missing values, categoricals, a constant column,
    direct identifiers, a group column, an imbalanced 'yes'/'no' target and a
    continuous length of stay."""
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 12, rows).round()
    bmi = rng.normal(27, 4, rows)
    sex = rng.choice(["F", "M"], rows).astype(object)
    smoker = rng.random(rows) < 0.3
    site = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2])
    ward = rng.choice(["cardio", "neuro", "general", "icu"], rows).astype(object)
    risk = 0.06 * (age - 60) + 1.2 * smoker + 0.8 * (ward == "icu") + 0.1 * (bmi - 27) - 2.0
    readmitted = np.where(rng.random(rows) < 1 / (1 + np.exp(-risk)), "yes", "no")
    los = 3 + 0.05 * age + 2.0 * (ward == "icu") + rng.normal(0, 1, rows)
    age[rng.random(rows) < 0.1] = np.nan
    bmi[rng.random(rows) < 0.1] = np.nan
    sex[rng.random(rows) < 0.05] = None
    ward[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {
            "patient_id": np.arange(1000, 1000 + rows),
            "full_name": [f"Patient {i}" for i in range(rows)],
            "contact": [f"p{i}@clinic.example.org" for i in range(rows)],
            "dob": pd.date_range("1940-01-01", periods=rows, freq="17D").strftime("%Y-%m-%d"),
            "age": age,
            "bmi": bmi,
            "sex": sex,
            "smoker": smoker,
            "ward": ward,
            "site": site,
            "lab_unit": "mg/dL",
            "readmitted": readmitted,
            "length_of_stay": los,
        }
    )


@pytest.fixture(scope="session")
def clinical() -> pd.DataFrame:
    return make_clinical()
