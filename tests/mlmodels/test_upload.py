"""Uploads: every accepted format loads, and nothing that would run code gets through."""

from __future__ import annotations

import io
import json
import os
import pickle
import stat
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from collaboration.models import AuditEvent
from mlmodels import serialization
from mlmodels.models import FileFormat, ModelArtifact

from .conftest import Payload, clinical_frame, engine_result, json_rows, register_result

pytestmark = pytest.mark.django_db


def _sklearn_pipeline():
    frame = clinical_frame()
    X = frame[["age", "sex"]].fillna({"sex": "F"})
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), ["age"]), ("cat", OneHotEncoder(), ["sex"])]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    )
    return pipeline.fit(X, frame["outcome"]), X


def skops_upload(name: str = "model.skops") -> SimpleUploadedFile:
    pipeline, _ = _sklearn_pipeline()
    return SimpleUploadedFile(name, sio.dumps(pipeline))


def _upload(client, team, filename, data, **fields):
    body = {"file": SimpleUploadedFile(filename, data), "name": "Upload", **fields}
    body.setdefault("workspace", str(team.workspace.pk))
    return client.post("/api/models/upload", body, format="multipart")


def accepted(response) -> dict:
    """The version of a 202 upload that its worker (here in the same thread) made ready."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["error"]) == ("ready", ""), body
    return body


def rejected(response) -> dict:
    """The version of a 202 upload that its worker refused: kept, with the reason."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "rejected" and body["error"] and body["error_code"], body
    assert ModelArtifact.objects.get(pk=body["id"]).file_key == ""  # its file is gone
    return body


def no_model_files() -> bool:
    from django.core.files.storage import storages

    root = Path(storages["models"].location)
    return not root.exists() or [p for p in root.rglob("*") if p.is_file()] == []


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _torch_bytes(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _joblib_bytes(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def mlp_bundle(team) -> bytes:
    """The stored file of a network the engine trained, as a client would download it."""
    from django.core.files.storage import storages

    artifact = register_result(team, engine_result("neural_network", "classification"), name="N")
    with storages["models"].open(artifact.file_key) as handle:
        return handle.read()


def _evil_skops(marker) -> bytes:
    return sio.dumps(Pipeline([("run", FunctionTransformer(os.system))]))


# --- every accepted format ----------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".skops", ".pkl", ".joblib"])
def test_sklearn_formats_are_stored_as_skops(team, client_for, suffix):
    pipeline, X = _sklearn_pipeline()
    data = {
        ".skops": sio.dumps(pipeline),
        ".pkl": pickle.dumps(pipeline),
        ".joblib": _joblib_bytes(pipeline),
    }[suffix]
    client = client_for(team.editor)
    body = accepted(_upload(client, team, f"My Model{suffix}", data))
    assert (body["framework"], body["task"], body["file_format"]) == (
        "sklearn",
        "classification",
        "skops",
    )
    assert body["feature_schema"] == [
        {"name": "age", "type": "number", "nullable": True},
        {"name": "sex", "type": "category", "nullable": True},
    ]
    assert body["lineage"]["original_filename"] == f"My Model{suffix}"
    rows = json_rows(X.head(4))
    predicted = client.post(f"/api/models/{body['id']}/predict", {"rows": rows}, format="json")
    assert predicted.status_code == 200, predicted.content
    assert predicted.json()["predictions"] == list(pipeline.predict(X.head(4)))


def test_state_dict_with_architecture(team, client_for):
    import torch

    from training.ml.nn import build_mlp, make_spec

    spec = make_spec(task="classification", input_size=2, output_size=3, hidden_layers=[4])
    module = build_mlp(spec)
    schema = [{"name": "a", "type": "number"}, {"name": "b", "type": "integer"}]
    client = client_for(team.editor)
    fields = {"architecture": json.dumps(spec), "feature_schema": json.dumps(schema)}

    body = accepted(_upload(client, team, "net.pt", _torch_bytes(module.state_dict()), **fields))
    assert (body["framework"], body["file_format"], body["class_labels"]) == (
        "pytorch",
        "mlbundle",
        [0, 1, 2],
    )
    predicted = client.post(
        f"/api/models/{body['id']}/predict", {"rows": [{"a": 0.5, "b": 2}]}, format="json"
    )
    assert predicted.status_code == 200, predicted.content
    with torch.no_grad():
        expected = torch.softmax(module(torch.tensor([[0.5, 2.0]])), dim=1).numpy()
    np.testing.assert_allclose(predicted.json()["probabilities"], expected, atol=1e-5)
    # A bare network reads numbers only and imputes nothing.
    missing = client.post(
        f"/api/models/{body['id']}/predict", {"rows": [{"a": None, "b": 2}]}, format="json"
    )
    assert missing.status_code == 400

    no_spec = _upload(client, team, "net.pth", _torch_bytes(module.state_dict()))
    assert no_spec.status_code == 400 and "architecture" in no_spec.json()
    wrong = dict(spec, hidden_layers=[5])
    response = _upload(
        client,
        team,
        "net.pt",
        _torch_bytes(module.state_dict()),
        architecture=json.dumps(wrong),
        feature_schema=json.dumps(schema),
    )
    error = rejected(response)["error"]
    assert "0.weight" in error and "expected (5, 2)" in error
    # A spec far larger than its weights is refused before anything is allocated.
    huge = dict(spec, hidden_layers=[10**7, 10**7])
    response = _upload(
        client,
        team,
        "net.pt",
        _torch_bytes(module.state_dict()),
        architecture=json.dumps(huge),
        feature_schema=json.dumps(schema),
    )
    assert "needs at least" in rejected(response)["error"]


@pytest.mark.parametrize("suffix", [".mlbundle", ".zip"])
def test_bundle_round_trips_through_download_and_upload(team, client_for, mlp_bundle, suffix):
    client = client_for(team.editor)
    body = accepted(_upload(client, team, f"net{suffix}", mlp_bundle))
    assert (body["framework"], body["task"]) == ("pytorch", "classification")
    rows = json_rows(clinical_frame().drop(columns=["outcome", "los"]).head(3))
    predicted = client.post(f"/api/models/{body['id']}/predict", {"rows": rows}, format="json")
    assert predicted.status_code == 200, predicted.content


def test_upload_refusals_that_are_not_about_code(team, client_for):
    client = client_for(team.editor)
    response = _upload(client, team, "model.exe", b"MZ")
    assert response.status_code == 400 and "Unsupported file type" in str(response.json())
    response = _upload(client, team, "model.pt", b"PK")
    assert response.status_code == 400 and "architecture" in response.json()
    response = _upload(client, team, "model.skops", b"")
    assert response.status_code == 400 and "empty" in str(response.json())
    assert not ModelArtifact.objects.exists()  # refused at once: nothing kept
    # What only reading the file can tell, a worker tells: the version is kept, rejected.
    response = _upload(client, team, "model.skops", sio.dumps({"not": "a model"}))
    assert "scikit-learn estimator" in rejected(response)["error"]
    response = _upload(
        client, team, "model.joblib", _joblib_bytes(_sklearn_pipeline()[0], compress=3)
    )
    assert "compress=0" in rejected(response)["error"]
    response = _upload(
        client, team, "model.skops", sio.dumps(_sklearn_pipeline()[0]), task="regression"
    )
    body = rejected(response)
    assert body["error_code"] == "invalid_task"
    assert body["error"] == "task: The model is a classification model, not regression."
    assert not ModelArtifact.objects.filter(status="ready").exists()
    assert no_model_files()


def test_a_model_file_over_model_max_bytes_is_refused(team, client_for, settings):
    settings.MODEL_MAX_BYTES = 1000
    data = sio.dumps(_sklearn_pipeline()[0])
    response = _upload(client_for(team.editor), team, "lr.skops", data)
    # Refused while it streams in, before it is stored.
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_large"
    assert "over the MODEL_MAX_BYTES limit of 0 MiB" in response.json()["detail"]
    assert not ModelArtifact.objects.exists() and no_model_files()


def test_a_full_storage_is_a_413_leaving_no_row_and_no_file(team, client_for, monkeypatch):
    import errno

    from django.core.files.storage import FileSystemStorage

    def save(self, name, content):  # a disk that fills up part way through the write
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"the first part")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    pipeline, _ = _sklearn_pipeline()
    response = _upload(client_for(team.editor), team, "lr.skops", sio.dumps(pipeline))
    assert response.status_code == 413, response.content
    body = response.json()
    assert body["code"] == "storage_full" and body["detail"].startswith("Storage is full")
    assert not ModelArtifact.objects.exists() and no_model_files()


# --- nothing that would run code, under every accepted extension --------------------------


def _payloads(marker, mlp_bundle) -> dict[str, tuple[str, bytes]]:
    evil = pickle.dumps(Payload(marker))
    bundle = zipfile.ZipFile(io.BytesIO(mlp_bundle))
    entries = {name: bundle.read(name) for name in bundle.namelist()}
    return {
        "pkl": ("model.pkl", evil),
        "pkl_protocol0": ("model.pkl", pickle.dumps(Payload(marker), protocol=0)),
        "joblib": ("model.joblib", _joblib_bytes({"w": np.arange(500.0), "x": Payload(marker)})),
        "pt_zip": (
            "model.pt",
            _torch_bytes({"w": __import__("torch").zeros(2), "x": Payload(marker)}),
        ),
        "pth_legacy": ("model.pth", evil),
        "skops_function": ("model.skops", _evil_skops(marker)),
        "skops_is_a_pickle": ("model.skops", evil),
        "bundle_evil_preprocess": (
            "model.mlbundle",
            _zip({**entries, "preprocess.skops": _evil_skops(marker)}),
        ),
        "bundle_inner_pickle": ("model.mlbundle", _zip({**entries, "model.pkl": evil})),
        "bundle_weights_are_a_pickle": (
            "model.zip",
            _zip({**entries, "weights.safetensors": evil}),
        ),
        "zip_of_a_pickle": ("model.zip", _zip({"data.pkl": evil})),
    }


NAMES_THE_TYPE = {
    "pkl",
    "pkl_protocol0",
    "joblib",
    "pt_zip",
    "pth_legacy",
    "skops_function",
    "bundle_evil_preprocess",
}
PAYLOADS = [
    "pkl",
    "pkl_protocol0",
    "joblib",
    "pt_zip",
    "pth_legacy",
    "skops_function",
    "skops_is_a_pickle",
    "bundle_evil_preprocess",
    "bundle_inner_pickle",
    "bundle_weights_are_a_pickle",
    "zip_of_a_pickle",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_code_running_files_are_refused(team, client_for, marker, mlp_bundle, payload):
    filename, data = _payloads(marker, mlp_bundle)[payload]
    client = client_for(team.editor)
    fields = {}
    if filename.endswith((".pt", ".pth")):
        fields = {"architecture": json.dumps({"format": "medilytica.mlp"})}
    body = rejected(_upload(client, team, filename, data, **fields))
    if payload in NAMES_THE_TYPE:
        assert body["error_code"] == "untrusted_type"
        assert "posix.system" in body["error"]
    assert not marker.exists()
    assert not ModelArtifact.objects.filter(name="Upload", status="ready").exists()
    denied = AuditEvent.objects.filter(action="model.upload", outcome="denied")
    assert denied.count() == 1 and denied.get().detail["filename"] == filename


# --- archive checks through the API -------------------------------------------------------


def _symlink_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("preprocess.skops")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("dotdot", "outside the archive"),
        ("absolute", "absolute path"),
        ("symlink", "symbolic link"),
        ("too_many", "entries; at most 4"),
        ("oversized", "per entry"),
    ],
)
def test_archive_checks(team, client_for, mlp_bundle, monkeypatch, case, reason):
    bundle = zipfile.ZipFile(io.BytesIO(mlp_bundle))
    entries = {name: bundle.read(name) for name in bundle.namelist()}
    if case == "dotdot":
        data = _zip({**entries, "../../etc/cron.d/x": b"* * * * * root true"})
    elif case == "absolute":
        data = _zip({**entries, "/tmp/x": b"x"})
    elif case == "symlink":
        data = _symlink_zip({k: v for k, v in entries.items() if k != "preprocess.skops"})
    elif case == "too_many":
        monkeypatch.setattr(
            serialization, "DEFAULT_LIMITS", serialization.ArchiveLimits(max_entries=4)
        )
        data = _zip({**entries, "extra1": b"", "extra2": b""})
    else:
        limit = max(len(v) for v in entries.values()) - 1
        limits = serialization.ArchiveLimits(max_entry_bytes=limit)
        monkeypatch.setattr(serialization, "DEFAULT_LIMITS", limits)
        data = mlp_bundle
    response = _upload(client_for(team.editor), team, "net.mlbundle", data)
    assert reason in rejected(response)["error"]
    assert not ModelArtifact.objects.filter(name="Upload", status="ready").exists()
    bundles = ModelArtifact.objects.filter(file_format=FileFormat.BUNDLE, status="ready")
    assert bundles.count() == 1  # the fixture


def test_uploaded_pipeline_has_a_card_and_a_graph(team, client_for):
    client = client_for(team.viewer)
    editor = client_for(team.editor)
    created = _upload(editor, team, "lr.skops", sio.dumps(_sklearn_pipeline()[0]), target="outcome")
    model_id = created.json()["id"]
    graph = client.get(f"/api/models/{model_id}/graph")
    assert graph.status_code == 200, graph.content
    assert {node["type"] for node in graph.json()["nodes"]} >= {"feature", "output"}
    card = client.get(f"/api/models/{model_id}/card").json()
    assert card["model"]["source"] == "upload"
    assert card["lineage"]["original_filename"] == "lr.skops"
    assert card["lineage"]["hyperparameters"]["C"] == 1.0
