"""The curation admin: list, read-only preview and profile, re-profile, delete."""

from __future__ import annotations

import pytest
from django.test import Client

from collaboration.models import AuditEvent
from datasets.models import Dataset

from ..factories import UserFactory
from .conftest import storage_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db) -> tuple[Client, object]:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client, admin


def test_changelist_shows_workspace_size_and_rows(admin_client, dataset):
    client, _ = admin_client
    page = client.get("/admin/datasets/dataset/").content.decode()
    assert "Clinic extract" in page and "Cardiology" in page and "241" in page


def test_change_page_shows_first_rows_profile_and_identifiers(admin_client, dataset):
    client, admin = admin_client
    page = client.get(f"/admin/datasets/dataset/{dataset.pk}/change/").content.decode()
    assert "MRN-100004" in page  # a value from the first rows
    assert "date32[day]" in page  # the profile table
    assert "patient_id</b>: the column name suggests a patient or record identifier" in page
    assert AuditEvent.objects.get(action="dataset.preview").user == admin


def test_datasets_are_not_added_through_the_admin(admin_client):
    client, _ = admin_client
    assert client.get("/admin/datasets/dataset/add/").status_code == 403


def test_reprofile_action(admin_client, dataset):
    client, _ = admin_client
    Dataset.objects.filter(pk=dataset.pk).update(profile={}, rows=0)
    response = client.post(
        "/admin/datasets/dataset/",
        {"action": "reprofile", "_selected_action": [str(dataset.pk)]},
        follow=True,
    )
    assert "Re-profiled 1 dataset(s)." in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.rows == 5 and len(dataset.columns) == 7


def test_rename_and_delete_go_through_the_services(
    admin_client, dataset, django_capture_on_commit_callbacks
):
    client, admin = admin_client
    url = f"/admin/datasets/dataset/{dataset.pk}/change/"
    response = client.post(url, {"name": "Renamed", "description": "checked"})
    assert response.status_code == 302
    assert Dataset.objects.get().name == "Renamed"
    assert AuditEvent.objects.get(action="dataset.update").user == admin
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/datasets/dataset/{dataset.pk}/delete/", {"post": "yes"})
    assert not Dataset.objects.exists() and storage_entries() == []
    assert AuditEvent.objects.get(action="dataset.delete").user == admin


def test_processing_and_rejected_uploads_show_their_state_and_no_rows(admin_client, team):
    client, _ = admin_client
    processing = Dataset.objects.create(
        workspace=team.workspace,
        name="Arriving",
        size_bytes=10,
        status="processing",
        stage="queued",
    )
    rejected = Dataset.objects.create(
        workspace=team.workspace,
        name="Refused",
        size_bytes=10,
        status="rejected",
        error="Line 3 has 2 fields but the header has 3.",
        error_code="ragged_rows",
    )
    listing = client.get("/admin/datasets/dataset/?status__exact=processing").content.decode()
    assert "Arriving" in listing and "Refused" not in listing
    page = client.get(f"/admin/datasets/dataset/{processing.pk}/change/").content.decode()
    assert "None yet: the upload is being processed." in page
    page = client.get(f"/admin/datasets/dataset/{rejected.pk}/change/").content.decode()
    assert "Line 3 has 2 fields but the header has 3." in page
    assert not AuditEvent.objects.filter(action="dataset.preview").exists()
