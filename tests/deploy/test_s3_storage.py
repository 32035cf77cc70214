"""Files in S3-compatible object storage instead of local folders.

moto's S3 server runs on loopback; the storages come from the real settings file with
STORAGE_BACKEND=s3 (credentials through *_FILE), and a user's whole path - upload, preview,
profile, download, train, predict, delete - reads and writes the bucket only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_breast_cancer

from collaboration.services import workspace_create, workspace_delete
from datasets.models import Dataset
from datasets.services import dataset_ingest, dataset_load_table, dataset_reprofile
from mlmodels.models import ModelArtifact
from mlmodels.services import model_cache
from training.models import RunStatus, TrainingRun
from training.services import run_config_build, run_execute, run_start

from .conftest import ACCESS_KEY, bucket_create, bucket_objects, local_files, s3_env

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "medilytica_site" / "settings.py"


def storages_from_settings(env: dict[str, str]) -> dict:
    """STORAGES as medilytica_site/settings.py builds it from this environment."""
    spec = importlib.util.spec_from_file_location("settings_under_test", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, env):
        spec.loader.exec_module(module)
    return module.STORAGES


@pytest.fixture
def bucket(s3_endpoint, settings, tmp_path):
    """A fresh bucket that the datasets, models, results and default storages use, as
    the settings file configures them; returns a boto3 client and the bucket's name."""
    client, name = bucket_create(s3_endpoint)
    stores = storages_from_settings(s3_env(s3_endpoint, name, tmp_path / "secrets"))
    assert {stores[a]["BACKEND"] for a in ("datasets", "models", "results", "default")} == {
        "storages.backends.s3.S3Storage"
    }
    # Assigning the setting resets Django's storage handler; pytest-django undoes it.
    settings.STORAGES = {**stores, "staticfiles": settings.STORAGES["staticfiles"]}
    return client, name


@pytest.fixture
def cancer_csv() -> tuple[pd.DataFrame, bytes]:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :6].copy()
    frame["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    return frame, frame.to_csv(index=False).encode()


def test_storages_are_s3_under_one_prefix_per_alias(bucket):
    assert {alias: storages[alias].location for alias in ("datasets", "models", "results")} == {
        "datasets": "data",
        "models": "models",
        "results": "results",
    }
    assert storages["datasets"].access_key == ACCESS_KEY  # read from the *_FILE path
    with pytest.raises(NotImplementedError):  # no local path: every reader must cope
        storages["datasets"].path("anything")


def test_user_path_reads_and_writes_the_bucket_only(
    team, client_for, bucket, cancer_csv, tmp_path, django_capture_on_commit_callbacks
):
    client, name = bucket
    frame, csv = cancer_csv
    editor = client_for(team.editor)
    ws = team.workspace.pk

    # Upload: the original and the Parquet copy land under generated keys.
    response = editor.post(
        "/api/data/upload",
        {"file": SimpleUploadedFile("../../etc/ward extract.csv", csv), "workspace": str(ws)},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    dataset_id = response.json()["id"]
    assert response.json()["rows"] == len(frame)
    objects = bucket_objects(client, name)
    assert set(objects) == {
        f"data/{ws}/{dataset_id}/original.csv",
        f"data/{ws}/{dataset_id}/data.parquet",
    }
    assert objects[f"data/{ws}/{dataset_id}/original.csv"] == csv

    # Preview: the last page, read from the bucket's Parquet copy.
    page = editor.get(f"/api/data/preview/{dataset_id}", {"offset": 560, "limit": 50})
    assert page.status_code == 200, page.content
    body = page.json()
    assert body["total_rows"] == len(frame) and len(body["rows"]) == len(frame) - 560
    assert body["columns"] == list(frame.columns)
    expected = frame.iloc[560]
    assert body["rows"][0][0] == pytest.approx(expected.iloc[0])
    assert body["rows"][0][-1] == expected["diagnosis"]

    # Profile: stored at ingest, and recomputed from the bucket's copy gives the same.
    detail = editor.get(f"/api/data/{dataset_id}").json()
    radius = next(c for c in detail["columns"] if c["name"] == "mean radius")
    assert radius["min"] == pytest.approx(frame["mean radius"].min())
    assert radius["max"] == pytest.approx(frame["mean radius"].max())
    dataset = Dataset.objects.get(pk=dataset_id)
    before = dataset.profile
    assert dataset_reprofile(dataset=dataset, user=team.owner).profile == before

    # Download: the bytes as uploaded.
    download = editor.get(f"/api/data/{dataset_id}/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == csv
    assert int(download["Content-Length"]) == len(csv)

    # Train (django-q2 sync): the worker reads the Parquet copy from the bucket and
    # registers the model there.
    with django_capture_on_commit_callbacks(execute=True):
        started = editor.post(
            "/api/train/start",
            {
                "dataset": dataset_id,
                "target": "diagnosis",
                "positive_class": "malignant",
                "model_type": "logistic_regression",
            },
            format="json",
        )
    assert started.status_code == 202, started.content
    run = TrainingRun.objects.get(pk=started.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error
    model_id = run.model_id
    model_key = f"models/{ws}/{model_id}.skops"
    objects = bucket_objects(client, name)
    assert model_key in objects
    listed = editor.get("/api/models", {"workspace": str(ws)}).json()["results"]
    assert [m["id"] for m in listed] == [str(model_id)]

    # Model download: the stored bytes, matching the recorded sha256.
    download = editor.get(f"/api/models/{model_id}/download")
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert data == objects[model_key]
    assert hashlib.sha256(data).hexdigest() == ModelArtifact.objects.get(pk=model_id).file_sha256

    # Predict: the bundle is loaded from the bucket (the cache starts empty).
    model_cache.clear()
    loads = model_cache.loads
    rows = frame.drop(columns="diagnosis").iloc[[0, 19, 568]].to_dict(orient="records")
    predicted = editor.post(f"/api/models/{model_id}/predict", {"rows": rows}, format="json")
    assert predicted.status_code == 200, predicted.content
    answer = predicted.json()
    assert model_cache.loads == loads + 1
    assert len(answer["predictions"]) == 3
    assert set(answer["predictions"]) <= {"benign", "malignant"}
    assert all(sum(p) == pytest.approx(1) for p in answer["probabilities"])

    # Delete the model, then the dataset: their objects go once each delete commits.
    owner = client_for(team.owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(f"/api/models/{model_id}").status_code == 204
    assert model_key not in bucket_objects(client, name)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(f"/api/data/{dataset_id}").status_code == 204
    assert bucket_objects(client, name) == {}
    assert editor.get(f"/api/models/{model_id}/download").status_code == 404

    # Nothing went to the local storage folders the other tests use.
    assert local_files(tmp_path / "storage") == []


def test_deleting_a_workspace_removes_its_objects(
    team, bucket, cancer_csv, tmp_path, django_capture_on_commit_callbacks
):
    """Rows deleted by a cascade never pass through the delete services; their files go too."""
    client, name = bucket
    frame, csv = cancer_csv
    workspace = workspace_create(user=team.owner, name="Short-lived")
    path = tmp_path / "cancer.csv"
    path.write_bytes(csv)
    dataset = dataset_ingest(user=team.owner, workspace=workspace, source=str(path))
    config = run_config_build(
        dataset=dataset,
        data={"target": "diagnosis", "positive_class": "malignant", "model_type": "decision_tree"},
        user=team.owner,
    )
    run = run_start(user=team.owner, dataset=dataset, config=config, enqueue=False)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert {key.split("/")[0] for key in bucket_objects(client, name)} == {"data", "models"}

    with django_capture_on_commit_callbacks(execute=True):
        workspace_delete(workspace=workspace, user=team.owner)
    assert bucket_objects(client, name) == {}


def test_missing_object_is_a_clear_error_not_a_local_fallback(team, bucket, cancer_csv, tmp_path):
    client, name = bucket
    _, csv = cancer_csv
    path = tmp_path / "cancer.csv"
    path.write_bytes(csv)
    dataset = dataset_ingest(user=team.owner, workspace=team.workspace, source=str(path))
    client.delete_object(Bucket=name, Key=f"data/{dataset.parquet_key}")
    with pytest.raises(FileNotFoundError):
        dataset_load_table(dataset=dataset, user=team.owner)
    assert local_files(tmp_path / "storage") == []


def test_preview_fetches_the_page_not_the_whole_copy(team, client_for, bucket, tmp_path):
    """Only the Parquet footer and the row groups holding the page travel from the bucket."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({f"lab_{i}": rng.integers(0, 1000, 120_000) for i in range(16)})
    frame["note"] = rng.choice(["stable", "worse", "better"], len(frame))
    path = tmp_path / "labs.csv"
    frame.to_csv(path, index=False)
    dataset = dataset_ingest(user=team.owner, workspace=team.workspace, source=str(path))

    fetched: list[int] = []
    events = storages["datasets"].connection.meta.client.meta.events
    events.register(
        "after-call.s3.GetObject",
        lambda parsed, **kwargs: fetched.append(parsed["ContentLength"]),
        unique_id="count-preview-bytes",
    )
    try:
        response = client_for(team.viewer).get(
            f"/api/data/preview/{dataset.pk}", {"offset": 70_470, "limit": 40}
        )
    finally:
        events.unregister("after-call.s3.GetObject", unique_id="count-preview-bytes")
    assert response.status_code == 200, response.content
    body = response.json()
    expected = frame.iloc[70_470:70_510]
    assert body["rows"] == expected.to_numpy().tolist()
    assert body["total_rows"] == 120_000
    assert fetched, "the preview read nothing from the bucket"
    assert sum(fetched) < dataset.parquet_size_bytes / 3, (sum(fetched), dataset.parquet_size_bytes)
