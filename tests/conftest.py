"""The one shared cast of every test: a workspace with an owner, an editor and a
viewer, and an outsider who belongs to another workspace only."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from collaboration.models import Role, Workspace
from collaboration.services import workspace_create

from .factories import PASSWORD, MembershipFactory, UserFactory


@dataclass
class Team:
    workspace: Workspace
    owner: object
    editor: object
    viewer: object
    outsider: object
    outsider_workspace: Workspace


@pytest.fixture(scope="session", autouse=True)
def _close_database_sessions(django_db_setup, django_db_blocker):
    """Before the PostgreSQL test database is dropped, end what still holds it: the
    per-process pool, and connections checked out by threads that async tests and
    consumers left behind (DROP DATABASE refuses while any session is open)."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()
            if connection.settings_dict["OPTIONS"].get("pool"):
                connection.close_pool()


@pytest.fixture(autouse=True)
def _clean_cache():
    # Throttle counters live in the cache; one test's requests must not throttle the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher costs ~0.3 s per user on purpose; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _storage_in_tmp(settings, tmp_path):
    """Every test writes its files under its own temporary folder."""
    stores = {name: dict(conf) for name, conf in settings.STORAGES.items()}
    for name in ("datasets", "models", "results", "default"):
        stores[name]["OPTIONS"] = {"location": str(tmp_path / "storage" / name)}
    # Assigning the setting fires setting_changed, which resets django's storage handler.
    settings.STORAGES = stores


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def team(db) -> Team:
    owner = UserFactory(username="alice")
    workspace = workspace_create(user=owner, name="Cardiology")
    editor = UserFactory(username="bob")
    viewer = UserFactory(username="carol")
    outsider = UserFactory(username="mallory")
    MembershipFactory(workspace=workspace, user=editor, role=Role.EDITOR)
    MembershipFactory(workspace=workspace, user=viewer, role=Role.VIEWER)
    outsider_workspace = workspace_create(user=outsider, name="Elsewhere")
    return Team(workspace, owner, editor, viewer, outsider, outsider_workspace)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for():
    """An API client signed in (by forced authentication) as the given user."""

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
