"""Every auth flow of DESIGN.md section 4, the failures included."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from collaboration.models import AuditEvent, Membership, Role, User

from ..factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def obtain(api, username, password=PASSWORD):
    return api.post("/api/auth/token", {"username": username, "password": password}, format="json")


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- register -----------------------------------------------------------------------


def test_register_creates_user_and_personal_workspace(api):
    response = api.post(
        "/api/auth/register",
        {"username": "dora", "password": "a-long-enough-pass-42", "email": "d@example.org"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "dora"
    assert [w["role"] for w in body["workspaces"]] == ["owner"]
    membership = Membership.objects.get(user__username="dora")
    assert membership.workspace.is_personal and membership.role == Role.OWNER


def test_register_trailing_slash_is_optional(api):
    response = api.post(
        "/api/auth/register/", {"username": "eve", "password": "a-long-enough-pass-42"}, "json"
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"password": "a-long-enough-pass-42"}, "username"),
        ({"username": "x"}, "password"),
        ({"username": "frank", "password": "short"}, "password"),
        ({"username": "frank", "password": "password"}, "password"),
        ({"username": "bad name!", "password": "a-long-enough-pass-42"}, "username"),
        ({"username": "frank", "password": "a-long-enough-pass-42", "email": "no"}, "email"),
        ({"username": ["a"], "password": "a-long-enough-pass-42"}, "username"),
    ],
)
def test_register_rejects_bad_input_naming_the_field(api, payload, field):
    response = api.post("/api/auth/register", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.filter(username="frank").exists()


def test_register_duplicate_username_is_400(api):
    UserFactory(username="grace")
    response = api.post(
        "/api/auth/register", {"username": "GRACE", "password": "a-long-enough-pass-42"}, "json"
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["username"][0]


@override_settings(ALLOW_REGISTRATION=False)
def test_register_closed(api):
    response = api.post(
        "/api/auth/register", {"username": "h", "password": "a-long-enough-pass-42"}, "json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Registration is closed on this server."
    assert not User.objects.exists()


def test_malformed_json_is_400(api):
    response = api.post("/api/auth/register", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert response.json()["code"] == "parse_error"


def test_oversized_body_is_rejected_not_500(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"username": "' + "a" * 5000 + '", "password": "x"}'
    response = api.post("/api/auth/register", body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than the server accepts" in response.json()["detail"]


# --- JWT ----------------------------------------------------------------------------


def test_token_obtain_and_use(api):
    UserFactory(username="ivan")
    response = obtain(api, "ivan")
    assert response.status_code == 200
    me = bearer(response.json()["access"]).get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "ivan"


def test_bad_password_is_401_and_audited(api):
    UserFactory(username="judy")
    response = obtain(api, "judy", "wrong")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    event = AuditEvent.objects.get(action="auth.login")
    assert event.outcome == "failed" and event.remote_addr == "127.0.0.1"


def test_failed_login_with_the_longest_username_is_401_and_audited(api):
    """The attempted name is kept in `detail`: object_id holds ids of at most 64
    characters, and PostgreSQL refused a 150-character name there with a 500."""
    name = "0" * 150
    response = obtain(api, name, "wrong")
    assert response.status_code == 401, response.content
    event = AuditEvent.objects.get(action="auth.login")
    assert event.outcome == "failed" and event.object_id == ""
    assert event.detail == {"username": name}


def test_refresh_rotates_and_old_token_is_refused(api):
    UserFactory(username="ken")
    pair = obtain(api, "ken").json()
    first = api.post("/api/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != pair["refresh"]
    replay = api.post("/api/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert replay.status_code == 401
    assert "blacklisted" in replay.json()["detail"]
    newer = api.post("/api/auth/token/refresh", {"refresh": first.json()["refresh"]}, "json")
    assert newer.status_code == 200


def test_expired_refresh_token_is_refused(api):
    user = UserFactory(username="leo")
    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = api.post("/api/auth/token/refresh", {"refresh": str(token)}, format="json")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


def test_garbage_refresh_token_is_401(api):
    response = api.post("/api/auth/token/refresh", {"refresh": "abc.def.ghi"}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_parallel_replay_of_one_refresh_token_wins_once():
    UserFactory(username="mia")
    refresh = obtain(APIClient(), "mia").json()["refresh"]
    codes: list[int] = []

    def attempt():
        try:
            response = APIClient().post(
                "/api/auth/token/refresh", {"refresh": refresh}, format="json"
            )
            codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [401] * 5


def test_inactive_user_tokens_stop_working(api):
    user = UserFactory(username="ned")
    pair = obtain(api, "ned").json()
    user.is_active = False
    user.save()
    assert bearer(pair["access"]).get("/api/auth/me").status_code == 401
    refresh = api.post("/api/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert refresh.status_code == 401
    assert obtain(api, "ned").status_code == 401


def test_logout_blacklists_refresh_token(api):
    UserFactory(username="olga")
    pair = obtain(api, "olga").json()
    client = bearer(pair["access"])
    assert client.post("/api/auth/logout", {"refresh": pair["refresh"]}, "json").status_code == 200
    again = api.post("/api/auth/token/refresh", {"refresh": pair["refresh"]}, format="json")
    assert again.status_code == 401


def test_logout_refuses_someone_elses_token(api):
    UserFactory(username="pia")
    UserFactory(username="quinn")
    mine = obtain(api, "pia").json()
    theirs = obtain(api, "quinn").json()
    response = bearer(mine["access"]).post(
        "/api/auth/logout", {"refresh": theirs["refresh"]}, "json"
    )
    assert response.status_code == 400
    assert "refresh" in response.json()


def test_anonymous_me_is_401(api):
    response = api.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- lockout ------------------------------------------------------------------------


@override_settings(LOGIN_MAX_FAILURES=3)
def test_lockout_after_failures_even_with_right_password(api):
    UserFactory(username="rae")
    for _ in range(3):
        assert obtain(api, "rae", "nope").status_code == 401
    locked = obtain(api, "rae")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["detail"]
    assert int(locked["Retry-After"]) > 0


@override_settings(LOGIN_MAX_FAILURES=3)
def test_success_resets_the_failure_count(api):
    UserFactory(username="sam")
    obtain(api, "sam", "nope")
    obtain(api, "sam", "nope")
    assert obtain(api, "sam").status_code == 200
    # Without the reset these two would be the third and fourth failures: locked.
    obtain(api, "sam", "nope")
    obtain(api, "sam", "nope")
    assert obtain(api, "sam").status_code == 200


@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_MAX_FAILURES=5)
def test_lockout_holds_under_concurrent_guesses():
    """Twenty parallel wrong guesses: at most five are ever checked against the password."""
    UserFactory(username="tom")
    codes: list[int] = []

    def guess():
        try:
            codes.append(obtain(APIClient(), "tom", "guess").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(401) == 5
    assert codes.count(429) == 15
    assert obtain(APIClient(), "tom").status_code == 429


# --- session login ------------------------------------------------------------------


def test_session_login_requires_csrf():
    UserFactory(username="uma")
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/login", {"username": "uma", "password": PASSWORD}, "json")
    assert response.status_code == 403
    assert "CSRF" in response.content.decode()


def test_session_login_with_csrf_then_session_writes_need_csrf():
    UserFactory(username="vic")
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/login").json()["csrf_token"]
    response = client.post(
        "/api/auth/login",
        {"username": "vic", "password": PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    assert client.get("/api/auth/me").json()["username"] == "vic"
    # A session-authenticated write without the CSRF header is refused ...
    no_csrf = client.post("/api/workspaces", {"name": "Lab"}, format="json")
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["detail"]
    # ... and accepted with it (the token rotates on login, read the new cookie).
    token = client.cookies["csrftoken"].value
    ok = client.post("/api/workspaces", {"name": "Lab"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201


def test_session_logout_ends_session():
    UserFactory(username="wes")
    client = APIClient()
    client.post("/api/auth/login", {"username": "wes", "password": PASSWORD}, format="json")
    assert client.get("/api/auth/me").json()["username"] == "wes"
    assert client.post("/api/auth/logout", {}, format="json").status_code == 200
    assert client.get("/api/auth/me").status_code == 401


# --- websocket ticket -----------------------------------------------------------------


def test_ws_ticket_needs_auth(api):
    assert api.post("/api/auth/ws-ticket").status_code == 401


def test_ws_ticket_is_issued(api):
    UserFactory(username="xia")
    access = obtain(api, "xia").json()["access"]
    response = bearer(access).post("/api/auth/ws-ticket")
    assert response.status_code == 200
    assert len(response.json()["ticket"]) >= 40
    assert response.json()["expires_in"] == 60
