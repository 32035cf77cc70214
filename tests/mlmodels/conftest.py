"""Shared data, trained engine models and registration helpers for the registry tests."""

from __future__ import annotations

import math
import os
import pickle
from functools import cache

import numpy as np
import pandas as pd
import pytest

from mlmodels import services
from mlmodels.services import model_cache


@pytest.fixture(autouse=True)
def _fresh_model_cache():
    model_cache.clear()
    yield
    model_cache.clear()


def clinical_frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numbers, text, booleans and integers, with missing values, and two targets."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 10, n).round(1),
            "bmi": rng.normal(27, 4, n),
            "sex": rng.choice(["F", "M"], n),
            "smoker": rng.choice([True, False], n),
            "stage": rng.integers(1, 4, n),
        }
    )
    frame.loc[::17, "bmi"] = np.nan
    frame.loc[::23, "sex"] = None
    logit = 0.08 * (frame.age - 60) + 0.8 * (frame.sex == "M") - 0.5 * frame.smoker
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "sick", "well")
    frame["los"] = 3 + 0.1 * frame.age + rng.normal(0, 1, n)
    return frame


TARGETS = {"classification": "outcome", "regression": "los"}
QUICK_PARAMS = {
    "random_forest": {"n_estimators": 12},
    "gradient_boosting": {"max_iter": 15},
    "neural_network": {"epochs": 4, "hidden_layers": [16, 8]},
}


@cache
def engine_result(model_type: str, task: str):
    """One engine training per (model type, task), shared by every test in the session."""
    from training.ml.config import TrainConfig
    from training.ml.engine import train

    frame = clinical_frame()
    target = TARGETS[task]
    other = TARGETS["regression" if task == "classification" else "classification"]
    config = TrainConfig(
        target=target,
        model_type=model_type,
        task=task,
        hyperparameters=QUICK_PARAMS.get(model_type, {}),
        positive_class="sick" if task == "classification" else None,
        device="cpu",
    )
    return train(frame.drop(columns=[other]), config)


def json_rows(frame: pd.DataFrame) -> list[dict]:
    """DataFrame rows as a JSON client would send them (NaN as null)."""
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append(
            {
                key: None if isinstance(value, float) and math.isnan(value) else _plain(value)
                for key, value in record.items()
            }
        )
    return rows


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def register_result(team, result, *, name: str = "Sepsis risk", user=None, workspace=None):
    """Register a TrainResult the way training runs do."""
    summary = result.to_dict()
    threshold = summary.get("threshold") or {}
    return services.model_register(
        workspace=workspace or team.workspace,
        user=user or team.editor,
        name=name,
        pipeline=result.pipeline,
        framework="pytorch" if result.model_type == "neural_network" else "sklearn",
        task=result.task,
        feature_schema=summary.get("feature_schema") or [],
        target=TARGETS[result.task],
        class_labels=summary.get("class_labels"),
        metrics=summary.get("metrics") or {},
        hyperparameters=(summary.get("model") or {}).get("hyperparameters") or {},
        threshold=threshold.get("value"),
        extra={
            "seed": 42,
            "model_type": result.model_type,
            "subgroup_metrics": summary.get("subgroup_metrics"),
            "training_rows": summary.get("n_train"),
            "threshold": threshold or None,
            "target_balance": {"sick": 120, "well": 120},
        },
    )


@pytest.fixture
def forest(team):
    """A registered random-forest classifier of the team's workspace."""
    return register_result(team, engine_result("random_forest", "classification"))


class Payload:
    """A pickle whose loading would run `touch <marker>`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a refused file ran code"


@pytest.fixture
def evil_pickle(marker) -> bytes:
    return pickle.dumps(Payload(marker))
