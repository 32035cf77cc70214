"""One login policy (issue #15): the admin's login page and the API's login views share
the lockout, the throttle and the audit; the lockout counts per username *and* address,
so a stranger's guesses lock out the stranger, not the account's owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from collaboration.models import AuditEvent

from ..factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lockout_after_three")]

OWNER_ADDRESS = "127.0.0.1"  # the test clients' REMOTE_ADDR
STRANGER_ADDRESS = "203.0.113.9"


@pytest.fixture
def lockout_after_three():
    with override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=900):
        yield


def admin_login(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **extra
    )


def obtain(username: str, password: str = PASSWORD, **extra):
    return APIClient().post(
        "/api/auth/token", {"username": username, "password": password}, format="json", **extra
    )


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def later(seconds: int) -> None:
    """Let `seconds` pass for the lockout: every counted failure moves that far back."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=seconds))


def test_admin_login_locks_after_the_failure_limit_and_is_audited():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(3):
        assert admin_login(client, "root", "wrong").status_code in (200, 429)
    refused = admin_login(client, "root")  # the right password, now refused
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 900
    assert "Too many failed logins" in refused.content.decode()
    assert not logged_in(client)

    events = AuditEvent.objects.filter(action="auth.login").order_by("created_at")
    assert [e.outcome for e in events] == ["failed"] * 3 + ["denied"]
    assert all(e.detail["username"] == "root" and e.remote_addr == OWNER_ADDRESS for e in events)
    assert events.last().detail["reason"] == "locked"


def test_admin_login_succeeds_and_is_audited_below_the_limit():
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    admin_login(client, "root", "wrong")
    assert admin_login(client, "root").status_code == 302
    assert logged_in(client)
    success = AuditEvent.objects.get(action="auth.login", outcome="success")
    assert success.user == user and success.remote_addr == OWNER_ADDRESS


def test_a_strangers_failures_elsewhere_do_not_lock_the_owner_out():
    UserFactory(username="clinician", is_staff=True)
    for _ in range(3):
        obtain("clinician", "guess", REMOTE_ADDR=STRANGER_ADDRESS)
    assert obtain("clinician", REMOTE_ADDR=STRANGER_ADDRESS).status_code == 429
    assert obtain("clinician").status_code == 200  # the owner, from the owner's address
    assert admin_login(Client(), "clinician").status_code == 302


def test_a_forwarded_for_header_does_not_move_the_stranger_elsewhere():
    UserFactory(username="clinician")
    for n in range(3):
        obtain(
            "clinician", "guess", REMOTE_ADDR=STRANGER_ADDRESS, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
    refused = obtain("clinician", REMOTE_ADDR=STRANGER_ADDRESS, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert refused.status_code == 429
    assert obtain("clinician").status_code == 200


def test_admin_failures_lock_the_api_too_with_the_api_contract():
    UserFactory(username="root", is_staff=True)
    client = Client()
    for _ in range(3):
        admin_login(client, "root", "wrong")
    locked = obtain("root")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked"
    assert "Too many failed logins" in locked.json()["detail"]
    assert 0 < int(locked["Retry-After"]) <= 900
    session = APIClient().post(
        "/api/auth/login", {"username": "root", "password": PASSWORD}, format="json"
    )
    assert session.status_code == 429 and session.json()["code"] == "locked"


def test_the_api_lock_answers_401_until_the_limit_then_429_and_is_audited():
    UserFactory(username="rae")
    assert [obtain("rae", "nope").status_code for _ in range(3)] == [401, 401, 401]
    locked = obtain("rae")
    assert locked.status_code == 429 and locked.json()["code"] == "locked"
    denied = AuditEvent.objects.get(action="auth.login", outcome="denied")
    assert denied.detail == {"username": "rae", "reason": "locked"}
    assert denied.remote_addr == OWNER_ADDRESS


def test_the_lock_expires_after_the_lockout_seconds():
    UserFactory(username="root", is_staff=True)
    client = Client()
    for _ in range(3):
        admin_login(client, "root", "wrong")
    later(890)
    assert admin_login(client, "root").status_code == 429
    assert obtain("root").status_code == 429
    later(11)
    assert obtain("root").status_code == 200
    assert admin_login(client, "root").status_code == 302


def test_the_admin_login_is_throttled_per_address_like_the_api(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "2/minute")
    client = Client()
    assert admin_login(client, "nobody", "x").status_code == 200  # the form, with its error
    obtain("nobody", "x")  # the API's credential views share the count
    throttled = admin_login(client, "nobody", "x")
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= 60
    assert obtain("nobody", "x").status_code == 429
    assert admin_login(client, "nobody", "x", REMOTE_ADDR=STRANGER_ADDRESS).status_code == 200
