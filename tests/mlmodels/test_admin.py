"""The admin lists models with their aliases and metrics, downloads through the audited
service and never edits a file."""

from __future__ import annotations

import pytest
from django.test import Client

from collaboration.models import AuditEvent
from mlmodels.services import model_alias_set

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


def test_list_change_and_download(team, forest, admin_client):
    model_alias_set(artifact=forest, alias="production", user=team.owner)
    listing = admin_client.get("/admin/mlmodels/modelartifact/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "Sepsis risk" in text and "production" in text and "accuracy=" in text
    assert f"/admin/mlmodels/modelartifact/{forest.pk}/download/" in text

    change = admin_client.get(f"/admin/mlmodels/modelartifact/{forest.pk}/change/")
    assert change.status_code == 200
    form = change.context["adminform"].form
    assert set(form.fields) == {"intended_use", "limitations"}  # files and metadata read-only
    assert admin_client.get("/admin/mlmodels/modelartifact/add/").status_code == 403

    response = admin_client.get(f"/admin/mlmodels/modelartifact/{forest.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="model.download", username="root").exists()


def test_saving_goes_through_the_service(forest, admin_client):
    response = admin_client.post(
        f"/admin/mlmodels/modelartifact/{forest.pk}/change/",
        {
            "intended_use": "Adults in the ED",
            "limitations": "",
            "aliases-TOTAL_FORMS": "0",
            "aliases-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    forest.refresh_from_db()
    assert forest.intended_use == "Adults in the ED"
    assert AuditEvent.objects.filter(action="model.update", username="root").exists()
