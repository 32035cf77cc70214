"""Datasets to train on: scikit-learn's own, ingested through the real service."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from datasets.services import dataset_ingest


def _ingest(team, frame: pd.DataFrame, name: str, tmp_path):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    return dataset_ingest(user=team.owner, workspace=team.workspace, source=str(path), name=name)


@pytest.fixture
def cancer_frame() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :8].copy()
    frame["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    return frame


@pytest.fixture
def cancer(team, cancer_frame, tmp_path):
    return _ingest(team, cancer_frame, "cancer", tmp_path)


@pytest.fixture
def diabetes(team, tmp_path):
    data = load_diabetes(as_frame=True)
    frame = data.data.copy()
    frame["progression"] = data.target
    return _ingest(team, frame, "diabetes", tmp_path)


@pytest.fixture
def start_payload(cancer):
    def make(**overrides):
        payload = {
            "dataset": str(cancer.pk),
            "target": "diagnosis",
            "model_type": "logistic_regression",
            "positive_class": "malignant",
        }
        payload.update(overrides)
        return payload

    return make
