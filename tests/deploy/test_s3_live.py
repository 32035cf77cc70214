"""The scale-out layout for real: two daphne processes and a qcluster that share no
folder, only Redis, the database and an S3 bucket (moto's server on loopback), all
started with the production switch STORAGE_BACKEND=s3 and keys in *_FILE files."""

from __future__ import annotations

import hashlib

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from tests.live_stack import live_stack, upload_dataset, wait_for

from .conftest import bucket_create, bucket_objects, local_files, s3_env

pytestmark = pytest.mark.integration
PASSWORD = "a-long-enough-pass-42"


def test_web_processes_and_worker_share_files_through_the_bucket(s3_endpoint, tmp_path):
    client, bucket = bucket_create(s3_endpoint)
    env = s3_env(s3_endpoint, bucket, tmp_path / "secrets")
    directory = tmp_path / "stack"
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :6].copy()
    frame["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    csv = frame.to_csv(index=False).encode()

    with live_stack(directory, daphnes=2, qcluster=True, env=env) as stack:
        first, second = (httpx.Client(base_url=url, timeout=30) for url in stack.http_urls)
        first.post("/api/auth/register", json={"username": "sam", "password": PASSWORD})
        token = first.post("/api/auth/token", json={"username": "sam", "password": PASSWORD})
        for api in (first, second):
            api.headers["Authorization"] = f"Bearer {token.json()['access']}"

        # Uploaded through one daphne, previewed through the other.
        dataset = upload_dataset(first, "ward.csv", csv)
        assert dataset["status"] == "ready", dataset
        prefix = f"data/{dataset['workspace']}/{dataset['id']}/"
        assert set(bucket_objects(client, bucket)) == {
            prefix + "original.csv",
            prefix + "data.parquet",
        }
        original = second.get(f"/api/data/{dataset['id']}/download")
        assert original.status_code == 200
        assert original.content == csv
        assert int(original.headers["content-length"]) == len(csv)
        page = second.get(f"/api/data/preview/{dataset['id']}", params={"limit": 3})
        assert page.status_code == 200, page.text
        assert page.json()["rows"][2][-1] == frame["diagnosis"].iloc[2]

        # The worker process reads the Parquet copy from the bucket and stores the model.
        wait_for(
            lambda: second.get("/api/health").json()["workers"]["status"] == "ok",
            timeout=60,
            what="the qcluster",
        )
        started = first.post(
            "/api/train/start",
            json={
                "dataset": dataset["id"],
                "target": "diagnosis",
                "positive_class": "malignant",
                "model_type": "logistic_regression",
            },
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        status = wait_for(
            lambda: (
                body
                if (body := second.get(f"/api/train/status/{run_id}").json())["status"]
                in ("succeeded", "failed")
                else None
            ),
            timeout=120,
            what="the training run",
        )
        assert status["status"] == "succeeded", (status, stack.logs())
        model_id = second.get(f"/api/train/results/{run_id}").json()["model"]["id"]
        model_key = f"models/{dataset['workspace']}/{model_id}.skops"
        stored = bucket_objects(client, bucket)
        assert model_key in stored

        # Predict through one web process, download through the other.
        rows = frame.drop(columns="diagnosis").iloc[:2].to_dict(orient="records")
        predicted = first.post(f"/api/models/{model_id}/predict", json={"rows": rows})
        assert predicted.status_code == 200, predicted.text
        assert set(predicted.json()["predictions"]) <= {"benign", "malignant"}
        download = second.get(f"/api/models/{model_id}/download")
        assert download.status_code == 200
        assert download.content == stored[model_key]
        assert (
            hashlib.sha256(download.content).hexdigest()
            == (second.get(f"/api/models/{model_id}").json()["file_sha256"])
        )

        # Deleting removes the objects once the delete commits.
        assert second.delete(f"/api/models/{model_id}").status_code == 204
        assert first.delete(f"/api/data/{dataset['id']}").status_code == 204
        assert bucket_objects(client, bucket) == {}
        first.close()
        second.close()

    assert local_files(directory / "storage") == []
    # Downloads streamed chunk by chunk: Django warns when it must buffer a whole file.
    for log in directory.glob("daphne*.log"):
        assert "must consume synchronous iterators" not in log.read_text()
