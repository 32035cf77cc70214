"""The service API other apps call: ingest sources, loading for training, re-profiling."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.http import Http404

from collaboration.models import AuditEvent
from datasets import columnar
from datasets.models import Dataset
from datasets.selectors import dataset_columns, dataset_get_for_user
from datasets.services import (
    INGEST_STAGES,
    dataset_ingest,
    dataset_load_dataframe,
    dataset_load_table,
    dataset_reprofile,
    dataset_storage,
)

from .conftest import CLINICAL_CSV, stored_files

pytestmark = pytest.mark.django_db


def test_load_dataframe_returns_the_data_and_audits_the_use(team, dataset):
    frame = dataset_load_dataframe(dataset=dataset, user=team.editor, purpose="training")
    expected = pd.read_csv(io.BytesIO(CLINICAL_CSV))
    assert list(frame.columns) == list(expected.columns)
    assert frame["age"].tolist() == expected["age"].tolist()
    assert frame["bmi"].isna().tolist() == expected["bmi"].isna().tolist()
    assert frame["patient_id"].tolist() == expected["patient_id"].tolist()
    event = AuditEvent.objects.get(action="dataset.load")
    assert event.user == team.editor and event.object_id == str(dataset.pk)
    assert event.detail["purpose"] == "training" and event.detail["rows"] == 5


def test_load_a_subset_of_columns(team, dataset):
    table = dataset_load_table(
        dataset=dataset, user=team.editor, columns=["age", "outcome"], purpose="predict"
    )
    assert table.column_names == ["age", "outcome"]
    with pytest.raises(ValueError, match="'nope'"):
        dataset_load_dataframe(dataset=dataset, user=team.editor, columns=["nope"])
    assert AuditEvent.objects.get(action="dataset.load").detail["purpose"] == "predict"


def test_selectors(team, dataset):
    assert dataset_get_for_user(user=team.viewer, id=dataset.pk) == dataset
    for user, id_ in ((team.outsider, dataset.pk), (team.owner, "x"), (team.owner, None)):
        with pytest.raises(Http404):
            dataset_get_for_user(user=user, id=id_)
    assert dataset_columns(dataset=dataset)[:3] == ["patient_id", "age", "sex"]


@pytest.mark.parametrize("kind", ["path", "bytesio", "simple", "temporary"])
def test_ingest_accepts_paths_and_file_objects(team, tmp_path, kind):
    if kind == "path":
        source = tmp_path / "c.csv"
        source.write_bytes(CLINICAL_CSV)
    elif kind == "bytesio":
        source = io.BytesIO(CLINICAL_CSV)
    elif kind == "simple":
        source = SimpleUploadedFile("c.csv", CLINICAL_CSV)
    else:
        source = TemporaryUploadedFile("c.csv", "text/csv", len(CLINICAL_CSV), None)
        source.write(CLINICAL_CSV)
        source.seek(0)
    stages = []
    dataset = dataset_ingest(
        user=team.owner,
        workspace=team.workspace,
        source=source,
        filename="c.csv",
        progress=stages.append,
    )
    if kind == "temporary":
        source.close()  # moved into storage; closing it must not fail (Django closes uploads)
    assert stages == list(INGEST_STAGES)
    assert dataset.rows == 5
    with dataset_storage().open(dataset.original_key) as fh:
        assert fh.read() == CLINICAL_CSV
    if kind == "path":
        assert source.read_bytes() == CLINICAL_CSV  # a caller's file is copied, never moved


def test_parquet_copy_uses_the_row_group_layout(team, make_dataset):
    frame = pd.DataFrame({f"c{i}": range(20_000) for i in range(20)})
    dataset = make_dataset(frame.to_csv(index=False).encode(), "wide.csv")
    meta = pq.read_metadata(dataset_storage().path(dataset.parquet_key))
    assert columnar.row_group_rows(20) == 4096
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [4096, 4096, 4096, 4096, 3616]


@pytest.mark.parametrize(("columns", "rows"), [(1, 65536), (5, 16384), (20, 4096), (2000, 1024)])
def test_row_group_rows(columns, rows):
    assert columnar.row_group_rows(columns) == rows


def test_reprofile_recomputes_from_the_parquet_copy(team, dataset):
    Dataset.objects.filter(pk=dataset.pk).update(profile={"columns": []}, rows=0)
    dataset.refresh_from_db()
    dataset_reprofile(dataset=dataset, user=team.owner)
    dataset.refresh_from_db()
    assert dataset.rows == 5 and len(dataset.columns) == 7
    assert dataset.columns[1]["mean"] == pytest.approx(54.0)
    assert AuditEvent.objects.filter(action="dataset.reprofile").count() == 1


def test_two_datasets_never_share_files(team, make_dataset):
    first, second = make_dataset(), make_dataset()
    assert first.original_key != second.original_key
    assert len(stored_files()) == 4
