"""Helpers for dataset tests: upload through the API, inspect the storage folder."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.services import dataset_ingest

CLINICAL_CSV = (
    b"patient_id,age,sex,bmi,smoker,admitted,outcome\n"
    b"MRN-100001,54,F,27.1,true,2023-01-04,0\n"
    b"MRN-100002,61,M,31.4,false,2023-01-05,1\n"
    b"MRN-100003,47,F,,false,2023-02-11,0\n"
    b"MRN-100004,70,M,24.9,true,2023-03-02,1\n"
    b"MRN-100005,38,F,22.3,false,2023-03-15,0\n"
)


def storage_root() -> Path:
    return Path(settings.STORAGES["datasets"]["OPTIONS"]["location"])


def stored_files() -> list[Path]:
    root = storage_root()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def storage_entries() -> list[Path]:
    """Files and folders: a refused upload leaves neither behind."""
    root = storage_root()
    return sorted(root.rglob("*")) if root.exists() else []


def upload(client, content: bytes, filename: str, **fields):
    body = {"file": SimpleUploadedFile(filename, content), **fields}
    return client.post("/api/data/upload", body, format="multipart")


def parquet_bytes(frame: pd.DataFrame, **kwargs) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def clinical_csv() -> bytes:
    return CLINICAL_CSV


@pytest.fixture
def make_dataset(team):
    """Ingest bytes through the service, as the owner, into the team workspace."""

    def make(content: bytes = CLINICAL_CSV, filename: str = "clinical.csv", **kwargs):
        kwargs.setdefault("user", team.owner)
        kwargs.setdefault("workspace", team.workspace)
        return dataset_ingest(source=io.BytesIO(content), filename=filename, **kwargs)

    return make


@pytest.fixture
def dataset(make_dataset):
    return make_dataset(name="Clinic extract")
