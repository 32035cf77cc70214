"""POST /api/data/upload: formats, roles, and every kind of bad input."""

from __future__ import annotations

import gzip
import hashlib
import random

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

from collaboration.events import WorkspaceEvent, notifications_group, validate_event
from collaboration.models import AuditEvent
from collaboration.selectors import personal_workspace
from collaboration.services import user_register
from datasets.models import Dataset

from .conftest import parquet_bytes, storage_entries, stored_files, upload

pytestmark = pytest.mark.django_db


def preview(client, dataset_id, **query):
    response = client.get(f"/api/data/preview/{dataset_id}", query)
    assert response.status_code == 200, response.content
    return response.json()


# --- formats ---------------------------------------------------------------------------------


def test_csv_upload_returns_the_dataset_and_stores_original_and_parquet(
    team, client_for, clinical_csv
):
    response = upload(
        client_for(team.editor),
        clinical_csv,
        "../../etc/clinic extract.csv",
        workspace=str(team.workspace.pk),
        name="Clinic extract",
        description="January admissions",
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["name"] == "Clinic extract"
    assert body["description"] == "January admissions"
    assert body["workspace"] == str(team.workspace.pk)
    assert body["format"] == "csv" and body["delimiter"] == "," and body["encoding"] == "utf-8"
    assert body["rows"] == 5 and body["n_columns"] == 7
    assert body["size_bytes"] == len(clinical_csv)
    assert body["sha256"] == hashlib.sha256(clinical_csv).hexdigest()
    assert body["created_by"] == "bob"
    assert [c["name"] for c in body["columns"]] == [
        "patient_id",
        "age",
        "sex",
        "bmi",
        "smoker",
        "admitted",
        "outcome",
    ]
    dataset = Dataset.objects.get(pk=body["id"])
    # Keys come from the server: workspace/dataset ids, never the uploader's file name.
    assert dataset.original_key == f"{team.workspace.pk}/{dataset.pk}/original.csv"
    assert dataset.parquet_key == f"{team.workspace.pk}/{dataset.pk}/data.parquet"
    assert dataset.original_filename == "clinic extract.csv"
    assert [p.name for p in stored_files()] == ["data.parquet", "original.csv"]
    assert stored_files()[1].read_bytes() == clinical_csv


def test_name_defaults_to_the_file_name_and_workspace_to_the_personal_one(client_for):
    user = user_register(username="dora", password="a-long-enough-pass-42")
    response = upload(client_for(user), b"x,y\n1,2\n3,4\n", "vitals.csv.gz".replace(".gz", ""))
    assert response.status_code == 202, response.content
    assert response.json()["name"] == "vitals"
    assert response.json()["workspace"] == str(personal_workspace(user=user).pk)


def test_without_a_personal_workspace_the_workspace_field_is_required(team, client_for):
    response = upload(client_for(team.editor), b"x,y\n1,2\n", "a.csv")
    assert response.status_code == 400
    assert response.json()["workspace"] == ["This field is required."]


def test_tsv_semicolons_and_decimal_commas(team, client_for):
    client = client_for(team.owner)
    ws = str(team.workspace.pk)
    tsv = upload(client, b"a\tb\tc\n1\t2.5\tx\n3\t4.5\ty\n", "t.tsv", workspace=ws).json()
    assert (tsv["format"], tsv["delimiter"]) == ("tsv", "\t")
    assert preview(client, tsv["id"])["rows"] == [[1, 2.5, "x"], [3, 4.5, "y"]]
    semi = upload(client, b"a;b;c\n1;2,5;x\n3;4,25;y\n", "s.csv", workspace=ws).json()
    assert semi["delimiter"] == ";"
    assert preview(client, semi["id"])["rows"] == [[1, 2.5, "x"], [3, 4.25, "y"]]
    piped = upload(client, b"a|b\n1|2\n3|4\n", "p.txt", workspace=ws).json()
    assert preview(client, piped["id"])["columns"] == ["a", "b"]


def test_header_row_is_detected(team, client_for):
    client = client_for(team.owner)
    ws = str(team.workspace.pk)
    without = upload(client, b"1,2.5,3\n4,5.5,6\n", "n.csv", workspace=ws).json()
    assert preview(client, without["id"])["columns"] == ["column_1", "column_2", "column_3"]
    assert without["rows"] == 2
    with_header = upload(client, b"id,score\n1,2.5\n2,3.5\n", "h.csv", workspace=ws).json()
    assert preview(client, with_header["id"])["columns"] == ["id", "score"]


def test_utf8_bom_is_not_part_of_the_first_column_name(team, client_for):
    content = "\ufeffname,age\nRené,41\n".encode()
    body = upload(client_for(team.owner), content, "b.csv", workspace=str(team.workspace.pk)).json()
    page = preview(client_for(team.owner), body["id"])
    assert page["columns"] == ["name", "age"]
    assert page["rows"] == [["René", 41]]


def test_latin1_keeps_its_accents(team, client_for):
    content = "nom;ville;note\nJosé;Zürich;très bien\nAnaïs;Köln;çà\n".encode("latin-1")
    response = upload(client_for(team.owner), content, "fr.csv", workspace=str(team.workspace.pk))
    assert response.status_code == 202, response.content
    assert response.json()["encoding"] in ("cp1252", "latin-1")
    rows = preview(client_for(team.owner), response.json()["id"])["rows"]
    assert rows == [["José", "Zürich", "très bien"], ["Anaïs", "Köln", "çà"]]
    assert not any("\ufffd" in cell for row in rows for cell in row)


def test_latin1_bytes_beyond_the_sniffed_sample_are_still_decoded(team, client_for):
    head = b"name,n\n" + b"plain ascii,1\n" * 30_000  # more than the 256 KiB sample
    content = head + "Müller,2\n".encode("latin-1")
    response = upload(client_for(team.owner), content, "late.csv", workspace=str(team.workspace.pk))
    assert response.status_code == 202, response.content
    last = preview(client_for(team.owner), response.json()["id"], offset=30_000)["rows"]
    assert last == [["Müller", 2]]


def test_gzip_csv_is_decompressed_and_downloaded_as_uploaded(team, client_for, clinical_csv):
    packed = gzip.compress(clinical_csv)
    client = client_for(team.owner)
    response = upload(client, packed, "clinic.csv.gz", workspace=str(team.workspace.pk))
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["format"], body["compression"], body["rows"]) == ("csv", "gzip", 5)
    assert body["size_bytes"] == len(packed)
    download = client.get(f"/api/data/{body['id']}/download")
    assert b"".join(download.streaming_content) == packed


def test_parquet_upload_keeps_types(team, client_for):
    frame = pd.DataFrame(
        {
            "age": [54, 61, 47],
            "weight": [70.5, None, 80.25],
            "ward": pd.Categorical(["a", "b", "a"]),
            "seen": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 11:30", None]),
        }
    )
    client = client_for(team.owner)
    response = upload(
        client, parquet_bytes(frame), "labs.parquet", workspace=str(team.workspace.pk)
    )
    assert response.status_code == 202, response.content
    columns = {c["name"]: c for c in response.json()["columns"]}
    assert columns["age"]["dtype"] == "int64"
    assert columns["weight"]["missing"] == 1
    assert columns["ward"]["dtype"] == "string"  # the dictionary is decoded
    assert columns["seen"]["dtype"].startswith("timestamp")
    rows = preview(client, response.json()["id"])["rows"]
    assert rows[0] == [54, 70.5, "a", "2024-01-02T10:00:00"]
    assert rows[2][3] is None


# --- who may upload ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 202), ("editor", 202), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_upload_permission_matrix(team, client_for, clinical_csv, who, expected):
    user = None if who == "anonymous" else getattr(team, who)
    response = upload(client_for(user), clinical_csv, "c.csv", workspace=str(team.workspace.pk))
    assert response.status_code == expected, response.content
    assert Dataset.objects.count() == (1 if expected == 202 else 0)
    if expected != 202:
        assert "detail" in response.json() and storage_entries() == []


# --- bad input ---------------------------------------------------------------------------------
# What the cheap checks see (type, size, empty, the first bytes) is a 4xx naming the
# problem at once, leaving no row and no file. What only parsing finds is a 202 whose
# dataset ends `rejected` with the reason: the row stays so the uploader sees why,
# the stored file goes.


def _assert_refused(response, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    for fragment in fragments:
        assert fragment in body["detail"], body
    assert Dataset.objects.count() == 0
    assert storage_entries() == []


def _assert_rejected(response, code: str, *fragments: str) -> None:
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["error_code"]) == ("rejected", code), body
    for fragment in fragments:
        assert fragment in body["error"], body
    assert (body["rows"], body["n_columns"], body["columns"]) == (0, 0, [])
    dataset = Dataset.objects.get()
    assert (dataset.status, dataset.original_key, dataset.parquet_key) == ("rejected", "", "")
    assert storage_entries() == []


def _wide_csv(columns: int) -> bytes:
    header = ",".join(f"c{i}" for i in range(columns))
    return f"{header}\n{','.join('1' * columns)}\n".encode()


# (file name, content, code, fragments of the message); AT_ONCE are refused before a
# worker sees them.
AT_ONCE = {"empty.csv", "labs.xlsx", "notes", "plain.csv.gz"}
BAD_FILES = [
    ("empty.csv", b"", "empty_file", ["empty"]),
    ("blank.csv", b"\n\n  \n", "empty_file", ["empty"]),
    ("header.csv", b"age,sex,outcome\n", "no_rows", ["no data rows"]),
    ("noise.csv", random.Random(3).randbytes(4096), "not_text", ["binary data"]),
    ("sheet.csv", b"PK\x03\x04" + bytes(200), "not_text", ["Excel"]),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "ragged_rows", ["Line 3", "2 fields", "3"]),
    ("dups.csv", b"age,sex,age\n1,F,2\n", "duplicate_columns", ["Duplicate", "'age'"]),
    ("labs.xlsx", b"PK\x03\x04", "unsupported_type", [".xlsx", ".csv", ".parquet"]),
    ("notes", b"a,b\n1,2\n", "unsupported_type", ["(none)"]),
    ("fake.parquet", b"a,b\n1,2\n", "invalid_parquet", ["not a Parquet file"]),
    (
        "forged.parquet",
        b"PAR1" + bytes(64) + b"\xff\xff\xff\x7fPAR1",
        "invalid_parquet",
        ["claims"],
    ),
    ("plain.csv.gz", b"a,b\n1,2\n", "invalid_gzip", ["not gzip"]),
    ("cut.csv.gz", gzip.compress(b"a,b\n1,2\n" * 100)[:30], "invalid_gzip", ["corrupt"]),
    ("wide.csv", _wide_csv(2001), "too_many_columns", ["2001 columns", "2000"]),
]


@pytest.mark.parametrize(
    ("filename", "content", "code", "fragments"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_are_refused_without_a_trace(
    team, client_for, filename, content, code, fragments
):
    response = upload(client_for(team.owner), content, filename, workspace=str(team.workspace.pk))
    if filename in AT_ONCE:
        _assert_refused(response, 400, code, *fragments)
    else:
        _assert_rejected(response, code, *fragments)
    failed = AuditEvent.objects.get(action="dataset.upload")
    assert failed.outcome == "failed" and failed.detail["code"] == code
    assert failed.user == team.owner


def test_parquet_with_too_many_columns(team, client_for):
    frame = pd.DataFrame({f"c{i}": [1] for i in range(2001)})
    response = upload(
        client_for(team.owner), parquet_bytes(frame), "w.parquet", workspace=str(team.workspace.pk)
    )
    _assert_rejected(response, "too_many_columns", "2001 columns")


def test_parquet_with_nested_columns_is_refused(team, client_for):
    table = pa.table({"ids": pa.array([[1, 2], [3]])})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    response = upload(
        client_for(team.owner),
        sink.getvalue().to_pybytes(),
        "n.parquet",
        workspace=str(team.workspace.pk),
    )
    _assert_rejected(response, "nested_column", "'ids'")


def test_parquet_thrift_limits_stop_forged_metadata(team, client_for, settings):
    # A footer whose strings or lists exceed the limits is refused before Arrow
    # allocates what it claims.
    settings.DATASET_PARQUET_THRIFT_STRING_LIMIT = 64 * 1024
    table = pa.table({"a": [1, 2]}).replace_schema_metadata({"note": "x" * 200_000})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    response = upload(
        client_for(team.owner),
        sink.getvalue().to_pybytes(),
        "meta.parquet",
        workspace=str(team.workspace.pk),
    )
    _assert_rejected(response, "invalid_parquet", "could not be read")

    settings.DATASET_PARQUET_THRIFT_STRING_LIMIT = 16 * 1024 * 1024
    settings.DATASET_PARQUET_THRIFT_CONTAINER_LIMIT = 10
    frame = pd.DataFrame({f"c{i}": [1] for i in range(20)})
    Dataset.objects.all().delete()
    response = upload(
        client_for(team.owner), parquet_bytes(frame), "w.parquet", workspace=str(team.workspace.pk)
    )
    _assert_rejected(response, "invalid_parquet")


def test_gzip_bomb_is_stopped_at_the_decompressed_cap(team, client_for, settings):
    settings.DATASET_MAX_DECOMPRESSED_SIZE = 1024 * 1024
    bomb = gzip.compress(b"0,0\n" * 2_000_000, compresslevel=9)  # 8 MB from ~20 KB
    assert len(bomb) < 50_000
    response = upload(client_for(team.owner), bomb, "bomb.csv.gz", workspace=str(team.workspace.pk))
    _assert_rejected(response, "decompressed_too_large", "decompresses to more than", "1.0 MiB")


def test_default_decompressed_cap_follows_max_upload_size(settings):
    from datasets.services import ingest_limits

    settings.MAX_UPLOAD_SIZE = 10 * 1024 * 1024
    assert ingest_limits().max_decompressed_bytes == 20 * 1024 * 1024
    assert ingest_limits().max_columns == 2000


def test_file_over_the_cap_is_stopped_while_streaming(team, client_for, settings):
    settings.MAX_UPLOAD_SIZE = 1000
    response = upload(
        client_for(team.owner),
        b"a,b\n" + b"1,2\n" * 1000,
        "big.csv",
        workspace=str(team.workspace.pk),
    )
    _assert_refused(response, 413, "too_large", "larger than the upload limit of 1000 bytes")
    # Refused by the upload handler: the ingest service never saw it.
    assert not AuditEvent.objects.filter(action="dataset.upload").exists()


def test_body_over_the_cap_is_refused_from_content_length_before_reading(
    team, client_for, settings, monkeypatch
):
    settings.MAX_UPLOAD_SIZE = 1000
    spooled = []
    monkeypatch.setattr(
        TemporaryFileUploadHandler, "new_file", lambda self, *a, **k: spooled.append(a)
    )
    response = upload(
        client_for(team.owner), b"1,2\n" * 50_000, "big.csv", workspace=str(team.workspace.pk)
    )
    _assert_refused(response, 413, "too_large", "upload limit")
    assert spooled == []


def test_the_cap_also_holds_for_the_service(team, settings, tmp_path):
    from datasets.services import DatasetRejected, dataset_ingest

    settings.MAX_UPLOAD_SIZE = 100
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 100)
    with pytest.raises(DatasetRejected) as refused:
        dataset_ingest(user=team.owner, workspace=team.workspace, source=path, filename="big.csv")
    assert refused.value.status == 413
    assert Dataset.objects.count() == 0 and storage_entries() == []


def test_two_files_in_one_request_are_refused(team, client_for, clinical_csv):
    body = {
        "file": [
            SimpleUploadedFile("a.csv", clinical_csv),
            SimpleUploadedFile("b.csv", clinical_csv),
        ],
        "workspace": str(team.workspace.pk),
    }
    response = client_for(team.owner).post("/api/data/upload", body, format="multipart")
    _assert_refused(response, 400, "too_many_files", "exactly one file")


def test_many_file_fields_are_refused(team, client_for, clinical_csv):
    body = {f"file{i}": SimpleUploadedFile(f"{i}.csv", clinical_csv) for i in range(7)}
    body["file"] = SimpleUploadedFile("x.csv", clinical_csv)
    body["workspace"] = str(team.workspace.pk)
    response = client_for(team.owner).post("/api/data/upload", body, format="multipart")
    _assert_refused(response, 400, "too_many_files", "exactly one file")


def test_missing_file_is_a_field_error(team, client_for):
    response = client_for(team.owner).post(
        "/api/data/upload", {"workspace": str(team.workspace.pk)}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["file"] == ["No file was submitted."]


def test_json_body_is_refused(team, client_for):
    response = client_for(team.owner).post("/api/data/upload", {"file": "a,b"}, format="json")
    assert response.status_code == 415
    assert Dataset.objects.count() == 0


def test_a_failure_after_storing_removes_the_files(team, client_for, clinical_csv, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("datasets.services.audit_record", broken)
    with pytest.raises(RuntimeError):
        upload(client_for(team.owner), clinical_csv, "c.csv", workspace=str(team.workspace.pk))
    assert Dataset.objects.count() == 0
    assert storage_entries() == []


def filling_storage(monkeypatch, fails_at: int) -> list[str]:
    """FileSystemStorage on a disk that fills up at its `fails_at`-th write: like the
    real one, it leaves the part it wrote behind, then raises ENOSPC."""
    import errno
    import os

    from django.core.files.storage import FileSystemStorage

    real_save, calls = FileSystemStorage._save, []

    def save(self, name, content):
        calls.append(name)
        if len(calls) < fails_at:
            return real_save(self, name, content)
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"the first part")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    return calls


def test_a_full_storage_is_a_413_leaving_no_row_and_no_file(
    team, client_for, clinical_csv, monkeypatch
):
    calls = filling_storage(monkeypatch, fails_at=1)
    response = upload(
        client_for(team.editor), clinical_csv, "clinic.csv", workspace=str(team.workspace.pk)
    )
    assert response.status_code == 413, response.content
    body = response.json()
    assert body["code"] == "storage_full" and body["detail"].startswith("Storage is full")
    assert len(calls) == 1
    assert not Dataset.objects.exists()
    assert storage_entries() == []
    failed = AuditEvent.objects.get(action="dataset.upload")
    assert failed.outcome == "failed" and failed.detail["code"] == "storage_full"


def test_storage_filling_up_while_the_worker_stores_the_copy_rejects_the_upload(
    team, client_for, clinical_csv, monkeypatch
):
    calls = filling_storage(monkeypatch, fails_at=2)  # the original fits, the copy does not
    response = upload(
        client_for(team.editor), clinical_csv, "clinic.csv", workspace=str(team.workspace.pk)
    )
    _assert_rejected(response, "storage_full", "Storage is full")
    assert len(calls) == 2
    failed = AuditEvent.objects.get(action="dataset.upload")
    assert failed.outcome == "failed" and failed.detail["via"] == "worker"


# --- side effects of a good upload ------------------------------------------------------------


def test_upload_is_audited(team, client_for, clinical_csv):
    response = upload(
        client_for(team.editor), clinical_csv, "c.csv", workspace=str(team.workspace.pk)
    )
    received = AuditEvent.objects.get(action="dataset.receive")
    stored = AuditEvent.objects.get(action="dataset.upload")
    for event in (received, stored):
        assert event.outcome == "success"
        assert event.object_id == response.json()["id"]
        assert event.user == team.editor
        assert event.workspace_id == team.workspace.pk
    # The request's address is on the receipt; the worker's part has no request.
    assert received.remote_addr == "127.0.0.1"
    assert stored.detail["via"] == "worker" and stored.detail["rows"] == 5


def test_workspace_hears_of_the_upload_only_after_commit(
    team, client_for, clinical_csv, monkeypatch, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    group = notifications_group(team.workspace.pk)
    async_to_sync(layer.group_add)(group, channel)
    sent = []
    real_send = layer.group_send

    async def spy(group_name, message):
        sent.append((group_name, message))
        await real_send(group_name, message)

    monkeypatch.setattr(layer, "group_send", spy)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(
            client_for(team.owner),
            clinical_csv,
            "c.csv",
            workspace=str(team.workspace.pk),
            name="Labs",
        )
    assert response.status_code == 202
    assert sent == []  # nothing before the row is committed
    for callback in callbacks:
        callback()
    events = [async_to_sync(layer.receive)(channel)["event"] for _ in sent]
    async_to_sync(layer.group_discard)(group, channel)
    for event in events:
        validate_event(WorkspaceEvent, event)
        assert event["object_id"] == response.json()["id"]
        assert event["workspace"] == str(team.workspace.pk)
    # The worker's progress, stage by stage, then the dataset ready.
    *progress, done = events
    assert [(e["type"], e["data"]["stage"]) for e in progress] == [
        ("dataset.progress", stage) for stage in ("reading", "profiling", "storing", "saving")
    ]
    assert [e["data"]["fraction"] for e in progress] == sorted(
        e["data"]["fraction"] for e in progress
    )
    assert done["type"] == "dataset.uploaded" and done["data"] == {"name": "Labs"}
    assert {g for g, _ in sent} == {group} and len(sent) == 5


def test_browser_session_upload_with_csrf(team, clinical_csv, settings):
    # The session CSRF check reads the body during authentication: the streaming
    # limits must already be in place then.
    from django.middleware.csrf import _get_new_csrf_string
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(team.editor)
    body = {"file": SimpleUploadedFile("c.csv", clinical_csv), "workspace": str(team.workspace.pk)}
    refused = client.post("/api/data/upload", body, format="multipart")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]

    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    body["file"] = SimpleUploadedFile("c.csv", clinical_csv)
    ok = client.post("/api/data/upload", body, format="multipart", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 202, ok.content

    settings.MAX_UPLOAD_SIZE = 100
    body["file"] = SimpleUploadedFile("c.csv", clinical_csv)
    too_big = client.post("/api/data/upload", body, format="multipart", HTTP_X_CSRFTOKEN=token)
    assert too_big.status_code == 413 and too_big.json()["code"] == "too_large"
    assert Dataset.objects.count() == 1
