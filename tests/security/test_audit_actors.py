"""Audit without gaps (issue #15, part 6): every service call that reads or changes data
records who acted and from where (DESIGN.md section 7).

Two checks: a walk over the real API and admin as one signed-in person, after which no
audit row may lack a user or an address (save the worker's rows, which act for the
run's creator, and the system's, from an explicit list); and a look at the service
modules' public functions, so that a new service without an actor fails here too.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from datetime import timedelta

import pytest
import skops.io as sio
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from pycrdt import Text
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression

import datasets.services
import mlmodels.services
import training.services
from collaboration.models import AuditEvent, Room
from training.models import RunStatus, TrainingRun

from ..collaboration.conftest import code_client, json_of_type, ws_open
from ..factories import UserFactory

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"
SOCKET_ADDRESS = "127.0.0.1"  # what Channels' test communicator gives as the peer

# Rows no person acted for, by action; each must say so with detail {"actor": "system"}.
SYSTEM_ACTIONS = {
    "run.finish": "the watchdog fails a run whose worker died; the queue refused a run",
}

# Public service functions that take no `user`, and why. Anything else in the service
# modules must take a required `user` and a `request` (None outside a request).
NOT_FOR_A_PERSON = {
    # Helpers: names, limits, errors and hashes; they read no stored data.
    "dataset_download_filename": "builds a file name",
    "dataset_storage": "returns the storage handle",
    "default_name": "builds a name",
    "display_filename": "cleans a name",
    "file_sha256": "hashes a file the caller is ingesting",
    "ingest_limits": "reads settings",
    "storage_full": "builds an error",
    "storage_is_full": "classifies an error",
    "upload_too_large": "builds an error",
    "model_too_large": "builds an error",
    "resident_bytes": "reads this process's memory",
    "alias_normalise": "validates a name",
    "library_versions": "reads package versions",
    "model_serialise": "encodes a pipeline the caller registers",
    "run_broadcast": "sends what a service already wrote",
    "results_summary": "shapes a run's headline metrics",
    "run_stream_ending": "rebuilds a run's last stream messages (no patient data)",
    # Model files into this process: predict audits the use, the graph shows structure.
    "model_file_read": "reads a model file for model_load",
    "model_load": "loads a model for predict and the graph view",
    # Files of rows already deleted by an audited service or a cascade.
    "files_remove_on_cascade": "post_delete hook: files of a deleted dataset",
    "model_file_remove": "files of a deleted model",
    "model_file_remove_on_cascade": "post_delete hook: files of a deleted model",
    # Work outside a request: its rows carry the run's creator or say "system".
    "run_execute": 'the worker, for run.created_by (detail {"via": "worker"})',
    "run_claim_next": "the worker takes the fairest queued run (its claim is a status change)",
    "run_enqueue": 'the queue hand-off; a refusal fails the run as {"actor": "system"}',
    "run_watchdog": 'fails dead runs as {"actor": "system"}',
    "dataset_process": 'the worker, for dataset.created_by (detail {"via": "worker"})',
    "dataset_sweep_stale": "rejects uploads whose worker never finished, for their uploader",
    "model_process": 'the worker, for the upload\'s created_by (detail {"via": "worker"})',
    "model_sweep_stale": "rejects model uploads whose worker never finished, for their uploader",
    "check_upload_limit": "counts the user's uploads in progress (the caller audits)",
    "queue_is_in_process": "reads the task queue's mode",
    "stale_uploads": "selects uploads for a sweep (which audits what it rejects)",
    "model_require_ready": "checks a model's state",
}

SERVICE_MODULES = (datasets.services, training.services, mlmodels.services)

CSV = "age,sex,bmi,outcome\n" + "".join(
    f"{30 + i % 50},{'FM'[i % 2]},{20 + i % 13}.5,{'sick' if (i * 7) % 5 < 2 else 'well'}\n"
    for i in range(80)
)


def _public_services():
    for module in SERVICE_MODULES:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield name, function


def test_every_service_takes_its_actor():
    missing = []
    for name, function in _public_services():
        if name in NOT_FOR_A_PERSON:
            continue
        parameters = inspect.signature(function).parameters
        user = parameters.get("user")
        if user is None or user.default is not inspect.Parameter.empty:
            missing.append(f"{name}: no required `user`")
        if "request" not in parameters:
            missing.append(f"{name}: no `request` (the address)")
    assert not missing, "services without an actor:\n" + "\n".join(missing)
    stale = set(NOT_FOR_A_PERSON) - {name for name, _ in _public_services()}
    assert not stale, f"NOT_FOR_A_PERSON lists functions that no longer exist: {stale}"


def _client(user) -> APIClient:
    client = APIClient(REMOTE_ADDR=ADDRESS)
    client.force_authenticate(user)
    return client


def _ok(response, status=200):
    assert response.status_code == status, response.content
    return response


def _skops_model() -> SimpleUploadedFile:
    import pandas as pd

    frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "bmi": [20.0, 25.0, 30.0, 35.0]})
    model = LogisticRegression().fit(frame, ["well", "well", "sick", "sick"])
    return SimpleUploadedFile("small.skops", sio.dumps(model))


def test_walking_the_services_leaves_no_row_without_an_actor(
    team, django_capture_on_commit_callbacks
):
    editor = _client(team.editor)
    ws = str(team.workspace.pk)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    staff = Client(REMOTE_ADDR=ADDRESS)
    staff.force_login(admin)  # a test shortcut: its auth.login row has no address
    before = set(AuditEvent.objects.values_list("pk", flat=True))

    # Datasets: upload, preview (JSON and CSV), download.
    upload = SimpleUploadedFile("ward.csv", CSV.encode(), content_type="text/csv")
    dataset_id = _ok(
        editor.post("/api/data/upload", {"file": upload, "workspace": ws}, format="multipart"),
        202,
    ).json()["id"]
    _ok(editor.get(f"/api/data/preview/{dataset_id}", {"limit": 5}))
    _ok(editor.get(f"/api/data/preview/{dataset_id}", {"limit": 5, "format": "csv"}))
    b"".join(_ok(editor.get(f"/api/data/{dataset_id}/download")).streaming_content)

    # The admin: its change page previews rows; rename and re-profile.
    change = f"/admin/datasets/dataset/{dataset_id}/change/"
    _ok(staff.get(change))
    _ok(staff.post(change, {"name": "Ward", "description": "checked"}), 302)
    reprofile = {"action": "reprofile", "_selected_action": [dataset_id]}
    _ok(staff.post("/admin/datasets/dataset/", reprofile), 302)

    # Training: a run trained by the (synchronous) worker; its results; a run stopped.
    start = {
        "dataset": dataset_id,
        "target": "outcome",
        "positive_class": "sick",
        "model_type": "logistic_regression",
    }
    with django_capture_on_commit_callbacks(execute=True):
        run_id = _ok(editor.post("/api/train/start", start, format="json"), 202).json()["id"]
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED, run.error
    _ok(editor.get(f"/api/train/results/{run_id}"))
    queued = _ok(editor.post("/api/train/start", start, format="json"), 202).json()["id"]
    _ok(editor.post(f"/api/train/stop/{queued}"), 202)

    # The watchdog fails a run whose worker stopped beating: a system action.
    stuck = _ok(editor.post("/api/train/start", start, format="json"), 202).json()["id"]
    TrainingRun.objects.filter(pk=stuck).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert training.services.run_watchdog() == [stuck]

    # Models: the trained one predicted, aliased, described, downloaded; one uploaded.
    model_id = str(run.model_id)
    rows = [{"age": 41, "sex": "F", "bmi": 22.5}, {"age": 67, "sex": "M", "bmi": 31.5}]
    _ok(editor.post(f"/api/models/{model_id}/predict", {"rows": rows}, format="json"))
    _ok(editor.post(f"/api/models/{model_id}/aliases", {"alias": "prod"}, format="json"))
    _ok(editor.delete(f"/api/models/{model_id}/aliases/prod"), 204)
    _ok(editor.patch(f"/api/models/{model_id}", {"intended_use": "ward"}, format="json"))
    b"".join(_ok(editor.get(f"/api/models/{model_id}/download")).streaming_content)
    uploaded = _ok(
        editor.post(
            "/api/models/upload",
            {"file": _skops_model(), "name": "Small", "workspace": ws},
            format="multipart",
        ),
        202,
    ).json()["id"]

    # Deletes.
    with django_capture_on_commit_callbacks(execute=True):
        _ok(editor.delete(f"/api/models/{uploaded}"), 204)
        _ok(editor.delete(f"/api/models/{model_id}"), 204)
        _ok(editor.delete(f"/api/data/{dataset_id}"), 204)

    events = AuditEvent.objects.exclude(pk__in=before).select_related("user")
    gaps = []
    for row in events:
        where = f"{row.action} user={row.username or None} addr={row.remote_addr} {row.detail}"
        if row.detail.get("actor") == "system":
            if row.action not in SYSTEM_ACTIONS or row.user is not None:
                gaps.append(f"{where}: not an allowed system action")
        elif row.detail.get("via") == "worker":
            if row.user != team.editor:  # the worker acts for the run's or upload's creator
                gaps.append(f"{where}: a worker row must carry the creator")
        elif row.user not in (team.editor, admin) or row.remote_addr != ADDRESS:
            gaps.append(f"{where}: no actor or no address")
    assert not gaps, "audit rows without an actor:\n" + "\n".join(gaps)
    actions = {event.action for event in events}
    assert actions >= {
        "dataset.receive",
        "dataset.upload",
        "dataset.preview",
        "dataset.download",
        "dataset.update",
        "dataset.reprofile",
        "dataset.load",
        "run.start",
        "run.stop",
        "run.finish",
        "model.register",
        "model.predict",
        "model.alias.set",
        "model.alias.unset",
        "model.update",
        "model.download",
        "model.delete",
        "dataset.delete",
    }, actions
    by_worker = events.filter(detail__via="worker")
    assert {row.action for row in by_worker} == {
        "dataset.upload",  # the upload parsed by the worker, for its uploader
        "dataset.load",
        "model.register",
        "run.finish",
    }
    system = events.get(detail__actor="system")
    assert (system.action, system.object_id, system.outcome) == ("run.finish", stuck, "failed")


def test_workspace_and_membership_changes_record_who_and_from_where(team):
    owner = _client(team.owner)
    newcomer = UserFactory(username="newcomer")
    before = set(AuditEvent.objects.values_list("pk", flat=True))

    workspace = _ok(owner.post("/api/workspaces", {"name": "Audit ward"}, format="json"), 201)
    ws = workspace.json()["id"]
    _ok(owner.patch(f"/api/workspaces/{ws}", {"name": "Audit ward 2"}, format="json"))
    member = {"username": "newcomer", "role": "editor"}
    _ok(owner.post(f"/api/workspaces/{ws}/members", member, format="json"), 201)
    demoted = {"username": "newcomer", "role": "viewer"}
    _ok(owner.post(f"/api/workspaces/{ws}/members", demoted, format="json"), 201)
    _ok(owner.delete(f"/api/workspaces/{ws}/members/{newcomer.pk}"), 204)
    _ok(owner.delete(f"/api/workspaces/{ws}"), 204)

    events = AuditEvent.objects.exclude(pk__in=before)
    actions = sorted(event.action for event in events)
    assert actions == [
        "membership.remove",
        "membership.set",
        "membership.set",
        "workspace.create",
        "workspace.delete",
        "workspace.update",
    ]
    assert {(event.user_id, event.remote_addr) for event in events} == {(team.owner.pk, ADDRESS)}


@pytest.mark.django_db(transaction=True)
async def test_chat_messages_and_code_edits_record_who_and_from_where(team):
    """Through the sockets: a chat message is audited with its author and the socket's
    address; a code socket's edits get one row, at its first stored edit."""
    general = await database_sync_to_async(Room.objects.get)(
        workspace=team.workspace, name=Room.GENERAL
    )
    before = await database_sync_to_async(
        lambda: set(AuditEvent.objects.values_list("pk", flat=True))
    )()
    chat = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    await json_of_type(chat, "history")
    await chat.send_json_to({"type": "message", "text": "hello"})
    await json_of_type(chat, "message")
    await chat.disconnect()

    def new_rows():
        return list(
            AuditEvent.objects.exclude(pk__in=before)
            .order_by("action")
            .values_list("action", "user_id", "remote_addr")
        )

    async with code_client(team.editor, general.pk) as doc:
        doc.get("code", type=Text).insert(0, "x = 1")
        doc.get("code", type=Text).insert(0, "# two edits, one row\n")
        deadline = time.monotonic() + 5
        while len(await database_sync_to_async(new_rows)()) < 2:
            assert time.monotonic() < deadline, "the code socket's edit was never audited"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the second edit, stored too, adds no row

    rows = await database_sync_to_async(new_rows)()
    assert [action for action, _, _ in rows] == ["chat.message", "code.edit"]
    assert {(user, address) for _, user, address in rows} == {(team.editor.pk, SOCKET_ADDRESS)}
