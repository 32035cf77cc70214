"""model_register and friends: versions under collision, cleanup, events, integrity."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import storages
from django.db import IntegrityError
from django.db.models.query import QuerySet

from collaboration.events import notifications_group
from collaboration.models import AuditEvent
from mlmodels import services
from mlmodels.models import ModelArtifact

from .conftest import engine_result, register_result

pytestmark = pytest.mark.django_db


def _stored_files() -> list[str]:
    storage = storages["models"]
    try:
        folders, _ = storage.listdir("")
    except FileNotFoundError:
        return []
    return [name for folder in folders for name in storage.listdir(folder)[1]]


def test_register_records_lineage_and_audits(team):
    result = engine_result("random_forest", "classification")
    artifact = register_result(team, result)
    assert (artifact.version, artifact.framework, artifact.file_format) == (1, "sklearn", "skops")
    assert artifact.lineage["seed"] == 42 and artifact.lineage["model_type"] == "random_forest"
    assert artifact.lineage["libraries"]["scikit-learn"]
    assert artifact.positive_class == result.threshold["positive_class"]
    assert artifact.subgroup_metrics == {}  # None from the engine stays an empty mapping
    assert artifact.created_by == team.editor
    assert artifact.feature_schema[0] == {"name": "age", "type": "number", "nullable": True}
    assert (
        artifact.file_key.startswith(f"{team.workspace.pk}/") and "Sepsis" not in artifact.file_key
    )
    event = AuditEvent.objects.get(action="model.register")
    assert event.detail["version"] == 1 and event.detail["sha256"] == artifact.file_sha256


def test_version_collision_is_retried(team, monkeypatch):
    """Another writer takes version 1 between our read and our insert: the unique
    constraint refuses the duplicate and the allocation is retried."""
    result = engine_result("linear_regression", "regression")
    register_result(team, result, name="LOS")
    real = QuerySet.aggregate
    stale = {"left": 1}

    def aggregate(self, *args, **kwargs):
        answer = real(self, *args, **kwargs)
        if self.model is ModelArtifact and stale["left"]:
            stale["left"] -= 1
            return {"latest": None}
        return answer

    monkeypatch.setattr(QuerySet, "aggregate", aggregate)
    second = register_result(team, result, name="los")
    assert second.version == 2 and stale["left"] == 0
    with pytest.raises(IntegrityError):
        ModelArtifact.objects.create(
            **{
                field: getattr(second, field)
                for field in ("workspace_id", "name", "name_key", "version", "framework", "task")
            },
            file_key="x",
            file_sha256="0" * 64,
            size_bytes=1,
            file_format="skops",
        )


def test_failed_registration_leaves_no_file(team, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "audit_record", broken)
    with pytest.raises(RuntimeError):
        register_result(team, engine_result("random_forest", "classification"))
    assert not ModelArtifact.objects.exists()
    assert _stored_files() == []


def test_registered_event_is_sent_after_commit(team, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(notifications_group(team.workspace.pk), channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        artifact = register_result(team, engine_result("random_forest", "classification"))
    assert callbacks, "nothing is sent before the transaction commits"
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(channel)
    event = message["event"]
    assert (event["type"], event["object_id"]) == ("model.registered", str(artifact.pk))
    assert event["data"] == {
        "name": "Sepsis risk",
        "version": 1,
        "framework": "sklearn",
        "task": "classification",
    }


def test_tampered_stored_file_is_not_loaded(team, client_for, forest):
    storage = storages["models"]
    with open(storage.path(forest.file_key), "ab") as handle:
        handle.write(b"\0")
    response = client_for(team.viewer).post(
        f"/api/models/{forest.pk}/predict", {"rows": [{"age": 1}]}, format="json"
    )
    assert response.status_code == 409
    assert "sha256" in response.json()["detail"]


def test_model_load_gives_a_dataframe_predictor(team):
    from .conftest import clinical_frame

    result = engine_result("neural_network", "regression")
    artifact = register_result(team, result, name="Net LOS")
    frame = clinical_frame().drop(columns=["outcome", "los"]).head(5)
    loaded = services.model_load(artifact=artifact)
    assert services.model_load(artifact=artifact) is loaded
    assert list(loaded.predict(frame)) == pytest.approx(list(result.pipeline.predict(frame)))
    with pytest.raises(AttributeError):
        loaded.predict_proba(frame)
