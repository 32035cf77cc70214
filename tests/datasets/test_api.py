"""List, detail, preview, download and delete: who sees what, and what they see."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from collaboration.models import AuditEvent
from collaboration.services import workspace_create, workspace_delete
from datasets import columnar
from datasets.models import Dataset
from datasets.services import dataset_storage

from .conftest import CLINICAL_CSV, parquet_bytes, storage_entries, stored_files

pytestmark = pytest.mark.django_db

MEMBERS = ["owner", "editor", "viewer"]
ROLES = [*MEMBERS, "outsider", "anonymous"]


def client_as(team, client_for, who):
    return client_for(None if who == "anonymous" else getattr(team, who))


def read_status(who: str) -> int:
    return {"outsider": 404, "anonymous": 401}.get(who, 200)


# --- permission matrix ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_list_shows_only_the_callers_workspaces(team, client_for, dataset, make_dataset, who):
    make_dataset(workspace=team.outsider_workspace, user=team.outsider, name="Theirs")
    response = client_as(team, client_for, who).get("/api/data")
    if who == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    names = [d["name"] for d in response.json()["results"]]
    assert names == (["Theirs"] if who == "outsider" else ["Clinic extract"])


@pytest.mark.parametrize("who", ROLES)
def test_detail_matrix(team, client_for, dataset, who):
    response = client_as(team, client_for, who).get(f"/api/data/{dataset.pk}")
    assert response.status_code == read_status(who)
    if who in MEMBERS:
        assert response.json()["id"] == str(dataset.pk)
    else:
        assert "columns" not in response.json()


@pytest.mark.parametrize("who", ROLES)
def test_preview_matrix(team, client_for, dataset, who):
    response = client_as(team, client_for, who).get(f"/api/data/preview/{dataset.pk}")
    assert response.status_code == read_status(who)
    audited = AuditEvent.objects.filter(action="dataset.preview", object_id=str(dataset.pk))
    assert audited.count() == (1 if who in MEMBERS else 0)
    if who not in MEMBERS:
        assert "rows" not in response.json()


@pytest.mark.parametrize("who", ROLES)
def test_download_matrix(team, client_for, dataset, who):
    response = client_as(team, client_for, who).get(f"/api/data/{dataset.pk}/download")
    assert response.status_code == read_status(who)
    audited = AuditEvent.objects.filter(action="dataset.download", object_id=str(dataset.pk))
    if who in MEMBERS:
        assert b"".join(response.streaming_content) == CLINICAL_CSV
        assert audited.get().user == getattr(team, who)
    else:
        assert not audited.exists()
        assert not getattr(response, "streaming", False)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 204), ("editor", 204), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_delete_matrix(
    team, client_for, dataset, who, expected, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(team, client_for, who).delete(f"/api/data/{dataset.pk}")
    assert response.status_code == expected
    if expected == 204:
        assert not Dataset.objects.exists()
        assert storage_entries() == []
        assert AuditEvent.objects.get(action="dataset.delete").user == getattr(team, who)
    else:
        assert Dataset.objects.filter(pk=dataset.pk).exists()
        assert len(stored_files()) == 2


def test_unknown_and_malformed_ids_are_404(team, client_for):
    client = client_for(team.owner)
    assert client.get("/api/data/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/api/data/not-a-uuid").status_code == 404
    assert client.get("/api/data/preview/not-a-uuid").status_code == 404


# --- contract details -----------------------------------------------------------------------


def test_trailing_slashes_are_optional(team, client_for, dataset):
    client = client_for(team.viewer)
    for path in (
        "/api/data",
        f"/api/data/{dataset.pk}",
        f"/api/data/preview/{dataset.pk}",
        f"/api/data/{dataset.pk}/download",
    ):
        assert client.get(path).status_code == 200, path
        assert client.get(path + "/").status_code == 200, path + "/"


def test_list_is_paginated_and_filters_by_workspace(team, client_for, make_dataset):
    other = workspace_create(user=team.owner, name="Oncology")
    make_dataset(name="A")
    make_dataset(name="B", workspace=other)
    client = client_for(team.owner)
    everything = client.get("/api/data").json()
    assert set(everything) == {"count", "next", "previous", "results"}
    assert everything["count"] == 2
    assert "columns" not in everything["results"][0]  # the list stays light
    only = client.get("/api/data", {"workspace": str(other.pk)}).json()
    assert [d["name"] for d in only["results"]] == ["B"]
    assert client.get("/api/data", {"workspace": "nope"}).status_code == 400
    paged = client.get("/api/data", {"page_size": 1}).json()
    assert paged["count"] == 2 and len(paged["results"]) == 1 and paged["next"]


def test_detail_carries_the_contract_fields(team, client_for, dataset):
    body = client_for(team.viewer).get(f"/api/data/{dataset.pk}").json()
    for field in ("columns", "rows", "sha256", "size_bytes", "suggested_targets"):
        assert field in body
    for column in body["columns"]:
        assert {"name", "dtype", "missing", "unique", "min", "max", "mean", "top"} <= set(column)


def test_download_has_a_safe_attachment_name(team, client_for, make_dataset):
    dataset = make_dataset(name='../../etc/passwd"; rm -rf', filename="x.csv")
    response = client_for(team.owner).get(f"/api/data/{dataset.pk}/download")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert disposition == 'attachment; filename="etc_passwd_rm_-rf.csv"'
    b"".join(response.streaming_content)


def test_delete_removes_files_only_after_commit(
    team, client_for, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(team.owner).delete(f"/api/data/{dataset.pk}")
    assert response.status_code == 204
    assert len(stored_files()) == 2  # still there until the row's deletion is committed
    for callback in callbacks:
        callback()
    assert storage_entries() == []


def test_deleting_the_workspace_removes_its_dataset_files(
    team, dataset, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workspace_delete(workspace=team.workspace, user=team.owner)
    assert not Dataset.objects.exists()
    assert storage_entries() == []


# --- preview -------------------------------------------------------------------------------------


@pytest.fixture
def numbered(make_dataset, monkeypatch):
    """103 rows written in row groups of 8, so pages cross row-group boundaries."""
    monkeypatch.setattr(columnar, "row_group_rows", lambda n_columns: 8)
    frame = pd.DataFrame({"n": range(103), "sq": [i * i for i in range(103)]})
    return make_dataset(frame.to_csv(index=False).encode(), "numbers.csv")


def test_preview_reads_only_the_row_groups_it_needs(team, numbered, monkeypatch):
    from datasets.services import dataset_preview

    assert pq.ParquetFile(dataset_storage().path(numbered.parquet_key)).num_row_groups == 13
    read = []
    real = pq.ParquetFile.read_row_groups

    def spy(self, row_groups, *args, **kwargs):
        read.append(list(row_groups))
        return real(self, row_groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    page = dataset_preview(dataset=numbered, user=team.viewer, offset=13, limit=10)
    assert [row[0] for row in page["rows"]] == list(range(13, 23))
    assert read == [[1, 2]]


@pytest.mark.parametrize(
    ("offset", "limit"), [(0, 50), (7, 1), (8, 8), (13, 10), (95, 50), (100, 500), (103, 5)]
)
def test_preview_pages_match_the_data(team, client_for, numbered, offset, limit):
    response = client_for(team.viewer).get(
        f"/api/data/preview/{numbered.pk}", {"offset": offset, "limit": limit}
    )
    assert response.status_code == 200
    body = response.json()
    expected = [[i, i * i] for i in range(offset, min(offset + limit, 103))]
    assert body == {
        "columns": ["n", "sq"],
        "rows": expected,
        "total_rows": 103,
        "offset": offset,
        "limit": limit,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"offset": -1}, "offset"),
        ({"offset": "abc"}, "offset"),
        ({"offset": 104}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_preview_refuses_bad_paging(team, client_for, numbered, query, field):
    response = client_for(team.owner).get(f"/api/data/preview/{numbered.pk}", query)
    assert response.status_code == 400
    assert field in response.json()


def test_preview_values_are_json_safe(team, client_for, make_dataset):
    frame = pd.DataFrame(
        {
            "x": [1.5, float("nan"), float("inf"), -float("inf")],
            "when": pd.to_datetime(
                ["2024-02-29 08:15:00", None, "2024-03-01 00:00:00", "2024-03-02 00:00:00"]
            ),
            "day": [pd.Timestamp("2024-01-01").date(), None, None, None],
            "text": ["a", None, "", "ü"],
        }
    )
    dataset = make_dataset(parquet_bytes(frame), "odd.parquet")
    response = client_for(team.owner).get(f"/api/data/preview/{dataset.pk}")
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert [r[0] for r in rows] == [1.5, None, None, None]
    assert rows[0][1] == "2024-02-29T08:15:00" and rows[1][1] is None
    assert rows[0][2] == "2024-01-01"
    assert rows[3][3] == "ü"
    detail = client_for(team.owner).get(f"/api/data/{dataset.pk}").json()
    x = detail["columns"][0]
    assert x["missing"] == 1  # NaN counts as missing
    # inf and -inf are not JSON: the bounds and mean they spoil are reported as null.
    assert (x["min"], x["max"], x["mean"]) == (None, None, None)
