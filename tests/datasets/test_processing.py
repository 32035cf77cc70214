"""Uploads parsed by a worker: the row's life from `processing` to `ready` or
`rejected`, what may not read it meanwhile, and the per-user limit.

The suite runs Django-Q in sync mode, where the worker's part runs inside the upload
request; these tests hold it back (`queue_held`) to see the row while it waits. The
real queue is exercised in tests/integration/test_upload_worker.py."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from collaboration.models import AuditEvent
from datasets import services
from datasets.models import Dataset

from .conftest import storage_entries, stored_files, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_held(monkeypatch):
    """Uploads are stored and queued, but no worker takes them until `run()`."""
    queued: list[str] = []
    monkeypatch.setattr(services, "queue_is_in_process", lambda: True)
    monkeypatch.setattr(
        services, "_enqueue_processing", lambda dataset_id: queued.append(dataset_id)
    )

    class Held:
        ids = queued

        @staticmethod
        def run() -> list[Dataset | None]:
            done = [services.dataset_process(dataset_id=i) for i in queued]
            queued.clear()
            return done

    return Held


def held_upload(team, client_for, content=b"age,outcome\n54,0\n61,1\n", name="c.csv", user=None):
    response = upload(
        client_for(user or team.editor), content, name, workspace=str(team.workspace.pk)
    )
    assert response.status_code == 202, response.content
    return response.json()


def test_the_answer_comes_before_the_parse_with_the_dataset_processing(
    team, client_for, queue_held, monkeypatch
):
    body = held_upload(team, client_for)
    monkeypatch.setattr(services, "file_sha256", lambda *a: pytest.fail("hashed twice"))
    assert (body["status"], body["stage"], body["error"]) == ("processing", "queued", "")
    assert (body["rows"], body["n_columns"], body["columns"]) == (0, 0, [])
    # Hashed while it streamed in: known before any worker reads it.
    assert body["sha256"] == hashlib.sha256(b"age,outcome\n54,0\n61,1\n").hexdigest()
    assert body["size_bytes"] == len(b"age,outcome\n54,0\n61,1\n")
    # The bytes are stored already; the Parquet copy comes from the worker.
    assert [p.name for p in stored_files()] == ["original.csv"]

    [done] = queue_held.run()
    assert done.status == "ready" and done.rows == 2 and done.n_columns == 2
    assert done.sha256 == body["sha256"]
    detail = client_for(team.viewer).get(f"/api/data/{body['id']}").json()
    assert (detail["status"], detail["stage"], detail["rows"]) == ("ready", "", 2)
    assert [c["name"] for c in detail["columns"]] == ["age", "outcome"]
    assert [p.name for p in stored_files()] == ["data.parquet", "original.csv"]


@pytest.mark.parametrize("path", ["/api/data/preview/{id}", "/api/data/{id}/download"])
def test_rows_of_a_processing_or_rejected_dataset_cannot_be_read(
    team, client_for, queue_held, path
):
    processing = held_upload(team, client_for)
    response = client_for(team.viewer).get(path.format(id=processing["id"]))
    assert response.status_code == 409
    assert response.json()["code"] == "dataset_processing"
    assert "still being processed" in response.json()["detail"]

    rejected = held_upload(team, client_for, b"a,b\n1,2\n3\n", "ragged.csv")
    queue_held.run()
    response = client_for(team.viewer).get(path.format(id=rejected["id"]))
    assert response.status_code == 409
    assert response.json()["code"] == "dataset_rejected"
    assert "rejected" in response.json()["detail"] and "Line 3" in response.json()["detail"]


def test_a_run_cannot_start_on_a_dataset_that_is_not_ready(team, client_for, queue_held):
    body = held_upload(team, client_for)
    payload = {"dataset": body["id"], "target": "outcome", "model_type": "logistic_regression"}
    response = client_for(team.editor).post("/api/train/start", payload, format="json")
    assert response.status_code == 400
    assert "still being processed" in response.json()["dataset"][0]


def test_each_user_has_at_most_uploads_per_user_processing(team, client_for, queue_held, settings):
    settings.UPLOADS_PER_USER = 2
    held_upload(team, client_for)
    held_upload(team, client_for)
    refused = upload(
        client_for(team.editor), b"a\n1\n", "third.csv", workspace=str(team.workspace.pk)
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_uploads"
    assert "You have 2 uploads being processed (the limit is 2 at once)" in refused.json()["detail"]
    assert Dataset.objects.count() == 2 and len(stored_files()) == 2  # nothing of the third

    held_upload(team, client_for, user=team.owner)  # another user's uploads are their own
    queue_held.run()
    held_upload(team, client_for)  # once they are done, the uploader may send more


def test_a_dataset_deleted_while_it_is_parsed_leaves_no_file(
    team, client_for, queue_held, django_capture_on_commit_callbacks
):
    body = held_upload(team, client_for)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(team.editor).delete(f"/api/data/{body['id']}/")
        assert response.status_code == 204
        assert queue_held.run() == [None]
    assert not Dataset.objects.exists()
    assert storage_entries() == []


def test_a_dataset_deleted_in_the_middle_of_its_parse_keeps_no_copy(
    team, client_for, queue_held, monkeypatch, django_capture_on_commit_callbacks
):
    body = held_upload(team, client_for)
    store = services._store

    def deleted_meanwhile(storage, key, *args, **kwargs):
        stored = store(storage, key, *args, **kwargs)
        if key.endswith("data.parquet"):  # the copy is written; now the user deletes
            services.dataset_delete(dataset=Dataset.objects.get(pk=body["id"]), user=team.editor)
        return stored

    monkeypatch.setattr(services, "_store", deleted_meanwhile)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_held.run() == [None]
    assert not Dataset.objects.exists()
    assert storage_entries() == []


def test_a_task_delivered_twice_is_parsed_once(team, client_for, queue_held):
    body = held_upload(team, client_for)
    queue_held.ids.append(body["id"])  # the queue hands the same task out again
    first, second = queue_held.run()
    assert first.status == "ready" and second is None
    assert AuditEvent.objects.filter(action="dataset.upload").count() == 1


def test_an_unexpected_fault_in_the_worker_rejects_the_upload_and_says_so(
    team, client_for, queue_held, monkeypatch
):
    body = held_upload(team, client_for)

    def broken(table):
        raise RuntimeError("profiler bug")

    monkeypatch.setattr(services.profiling, "profile_table", broken)
    [done] = queue_held.run()
    assert (done.status, done.error_code) == ("rejected", "processing_failed")
    assert "error on the server (RuntimeError)" in done.error
    assert storage_entries() == []
    failed = AuditEvent.objects.get(action="dataset.upload")
    assert (failed.outcome, failed.object_id) == ("failed", body["id"])


def test_an_unreachable_queue_rejects_the_upload_instead_of_leaving_it_waiting(
    team, client_for, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("django_q.tasks.async_task", unreachable)
    body = upload(
        client_for(team.editor), b"a\n1\n", "c.csv", workspace=str(team.workspace.pk)
    ).json()
    assert (body["status"], body["error_code"]) == ("rejected", "queue_unavailable")
    assert "task queue is unreachable (ConnectionError)" in body["error"]
    assert storage_entries() == []


def test_the_sweep_rejects_uploads_that_will_never_be_done_and_keeps_those_in_line(
    team, client_for, queue_held, settings, monkeypatch
):
    from django_q.conf import Conf

    settings.DATASET_PROCESS_TIMEOUT = 600
    monkeypatch.setattr(Conf, "RETRY", 3000)
    long_ago = timezone.now() - timedelta(seconds=661)
    uploads = {name: held_upload(team, client_for, name=f"{name}.csv")["id"] for name in "abc"}
    # a: a worker took it 661 s ago and never finished.
    Dataset.objects.filter(pk=uploads["a"]).update(stage="reading", updated_at=long_ago)
    # b: queued 661 s ago, behind a long training run: it waits its turn.
    Dataset.objects.filter(pk=uploads["b"]).update(created_at=long_ago, updated_at=long_ago)
    # c: queued longer than the queue's redelivery and the timeout together: lost.
    Dataset.objects.filter(pk=uploads["c"]).update(
        created_at=timezone.now() - timedelta(seconds=661 + 3000)
    )
    assert services.dataset_sweep_stale() == 2
    states = {n: Dataset.objects.get(pk=i) for n, i in uploads.items()}
    assert {n: d.status for n, d in states.items()} == {
        "a": "rejected",
        "b": "processing",
        "c": "rejected",
    }
    assert states["a"].error_code == states["c"].error_code == "processing_timeout"
    # The workers that finally come for them find nothing to do but the one in line.
    assert [d and d.status for d in queue_held.run()] == [None, "ready", None]
    assert [p.name for p in stored_files()] == ["data.parquet", "original.csv"]
