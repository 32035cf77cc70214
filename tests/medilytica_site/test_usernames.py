"""Usernames are unique as people read them (issue #15): after NFKC normalisation and
case folding, enforced by the database, and a look-alike is a 400 naming `username`."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, transaction

from collaboration.models import User
from medilytica_site import services
from medilytica_site.models import UsernameKey

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-pass-42"


def register(api, username: str):
    return api.post("/api/auth/register", {"username": username, "password": PASSWORD}, "json")


@pytest.mark.parametrize(
    ("existing", "lookalike"),
    [
        ("fi", "\ufb01"),  # the ﬁ ligature
        ("bob1", "Bob\uff11"),  # a full-width digit one, and a capital
        ("Straße", "STRASSE"),  # case folding, not lower-casing
        ("anna", "ANNA"),
    ],
)
def test_a_lookalike_registration_is_a_400_naming_username(api, existing, lookalike):
    UserFactory(username=existing)
    response = register(api, lookalike)
    assert response.status_code == 400, response.content
    assert "looks the same" in response.json()["username"][0]
    assert User.objects.count() == 1


def test_a_name_unlike_any_other_registers_with_its_key(api):
    UserFactory(username="fi")
    assert register(api, "fig").status_code == 201
    user = User.objects.get(username="fig")
    assert user.username_key.key == services.username_key("FIG")


def test_a_lookalike_that_wins_a_race_past_the_check_is_still_a_400(api, monkeypatch):
    """Two registrations at once both pass the serializer's check; the database refuses
    the second, and that is the same 400, not a 500."""
    UserFactory(username="fi")
    monkeypatch.setattr(services, "username_lookalike_exists", lambda **kwargs: False)
    response = register(api, "\ufb01")
    assert response.status_code == 400, response.content
    assert "username" in response.json()
    assert User.objects.count() == 1


def test_the_database_refuses_a_lookalike_made_through_the_orm():
    UserFactory(username="Straße")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="STRASSE")
    assert list(User.objects.values_list("username", flat=True)) == ["Straße"]


def test_the_database_refuses_a_rename_to_a_lookalike_but_not_to_ones_own_name():
    UserFactory(username="fi")
    other = UserFactory(username="fo")
    other.username = "FI"
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()
    me = User.objects.get(username="fi")
    me.username = "FI"
    me.save()
    assert UsernameKey.objects.get(user=me).key == services.username_key("fi")


@pytest.mark.django_db(transaction=True)
def test_createsuperuser_cannot_make_a_lookalike_and_leaves_no_user_without_a_key(
    monkeypatch,
):
    UserFactory(username="fi")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    with pytest.raises(IntegrityError):
        call_command("createsuperuser", username="FI", email="a@example.org", interactive=False)
    assert list(User.objects.values_list("username", flat=True)) == ["fi"]
    assert UsernameKey.objects.count() == 1


def test_the_migration_fills_keys_and_refuses_lookalikes_already_there():
    fill_keys = importlib.import_module("medilytica_site.migrations.0003_username_key").fill_keys
    users = [UserFactory(username=name) for name in ("fi", "Straße")]
    UsernameKey.objects.all().delete()
    fill_keys(apps, None)
    assert {k.user_id: k.key for k in UsernameKey.objects.all()} == {
        u.pk: services.username_key(u.username) for u in users
    }

    UsernameKey.objects.all().delete()
    User.objects.bulk_create([User(username="STRASSE")])  # bulk_create sends no signal
    with pytest.raises(RuntimeError, match="look alike"):
        fill_keys(apps, None)


@pytest.mark.parametrize("lookalike", ["\ufb01", "FI"])
def test_the_admin_says_a_lookalike_is_taken_on_its_forms(client, lookalike):
    """Adding or renaming a user to a look-alike in the admin is a form error, not a 500."""
    UserFactory(username="fi")
    admin = User.objects.create_superuser("curator", "curator@example.org", PASSWORD)
    client.force_login(admin)
    added = client.post(
        "/admin/collaboration/user/add/",
        {
            "username": lookalike,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )
    assert added.status_code == 200 and b"already exists" in added.content
    assert User.objects.count() == 2

    renamed = client.post(
        f"/admin/collaboration/user/{admin.pk}/change/",
        {"username": lookalike, "date_joined_0": "2026-12-07", "date_joined_1": "00:00:00"},
    )
    assert renamed.status_code == 200 and b"looks the same" in renamed.content
    admin.refresh_from_db()
    assert admin.username == "curator"
