"""The WebSocket stack: origin check, session cookie or single-use ticket, 4401 / 4403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from medilytica_site.asgi import application
from medilytica_site.models import WebSocketTicket
from medilytica_site.services import ws_ticket_issue

from ..factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def communicator(path: str, *headers) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])


@database_sync_to_async
def make_user(username: str = "wanda"):
    return UserFactory(username=username)


@database_sync_to_async
def issue(user) -> str:
    return ws_ticket_issue(user=user)


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_ticket_admits_and_echoes():
    user = await make_user()
    ws = communicator(f"/ws/echo?ticket={await issue(user)}")
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {"type": "hello", "user": "wanda"}
    await ws.send_json_to({"ping": 1})
    assert await ws.receive_json_from() == {"type": "echo", "user": "wanda", "data": {"ping": 1}}
    await ws.disconnect()


async def test_session_cookie_admits():
    user = await make_user("xavier")
    ws = communicator("/ws/echo", (b"cookie", await session_cookie(user)))
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["user"] == "xavier"
    await ws.disconnect()


async def test_anonymous_is_closed_4401_before_any_data():
    ws = communicator("/ws/echo")
    connected, _ = await ws.connect()
    assert connected  # accepted only to be able to send the close code
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}
    assert await ws.receive_nothing()


async def test_ticket_is_single_use():
    user = await make_user()
    ticket = await issue(user)
    first = communicator(f"/ws/echo?ticket={ticket}")
    assert (await first.connect())[0]
    assert (await first.receive_json_from())["type"] == "hello"
    await first.disconnect()
    second = communicator(f"/ws/echo?ticket={ticket}")
    await second.connect()
    assert await second.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_expired_ticket_is_refused():
    user = await make_user()
    ticket = await issue(user)
    await database_sync_to_async(
        lambda: WebSocketTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    )()
    ws = communicator(f"/ws/echo?ticket={ticket}")
    await ws.connect()
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_forged_ticket_is_refused():
    ws = communicator("/ws/echo?ticket=" + "A" * 43)
    await ws.connect()
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_inactive_users_ticket_is_refused():
    user = await make_user()
    ticket = await issue(user)
    user.is_active = False
    await database_sync_to_async(user.save)()
    ws = communicator(f"/ws/echo?ticket={ticket}")
    await ws.connect()
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null"])
async def test_foreign_origin_is_rejected_at_handshake(origin):
    user = await make_user()
    ws = WebsocketCommunicator(
        application, f"/ws/echo?ticket={await issue(user)}", headers=[(b"origin", origin)]
    )
    connected, _ = await ws.connect()
    assert not connected
