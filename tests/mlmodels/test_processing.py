"""Model uploads checked by a worker: the version's life from `processing` to `ready`
or `rejected`, what may not use it meanwhile, and the per-user limit.

The suite runs Django-Q in sync mode, where the worker's part runs inside the upload
request; these tests hold it back (`queue_held`) to see the version while it waits.
The real queue is exercised in tests/integration/test_upload_worker.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import skops.io as sio
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.storage import storages
from django.utils import timezone

from collaboration.events import notifications_group
from collaboration.models import AuditEvent
from mlmodels import services
from mlmodels.models import ModelArtifact

from .test_upload import _sklearn_pipeline, _upload, accepted, no_model_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_held(monkeypatch):
    """Uploads are stored and queued, but no worker takes them until `run()`."""
    queued: list[str] = []
    monkeypatch.setattr(services, "queue_is_in_process", lambda: True)
    monkeypatch.setattr(services, "_enqueue_processing", queued.append)

    class Held:
        ids = queued

        @staticmethod
        def run() -> list[ModelArtifact | None]:
            done = [services.model_process(artifact_id=i) for i in queued]
            queued.clear()
            return done

    return Held


def model_bytes() -> bytes:
    return sio.dumps(_sklearn_pipeline()[0])


def model_files() -> list[str]:
    root = Path(storages["models"].location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def held_upload(team, client_for, name: str = "Risk") -> dict:
    response = _upload(client_for(team.editor), team, "risk.skops", model_bytes(), name=name)
    assert response.status_code == 202, response.content
    return response.json()


def test_the_answer_comes_before_the_check_with_the_version_processing(
    team, client_for, queue_held
):
    data = model_bytes()
    response = _upload(client_for(team.editor), team, "risk.skops", data, name="Risk")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["stage"], body["version"]) == ("processing", "queued", 1)
    assert (body["framework"], body["task"], body["feature_schema"]) == ("sklearn", "", [])
    # Hashed while it streamed in; stored as it came, for the worker.
    assert body["lineage"]["original_sha256"] == hashlib.sha256(data).hexdigest()
    # The schema's shape already (the estimator and libraries are the worker's to say).
    assert (body["lineage"]["estimator"], body["lineage"]["libraries"]) == (None, {})
    assert model_files() == [f"{team.workspace.pk}/{body['id']}.upload.skops"]
    assert [str(i) for i in queue_held.ids] == [body["id"]]
    received = AuditEvent.objects.get(action="model.receive")
    assert received.detail["filename"] == "risk.skops"
    assert not AuditEvent.objects.filter(action="model.register").exists()

    [done] = queue_held.run()
    assert (done.status, done.stage, done.task) == ("ready", "", "classification")
    assert [c["name"] for c in done.feature_schema] == ["age", "sex"]
    # The upload made way for the file predict loads.
    assert model_files() == [f"{team.workspace.pk}/{body['id']}.skops"]
    assert AuditEvent.objects.get(action="model.register").detail["via"] == "worker"


def test_a_version_that_is_not_ready_cannot_be_used(team, client_for, queue_held):
    model_id = held_upload(team, client_for)["id"]
    editor = client_for(team.editor)
    attempts = {
        "predict": lambda: editor.post(
            f"/api/models/{model_id}/predict", {"rows": [{"age": 50}]}, format="json"
        ),
        "download": lambda: editor.get(f"/api/models/{model_id}/download"),
        "card": lambda: editor.get(f"/api/models/{model_id}/card"),
        "graph": lambda: editor.get(f"/api/models/{model_id}/graph"),
        "alias": lambda: editor.post(
            f"/api/models/{model_id}/aliases", {"alias": "production"}, format="json"
        ),
    }
    for what, attempt in attempts.items():
        response = attempt()
        assert response.status_code == 409, (what, response.content)
        assert response.json()["code"] == "model_processing", what
        assert "still being checked" in response.json()["detail"], what
    # Still listed (the team sees it coming), but not among the models to use.
    assert editor.get("/api/models").json()["count"] == 1
    assert editor.get("/api/models", {"status": "ready"}).json()["count"] == 0

    ModelArtifact.objects.filter(pk=model_id).update(
        status="rejected", error="Refused: it is not a model."
    )
    response = attempts["predict"]()
    assert (response.status_code, response.json()["code"]) == (409, "model_rejected")
    assert response.json()["detail"].endswith("Refused: it is not a model.")


def test_each_user_has_at_most_uploads_per_user_processing(team, client_for, queue_held, settings):
    settings.UPLOADS_PER_USER = 2
    held_upload(team, client_for, name="a")
    held_upload(team, client_for, name="b")
    response = _upload(client_for(team.editor), team, "c.skops", model_bytes(), name="c")
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "too_many_uploads"
    assert "You have 2 model uploads being processed (the limit is 2 at once)" in body["detail"]
    assert ModelArtifact.objects.count() == 2 and len(model_files()) == 2
    # Another user is not held back by this one's uploads.
    other = _upload(client_for(team.owner), team, "d.skops", model_bytes(), name="d")
    assert other.status_code == 202, other.content
    queue_held.run()
    again = _upload(client_for(team.editor), team, "c.skops", model_bytes(), name="c")
    assert again.status_code == 202, again.content


def test_a_version_deleted_while_it_waits_leaves_no_file(
    team, client_for, queue_held, django_capture_on_commit_callbacks
):
    model_id = held_upload(team, client_for)["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(team.editor).delete(f"/api/models/{model_id}")
    assert response.status_code == 204, response.content
    assert queue_held.run() == [None]
    assert model_files() == []


def test_a_version_deleted_in_the_middle_of_its_check_keeps_no_copy(
    team, client_for, queue_held, monkeypatch, django_capture_on_commit_callbacks
):
    model_id = held_upload(team, client_for)["id"]
    prepare = services._prepare

    def deleted_meanwhile(raw, artifact):
        prepared = prepare(raw, artifact)
        ModelArtifact.objects.filter(pk=model_id).delete()
        return prepared

    monkeypatch.setattr(services, "_prepare", deleted_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_held.run() == [None]
    assert no_model_files()


def test_a_task_delivered_twice_is_checked_once(team, client_for, queue_held):
    model_id = held_upload(team, client_for)["id"]
    queue_held.ids.append(model_id)
    first, second = queue_held.run()
    assert first.status == "ready" and second is None
    assert AuditEvent.objects.filter(action="model.register").count() == 1


def test_an_unexpected_fault_in_the_worker_rejects_the_upload_and_says_so(
    team, client_for, queue_held, monkeypatch
):
    model_id = held_upload(team, client_for)["id"]

    def broken(*args, **kwargs):
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(services, "_prepare_sklearn", broken)
    [done] = queue_held.run()
    assert (done.status, done.error_code) == ("rejected", "processing_failed")
    assert "error on the server (MemoryError)" in done.error
    assert no_model_files() and str(done.pk) == model_id


def test_an_unreachable_queue_rejects_the_upload_instead_of_leaving_it_waiting(
    team, client_for, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("django_q.tasks.async_task", unreachable)
    response = _upload(client_for(team.editor), team, "risk.skops", model_bytes(), name="R")
    body = response.json()
    assert (body["status"], body["error_code"]) == ("rejected", "queue_unavailable")
    assert "task queue is unreachable (ConnectionError)" in body["error"]
    assert no_model_files()


def test_the_sweep_rejects_uploads_that_will_never_be_checked_and_keeps_those_in_line(
    team, client_for, queue_held, settings, monkeypatch
):
    from django_q.conf import Conf

    settings.UPLOADS_PER_USER = 3
    settings.MODEL_PROCESS_TIMEOUT = 600
    monkeypatch.setattr(Conf, "RETRY", 3000)
    long_ago = timezone.now() - timedelta(seconds=661)
    uploads = {name: held_upload(team, client_for, name=name)["id"] for name in "abc"}
    # a: a worker took it 661 s ago and never finished.
    ModelArtifact.objects.filter(pk=uploads["a"]).update(stage="checking", updated_at=long_ago)
    # b: queued 661 s ago, behind a long training run: it waits its turn.
    ModelArtifact.objects.filter(pk=uploads["b"]).update(created_at=long_ago)
    # c: queued longer than the queue's redelivery and the timeout together: lost.
    ModelArtifact.objects.filter(pk=uploads["c"]).update(
        created_at=timezone.now() - timedelta(seconds=661 + 3000)
    )
    assert services.model_sweep_stale() == 2
    states = {n: ModelArtifact.objects.get(pk=i) for n, i in uploads.items()}
    assert {n: m.status for n, m in states.items()} == {
        "a": "rejected",
        "b": "processing",
        "c": "rejected",
    }
    assert states["a"].error_code == states["c"].error_code == "processing_timeout"
    assert model_files() == [f"{team.workspace.pk}/{uploads['b']}.upload.skops"]
    # The workers that finally come for them find nothing to do but the one in line.
    assert [m and m.status for m in queue_held.run()] == [None, "ready", None]


def test_the_check_is_announced_and_a_refusal_audited(
    team, client_for, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(notifications_group(team.workspace.pk), channel)
    editor = client_for(team.editor)
    with django_capture_on_commit_callbacks(execute=True):
        good = accepted(_upload(editor, team, "risk.skops", model_bytes(), name="R"))
        bad = _upload(editor, team, "risk.skops", model_bytes(), name="R", task="regression")
    events = [async_to_sync(layer.receive)(channel)["event"] for _ in range(5)]
    assert [(e["type"], e["data"].get("stage")) for e in events] == [
        ("model.progress", "checking"),
        ("model.progress", "storing"),
        ("model.registered", None),
        ("model.progress", "checking"),
        ("model.rejected", None),
    ]
    assert [e["object_id"] for e in events] == [good["id"]] * 3 + [bad.json()["id"]] * 2
    assert events[1]["data"] == {"name": "R", "version": 1, "stage": "storing", "fraction": 0.67}
    assert events[4]["data"] == {
        "name": "R",
        "version": 2,
        "error": "task: The model is a classification model, not regression.",
    }
    body = bad.json()
    assert (body["status"], body["version"], body["error_code"]) == (
        "rejected",
        2,
        "invalid_task",
    )
    denied = AuditEvent.objects.get(action="model.upload", outcome="denied")
    assert denied.detail["code"] == "invalid_task" and denied.detail["via"] == "worker"
    assert denied.user_id == team.editor.pk


def test_a_version_in_every_state_matches_its_openapi_component(team, client_for, queue_held):
    """What clients are promised for a model holds before a worker has read the upload,
    and after it refused it, not only once it is ready."""
    from drf_spectacular.generators import SchemaGenerator

    from tests.training.test_contracts import strict

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]
    components = {name: strict(node) for name, node in components["schemas"].items()}
    schema = {**components["ModelArtifact"], "$defs": components}
    editor = client_for(team.editor)
    waiting = held_upload(team, client_for)
    refused = _upload(editor, team, "x.skops", b"not a zip", name="Broken").json()
    [ready] = queue_held.run()[:1]
    bodies = [waiting, editor.get(f"/api/models/{refused['id']}").json()]
    bodies.append(editor.get(f"/api/models/{ready.pk}").json())
    assert [b["status"] for b in bodies] == ["processing", "rejected", "ready"]
    for body in bodies:
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
