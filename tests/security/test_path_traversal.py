"""Path traversal in every id position of the URL conf and every file-name position.

Ids: every route with a placeholder (found by walking the URL conf, as the permission
matrix does) gets traversal, encoded and double-encoded traversal, NUL bytes, unicode
look-alikes and very long ids in each placeholder in turn: 400 or 404, never a 500.
File names: what a client names a file or an object only ever becomes a label; the
bytes land under server-generated keys inside the storage folders, and the name a
download offers is plain.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from collaboration.models import AuditEvent
from datasets.models import Dataset
from medilytica_site.asgi import application
from mlmodels.models import ModelArtifact

from ..medilytica_site.test_permission_matrix import OBJECT_ROUTES, concrete, world, ws_routes
from .conftest import files_under

__all__ = ["world"]  # the permission matrix's fixture: one object of every kind

pytestmark = pytest.mark.django_db

SOME_UUID = "3f1e5c2a-9b7d-4e8f-a6c1-2d3e4f5a6b7c"
HOSTILE_IDS = {
    "dotdot": "..",
    "traversal_encoded": "..%2F..%2F..%2Fetc%2Fpasswd",
    "traversal_double_encoded": "..%252F..%252F..%252Fetc%252Fpasswd",
    "dots_encoded": "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "backslashes": "..%5C..%5Cwindows%5Cwin.ini",
    "overlong_utf8": "%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "unicode_lookalikes": "%E2%80%A5%E2%88%95%E2%80%A5%E2%88%95etc",  # two-dot leader, ∕
    "fullwidth": "%EF%BC%8E%EF%BC%8E%EF%BC%8Fetc",
    "nul": "%00",
    "uuid_nul": f"{SOME_UUID}%00",
    "uuid_nul_suffix": f"{SOME_UUID}%00.json",
    "uuid_then_traversal": f"{SOME_UUID}%2F..%2F..",
    "absolute": "%2Fetc%2Fpasswd",
    "very_long": "a" * 10_000,
    "very_long_digits": "9" * 5_000,
    "uuid_too_long": SOME_UUID + "0" * 4_000,
    "sql": "1'%20OR%20'1'='1",
}


SECTIONS = sorted({template.split("/")[1] for template, _ in OBJECT_ROUTES})


def test_every_object_route_is_attacked():
    assert len(OBJECT_ROUTES) >= 15
    assert {"data", "models", "train", "viz", "workspaces", "rooms"} <= set(SECTIONS)


def _attack_path(template: str, placeholder: str, value: str, world: dict) -> str:
    marked = template.replace("{" + placeholder + "}", "HOSTILE", 1)
    return concrete(marked, world).replace("HOSTILE", value)


@pytest.mark.parametrize("section", SECTIONS)
def test_hostile_ids_are_refused_not_crashed(team, client_for, world, section):
    """Every route of the section, every method, each placeholder in turn, every value."""
    client = client_for(team.owner)
    failures, tried = [], 0
    for template, methods in OBJECT_ROUTES:
        if template.split("/")[1] != section:
            continue
        for placeholder in re.findall(r"\{(\w+)\}", template):
            for label, value in HOSTILE_IDS.items():
                for method in methods:
                    path = _attack_path(template, placeholder, value, world)
                    if method == "get":
                        response = client.get(path)
                    else:
                        response = getattr(client, method)(path, {}, format="json")
                    tried += 1
                    body = response.json() if response.status_code < 500 else None
                    # 404 for a path that names nothing; 400 naming the bad part (an alias)
                    if response.status_code not in (400, 404) or not body:
                        failures.append((method, template, label, response.status_code))
    assert tried >= len(HOSTILE_IDS)
    assert not failures, failures


def test_hostile_ids_change_nothing(team, client_for, world):
    client = client_for(team.owner)
    before = (Dataset.objects.count(), ModelArtifact.objects.count())
    for template, methods in OBJECT_ROUTES:
        if "delete" not in methods:
            continue
        for value in ("..%2F..", "%00", "a" * 5000, f"{SOME_UUID}%00"):
            placeholder = re.findall(r"\{(\w+)\}", template)[0]
            response = client.delete(_attack_path(template, placeholder, value, world))
            assert response.status_code in (400, 404)
    assert (Dataset.objects.count(), ModelArtifact.objects.count()) == before


WS_HOSTILE = ["..", "..%2F..%2Fetc", "%00", "a" * 5000, f"{SOME_UUID}%00", "%c0%ae%c0%ae"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("value", WS_HOSTILE)
@pytest.mark.parametrize("route", [r for r in ws_routes() if "{" in r])
async def test_hostile_ids_on_sockets_are_refused(route, value, team):
    from channels.db import database_sync_to_async

    from medilytica_site.services import ws_ticket_issue

    ticket = await database_sync_to_async(ws_ticket_issue)(user=team.owner)
    path = "/" + re.sub(r"\{\w+\}", value, route) + f"?ticket={ticket}"
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost")]
    )
    try:
        connected, _ = await communicator.connect(timeout=5)
        if connected:  # accepted only to be closed with 4403 before any data frame
            closed = await communicator.receive_output(timeout=5)
            assert closed == {"type": "websocket.close", "code": 4403}
        # else: refused in the handshake (no route matches), which daphne answers 403
    finally:
        await communicator.disconnect()


# --- file names ---------------------------------------------------------------------------

HOSTILE_NAMES = {
    "traversal": "../../../../etc/passwd.csv",
    "traversal_backslash": "..\\..\\..\\windows\\evil.csv",
    "absolute": "/etc/passwd.csv",
    "absolute_windows": "C:\\Windows\\System32\\evil.csv",
    "nul": "evil\x00.csv",
    "nul_then_extension": "evil.csv\x00.exe",
    "dotfile": ".htaccess.csv",
    "right_to_left_override": "report\u202evsc.exe.csv",
    "lookalike_slashes": "\u2025\u2215\u2025\u2215etc\u2215evil.csv",
    "fullwidth_dots": "\uff0e\uff0e\uff0fevil.csv",
    "newline_header_injection": 'evil"\r\nX-Injected: 1\r\n.csv',
    "very_long": "a" * 5000 + ".csv",
}
REFUSED_NAMES = {"nul_then_extension", "newline_header_injection"}
SAFE_ATTACHMENT = re.compile(r'^attachment; filename="[A-Za-z0-9._-]+"$')
CSV_BYTES = b"age,outcome\n" + b"".join(b"%d,%d\n" % (40 + i, i % 2) for i in range(20))


def _storage_root(tmp_path) -> Path:
    return tmp_path / "storage"


def _assert_confined(tmp_path, workspace_id) -> set[str]:
    """Every file the test wrote is inside a storage folder, under the workspace's
    server-generated folder: none escaped, none is named after the client's input."""
    everything = files_under(tmp_path)
    stored = {f for f in everything if f.startswith("storage/")}
    assert everything == stored, f"written outside storage: {everything - stored}"
    for relative in stored:
        parts = Path(relative).parts
        assert parts[2] == str(workspace_id), relative
        for part in parts[3:]:
            assert re.fullmatch(
                r"[0-9a-f-]{36}(\.[a-z.]+)?|original\.[a-z.]+|data\.parquet", part
            ), relative
    return stored


@pytest.mark.parametrize("label", list(HOSTILE_NAMES))
def test_dataset_file_names_stay_labels(team, client_for, tmp_path, label):
    client = client_for(team.owner)
    response = client.post(
        "/api/data/upload",
        {
            "file": SimpleUploadedFile(HOSTILE_NAMES[label], CSV_BYTES),
            "workspace": str(team.workspace.pk),
        },
        format="multipart",
    )
    if label in REFUSED_NAMES:  # what follows the NUL or the line break is no data type
        assert response.status_code == 400, response.content
        assert "Unsupported file type" in response.json()["detail"]
        assert not files_under(tmp_path) and not Dataset.objects.exists()
        return
    assert response.status_code == 202, response.content
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert "\x00" not in dataset.original_filename and "/" not in dataset.original_filename
    assert dataset.original_key.startswith(f"{team.workspace.pk}/{dataset.pk}/")
    stored = _assert_confined(tmp_path, team.workspace.pk)
    assert len(stored) == 2  # the original and its Parquet copy
    download = client.get(f"/api/data/{dataset.pk}/download")
    assert download.status_code == 200
    assert SAFE_ATTACHMENT.match(download["Content-Disposition"]), download["Content-Disposition"]
    assert b"".join(download.streaming_content) == CSV_BYTES


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "..\\..\\boot.ini", "\u202eexe.csv", "x" * 200]
)
def test_dataset_name_field_is_only_a_label(team, client_for, tmp_path, name):
    client = client_for(team.owner)
    response = client.post(
        "/api/data/upload",
        {
            "file": SimpleUploadedFile("data.csv", CSV_BYTES),
            "name": name,
            "workspace": str(team.workspace.pk),
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert response.json()["name"] == name.strip()
    _assert_confined(tmp_path, team.workspace.pk)
    download = client.get(f"/api/data/{response.json()['id']}/download")
    assert SAFE_ATTACHMENT.match(download["Content-Disposition"]), download["Content-Disposition"]


@pytest.mark.parametrize(
    ("path", "field", "extra"),
    [
        ("/api/data/upload", "name", {}),
        ("/api/data/upload", "description", {}),
        ("/api/models/upload", "name", {}),
    ],
)
def test_nul_in_a_name_field_is_a_400_naming_the_field(team, client_for, path, field, extra):
    from tests.mlmodels.test_upload import skops_upload

    upload = SimpleUploadedFile("data.csv", CSV_BYTES) if "data" in path else skops_upload()
    body = {"file": upload, "name": "ok", "workspace": str(team.workspace.pk), **extra}
    body[field] = "evil\x00name"
    response = client_for(team.owner).post(path, body, format="multipart")
    assert response.status_code == 400, response.content
    assert field in response.json() and "Null characters" in str(response.json()[field])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/workspaces", {"name": "evil\x00"}),
        ("/api/rooms", {"name": "evil\x00", "workspace": "WS"}),
        ("/api/auth/register", {"username": "evil\x00", "password": "a-Long-pass-9876"}),
    ],
)
def test_nul_in_json_name_fields_is_a_400(team, client_for, path, body):
    body = {k: (str(team.workspace.pk) if v == "WS" else v) for k, v in body.items()}
    response = client_for(team.owner).post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert "Null characters" in str(response.json())


@pytest.mark.parametrize(
    "label", ["traversal", "absolute", "nul", "right_to_left_override", "very_long"]
)
def test_model_file_names_stay_labels(team, client_for, tmp_path, label):
    from tests.mlmodels.test_upload import skops_upload

    filename = HOSTILE_NAMES[label].replace(".csv", ".skops")
    upload = skops_upload(filename)
    client = client_for(team.owner)
    response = client.post(
        "/api/models/upload",
        {"file": upload, "name": "../../" + label, "workspace": str(team.workspace.pk)},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "ready", response.content
    artifact = ModelArtifact.objects.get(pk=response.json()["id"])
    assert artifact.file_key.startswith(f"{team.workspace.pk}/")
    assert re.fullmatch(r"[0-9a-f-]{36}/[0-9a-f-]{36}\.skops", artifact.file_key), artifact.file_key
    original = artifact.lineage["original_filename"]
    assert "/" not in original and "\\" not in original and "\x00" not in original, original
    _assert_confined(tmp_path, team.workspace.pk)
    download = client.get(f"/api/models/{artifact.pk}/download")
    assert download.status_code == 200
    assert SAFE_ATTACHMENT.match(download["Content-Disposition"]), download["Content-Disposition"]
    assert AuditEvent.objects.filter(action="model.download", object_id=str(artifact.pk)).exists()


def test_a_forged_key_in_the_database_cannot_reach_outside_storage(team, client_for, tmp_path):
    """Defence in depth: even a key that somehow held `..` is refused by the storage."""
    client = client_for(team.owner)
    response = client.post(
        "/api/data/upload",
        {"file": SimpleUploadedFile("data.csv", CSV_BYTES), "workspace": str(team.workspace.pk)},
        format="multipart",
    )
    dataset = Dataset.objects.get(pk=response.json()["id"])
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    Dataset.objects.filter(pk=dataset.pk).update(original_key="../../secret.txt")
    download = client.get(f"/api/data/{dataset.pk}/download")
    assert download.status_code in (400, 404), download.status_code
    assert b"not yours" not in download.content
    assert uuid.UUID(str(dataset.pk))
