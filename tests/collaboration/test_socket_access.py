"""Every collaboration socket: anonymous callers get 4401, outsiders 4403, both
before any data frame."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collaboration.models import ChatMessage, CodeUpdate, RoomPresence

from .conftest import ws_open

pytestmark = pytest.mark.django_db(transaction=True)

ROOM_ROUTES = ["/ws/chat/{room}", "/ws/code/{room}", "/ws/chat/{room}/", "/ws/code/{room}/"]


async def refused_with(ws) -> int:
    output = await ws.receive_output()
    assert output["type"] == "websocket.close", output  # no data before the close
    return output["code"]


@pytest.mark.parametrize("route", [*ROOM_ROUTES, "/ws/notifications", "/ws/notifications/"])
async def test_anonymous_is_closed_4401(general, route):
    ws = await ws_open(None, route.format(room=general.pk))
    assert await refused_with(ws) == 4401


@pytest.mark.parametrize("route", ROOM_ROUTES)
async def test_outsider_is_closed_4403(team, general, route):
    ws = await ws_open(team.outsider, route.format(room=general.pk))
    assert await refused_with(ws) == 4403


@pytest.mark.parametrize("room", ["not-a-uuid", "6a1c0e7e-3b1f-4a57-9a0a-8a3a2f8f0e11"])
@pytest.mark.parametrize("route", ROOM_ROUTES)
async def test_unknown_or_malformed_rooms_are_closed_4403(team, route, room):
    ws = await ws_open(team.owner, route.format(room=room))
    assert await refused_with(ws) == 4403


async def test_a_refused_socket_leaves_no_trace_and_cannot_write(team, general):
    chat = await ws_open(team.outsider, f"/ws/chat/{general.pk}")
    await chat.send_json_to({"type": "message", "text": "let me in"})
    assert await refused_with(chat) == 4403
    code = await ws_open(team.outsider, f"/ws/code/{general.pk}")
    await code.send_to(bytes_data=b"\x00\x02\x02\x00\x00")
    assert await refused_with(code) == 4403

    @database_sync_to_async
    def counts():
        return ChatMessage.objects.count(), CodeUpdate.objects.count(), RoomPresence.objects.count()

    assert await counts() == (0, 0, 0)
