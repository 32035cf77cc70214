"""manage.py import_dataset and load_demo_data."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from collaboration.models import Workspace
from collaboration.services import workspace_create
from datasets.models import Dataset

from .conftest import CLINICAL_CSV, storage_entries

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_bytes(CLINICAL_CSV)
    return path


def test_import_by_workspace_name(team, csv_path):
    out, err = run("import_dataset", str(csv_path), "--workspace", "Cardiology")
    dataset = Dataset.objects.get()
    assert (dataset.name, dataset.workspace, dataset.created_by) == (
        "clinic",
        team.workspace,
        team.owner,
    )
    assert "5 rows x 7 columns" in out and "Likely identifiers (PHI): patient_id" in out
    assert "clinic.csv" in err and "4/4" in err  # the tqdm bar ran to the end


def test_import_by_id_with_name_and_user(team, csv_path):
    run(
        "import_dataset",
        str(csv_path),
        "--workspace",
        str(team.workspace.pk),
        "--name",
        "Ward 3",
        "--user",
        "bob",
        "--description",
        "nightly",
    )
    dataset = Dataset.objects.get()
    assert (dataset.name, dataset.created_by, dataset.description) == (
        "Ward 3",
        team.editor,
        "nightly",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "Nowhere"], "no workspace with id or name 'Nowhere'"),
        (["--workspace", "Cardiology", "--user", "carol"], "not an owner or editor"),
        (["--workspace", "Cardiology", "--user", "ghost"], "no active user named 'ghost'"),
    ],
)
def test_import_refuses_bad_options(team, csv_path, args, message):
    with pytest.raises(CommandError, match=message):
        run("import_dataset", str(csv_path), *args)
    assert not Dataset.objects.exists()


def test_import_refuses_ambiguous_workspace_names(team, csv_path):
    workspace_create(user=team.editor, name="Cardiology")
    with pytest.raises(CommandError, match="2 workspaces are named 'Cardiology'"):
        run("import_dataset", str(csv_path), "--workspace", "Cardiology")


def test_import_reports_a_bad_file_and_leaves_nothing(team, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b\n1,2,3\n")
    with pytest.raises(CommandError, match="bad.csv: Line 2 has 3 fields"):
        run("import_dataset", str(bad), "--workspace", "Cardiology")
    with pytest.raises(CommandError, match="no such file"):
        run("import_dataset", str(tmp_path / "missing.csv"), "--workspace", "Cardiology")
    assert not Dataset.objects.exists() and storage_entries() == []


def test_load_demo_data_is_idempotent(db, monkeypatch, settings):
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-for-tests-42")
    settings.HOST, settings.PORT = "127.0.0.1", 8123
    out, _ = run("load_demo_data")
    workspace = Workspace.objects.get(is_personal=True, created_by__username="demo")
    datasets = {d.name: d for d in Dataset.objects.filter(workspace=workspace)}
    cancer = datasets["Breast cancer (Wisconsin diagnostic)"]
    diabetes = datasets["Diabetes progression"]
    assert (cancer.rows, cancer.n_columns) == (569, 31)
    diagnosis = next(c for c in cancer.columns if c["name"] == "diagnosis")
    assert {t["value"]: t["count"] for t in diagnosis["top"]} == {"benign": 357, "malignant": 212}
    assert cancer.suggested_targets[0]["column"] == "diagnosis"
    assert cancer.suggested_targets[0]["task"] == "classification"
    assert (diabetes.rows, diabetes.suggested_targets[0]["column"]) == (442, "progression")
    assert diabetes.suggested_targets[0]["task"] == "regression"
    assert "username: demo" in out and "password: demo-pass-for-tests-42" in out
    assert "Web app:  http://127.0.0.1:8123/\n" in out
    assert "http://127.0.0.1:8123/api/docs" in out and "http://127.0.0.1:8123/admin/" in out
    assert "createsuperuser" in out
    assert not workspace.created_by.is_staff

    again, _ = run("load_demo_data")
    assert again.count("already there, skipped") == 2
    assert Dataset.objects.count() == 2
