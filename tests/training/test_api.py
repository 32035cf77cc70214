"""Training REST endpoints: start, status, stop, results, list and viz, with permissions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from collaboration.models import AuditEvent
from training.models import RunMetric, RunStatus, TrainingRun

pytestmark = pytest.mark.django_db

NN = {"hidden_layers": [16], "epochs": 5, "batch_size": 64}


def who(team, name):
    return None if name == "anonymous" else getattr(team, name)


def start(client, payload, capture=None):
    if capture is None:
        return client.post("/api/train/start", payload, format="json")
    with capture(execute=True):
        return client.post("/api/train/start", payload, format="json")


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 202), ("editor", 202), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_start_permissions(team, client_for, start_payload, name, expected):
    response = start(client_for(who(team, name)), start_payload())
    assert response.status_code == expected, response.content
    assert TrainingRun.objects.count() == (1 if expected == 202 else 0)


def test_start_queues_then_trains_to_success(
    team, client_for, start_payload, django_capture_on_commit_callbacks
):
    client = client_for(team.editor)
    response = start(client, start_payload(), django_capture_on_commit_callbacks)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["task"] == "classification"  # inferred from the text target
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error
    status = client.get(f"/api/train/status/{run.pk}").json()
    assert status["status"] == "succeeded"
    assert status["progress"]["fraction"] == 1.0
    assert status["finished_at"] is not None
    results = client.get(f"/api/train/results/{run.pk}").json()
    assert 0.85 < results["metrics"]["accuracy"] <= 1.0
    assert results["confusion_matrix"]["labels"] == ["benign", "malignant"]
    assert set(results["roc_curve"]) >= {"fpr", "tpr", "auc"}
    assert results["feature_importance"]["features"]
    assert results["model"]["id"] == str(run.model_id)
    assert AuditEvent.objects.filter(action="run.start", object_id=str(run.pk)).exists()


def test_start_neural_network_records_every_epoch(
    team, client_for, start_payload, django_capture_on_commit_callbacks
):
    client = client_for(team.owner)
    payload = start_payload(model_type="neural_network", hyperparameters=NN)
    run_id = start(client, payload, django_capture_on_commit_callbacks).json()["id"]
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED, run.error
    seqs = list(RunMetric.objects.filter(run=run).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)) and 1 <= len(seqs) <= 5
    metrics = client.get(f"/api/viz/metrics/{run_id}").json()
    assert metrics["epochs"] == list(range(1, len(seqs) + 1))
    assert len(metrics["train_loss"]) == len(seqs)
    assert all(isinstance(v, float) for v in metrics["val_accuracy"])
    graph = client.get(f"/api/viz/graph/{run_id}").json()
    assert graph["nodes"] and graph["edges"]
    assert {"from", "to", "weight"} <= set(graph["edges"][0])
    confusion = client.get(f"/api/viz/confusion/{run_id}").json()
    assert len(confusion["matrix"]) == 2 and confusion["labels"] == ["benign", "malignant"]
    roc = client.get(f"/api/viz/roc/{run_id}").json()
    assert 0.5 < roc["auc"] <= 1.0


def test_regression_run(team, client_for, diabetes, django_capture_on_commit_callbacks):
    client = client_for(team.owner)
    payload = {
        "dataset": str(diabetes.pk),
        "target": "progression",
        "model_type": "random_forest",
        "hyperparameters": {"n_estimators": 20},
    }
    run_id = start(client, payload, django_capture_on_commit_callbacks).json()["id"]
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.task == "regression"
    results = client.get(f"/api/train/results/{run_id}").json()
    assert results["metrics"]["r2"] > 0.2
    assert results["confusion_matrix"] is None
    assert client.get(f"/api/viz/confusion/{run_id}").status_code == 404


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"target": "no_such_column"}, "target", "no_such_column"),
        ({"model_type": "svm"}, "model_type", "svm"),
        ({"hyperparameters": {"C": -1}}, "hyperparameters.C", ""),
        ({"hyperparameters": {"max_depth": 3}}, "hyperparameters.max_depth", ""),
        ({"features": []}, "features", ""),
        ({"features": ["mean radius", "nope"]}, "features", "nope"),
        ({"test_size": 2}, "test_size", ""),
        ({"task": "regression"}, "task", ""),
        ({"dataset": "not-a-uuid"}, "dataset", ""),
    ],
)
def test_invalid_config_is_400_naming_the_field(
    team, client_for, start_payload, overrides, field, words
):
    response = start(client_for(team.owner), start_payload(**overrides))
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    assert words in " ".join(body[field])
    assert TrainingRun.objects.count() == 0


def test_unknown_dataset_is_404(team, client_for, start_payload):
    payload = start_payload(dataset="00000000-0000-0000-0000-000000000000")
    assert start(client_for(team.owner), payload).status_code == 404


def test_results_are_409_until_finished(team, client_for, start_payload):
    client = client_for(team.owner)
    run_id = start(client, start_payload()).json()["id"]  # on_commit never runs: stays queued
    response = client.get(f"/api/train/results/{run_id}")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]
    assert client.get(f"/api/viz/confusion/{run_id}").status_code == 409


def test_stop_a_queued_run_never_starts(
    team, client_for, start_payload, django_capture_on_commit_callbacks
):
    client = client_for(team.owner)
    run_id = start(client, start_payload()).json()["id"]
    response = client.post(f"/api/train/stop/{run_id}")
    assert response.status_code == 202
    assert response.json()["status"] == "stopped"
    from training.tasks import train_run

    assert train_run(run_id) is None  # a late task finds nothing to claim
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.STOPPED and run.started_at is None
    again = client.post(f"/api/train/stop/{run_id}")
    assert again.status_code == 409


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 202), ("editor", 202), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_stop_permissions(team, client_for, start_payload, name, expected):
    run_id = start(client_for(team.owner), start_payload()).json()["id"]
    response = client_for(who(team, name)).post(f"/api/train/stop/{run_id}")
    assert response.status_code == expected


@pytest.mark.parametrize(
    "path", ["train/status/{id}", "train/results/{id}", "viz/metrics/{id}", "train/{id}"]
)
@pytest.mark.parametrize(
    "name, allowed", [("viewer", True), ("outsider", False), ("anonymous", False)]
)
def test_reads_are_for_members(team, client_for, start_payload, path, name, allowed):
    run_id = start(client_for(team.owner), start_payload()).json()["id"]
    response = client_for(who(team, name)).get("/api/" + path.format(id=run_id))
    if allowed:
        assert response.status_code in (200, 409)
    else:
        assert response.status_code == (401 if name == "anonymous" else 404)


def test_list_is_scoped_and_filters(team, client_for, start_payload):
    start(client_for(team.owner), start_payload())
    mine = client_for(team.viewer).get("/api/train").json()
    assert mine["count"] == 1
    assert client_for(team.outsider).get("/api/train").json()["count"] == 0
    assert client_for(team.viewer).get("/api/train?status=running").json()["count"] == 0
    assert client_for(team.viewer).get("/api/train?status=bogus").status_code == 400


def test_list_filters_by_dataset_and_model_type(team, client_for, start_payload, diabetes):
    owner = client_for(team.owner)
    start(owner, start_payload(model_type="decision_tree"))
    start(owner, start_payload(model_type="logistic_regression"))
    dataset = start_payload()["dataset"]

    def count(query: str) -> int:
        response = owner.get(f"/api/train?{query}")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count(f"dataset={dataset}") == 2
    assert count(f"dataset={diabetes.pk}") == 0
    assert count("model_type=decision_tree") == 1
    assert count(f"dataset={dataset}&model_type=logistic_regression") == 1
    response = owner.get("/api/train?dataset=not-a-uuid")
    assert response.status_code == 400 and "dataset" in response.json()


# --- issue #16: the positive class, the threshold rule, exclusions --------------------------


def test_start_asks_for_the_positive_class_listing_the_labels(team, client_for, tmp_path):
    from .conftest import _ingest

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.normal(60, 10, 60),
            "ward_id": np.arange(60) % 4,
            "status": np.where(rng.random(60) < 0.4, "recurrence", "no_recurrence"),
        }
    )
    dataset = _ingest(team, frame, "gbsg", tmp_path)
    client = client_for(team.owner)
    payload = {"dataset": str(dataset.pk), "target": "status", "model_type": "decision_tree"}
    response = client.post("/api/train/start", payload, format="json")
    assert response.status_code == 400
    message = response.json()["positive_class"][0]
    assert "'no_recurrence'" in message and "'recurrence'" in message
    payload["positive_class"] = "recurrence"
    response = client.post("/api/train/start", payload, format="json")
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.config["positive_class"] == "recurrence"
    assert run.config["identifiers"] == {}  # ward_id is not flagged, so it stays a feature


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold_rule", "recall>=0.9"),
        ("threshold_rule", "sensitivity>=1.5"),
        ("cv_folds", 1),
        ("cv_folds", 11),
        ("exclude", ["no such column"]),
        ("include", ["diagnosis"]),
    ],
)
def test_start_validates_the_new_fields(team, client_for, start_payload, field, value):
    client = client_for(team.owner)
    response = client.post("/api/train/start", start_payload(**{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()
