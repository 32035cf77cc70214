"""Origins (issue #15, part 5): a signed-in socket or session write comes only from the
server's own origin (scheme, host and port) or a configured trusted one.

Channels' AllowedHostsOriginValidator compared the host alone: a page on another port
of the same host, or plain http on an https site, opened a signed-in socket.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from medilytica_site.asgi import application
from medilytica_site.services import ws_ticket_issue

SERVER = b"127.0.0.1:8000"


async def opens(
    user, origin: bytes | None, *, host: bytes = SERVER, scheme="ws", headers=()
) -> bool:
    """Whether a signed-in handshake to /ws/echo with these headers is accepted."""
    ticket = await database_sync_to_async(ws_ticket_issue)(user=user)
    sent = [(b"host", host), *headers] + ([(b"origin", origin)] if origin is not None else [])
    ws = WebsocketCommunicator(application, f"/ws/echo?ticket={ticket}", headers=sent)
    ws.scope["scheme"] = scheme
    connected, _ = await ws.connect()
    await ws.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:9999",  # another port of the same host
        b"http://127.0.0.1",  # the same host, port 80
        b"https://127.0.0.1:8000",  # the same host and port, another scheme
        b"http://localhost:8000",  # another name of the same machine is another origin
    ],
)
async def test_a_socket_from_another_origin_of_the_same_host_is_refused(team, origin):
    assert not await opens(team.owner, origin)


@pytest.mark.django_db(transaction=True)
async def test_the_servers_own_origin_and_trusted_origins_are_accepted(team, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["http://127.0.0.1:5173", "https://*.example.org"]
    assert await opens(team.owner, b"http://127.0.0.1:8000")
    assert await opens(team.owner, b"https://127.0.0.1:8000", scheme="wss")
    assert await opens(team.owner, b"http://127.0.0.1:5173")  # a dev server, trusted by name
    assert await opens(team.owner, b"https://app.example.org")  # not in ALLOWED_HOSTS
    assert not await opens(team.owner, b"http://app.example.org")  # the scheme counts
    assert not await opens(team.owner, None)  # browsers always send one


@pytest.mark.django_db(transaction=True)
async def test_behind_a_tls_proxy_the_proxys_scheme_counts(team, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["medilytica.example.org"]
    site, proto = b"medilytica.example.org", [(b"x-forwarded-proto", b"https")]
    assert await opens(team.owner, b"https://medilytica.example.org", host=site, headers=proto)
    assert not await opens(team.owner, b"http://medilytica.example.org", host=site, headers=proto)
    # A name that points at the server but is not one of its hosts (DNS rebinding).
    assert not await opens(team.owner, b"https://evil.example", host=b"evil.example", headers=proto)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://127.0.0.1:9999", 403),
        ("https://127.0.0.1:8000", 403),
        ("http://127.0.0.1:8000", 200),
    ],
)
def test_a_session_write_from_another_origin_fails_csrf(team, origin, status):
    """Django's CSRF check already compares the whole origin (DRF runs it for session
    callers); this keeps it so, in the API's error format."""
    client = APIClient(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1:8000")
    client.force_login(team.owner)
    token = client.get("/api/auth/login").cookies["csrftoken"].value
    response = client.post("/api/auth/ws-ticket", HTTP_X_CSRFTOKEN=token, HTTP_ORIGIN=origin)
    assert response.status_code == status, response.content[:300]
    if status == 403:
        assert response.json()["code"] == "permission_denied"
        assert "Origin checking failed" in response.json()["detail"]
