"""/ws/chat/{room_id}: history and presence on connect, messages saved before they
are broadcast, in one order for everyone, limits answered with an error frame."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from collaboration import consumers
from collaboration.events import (
    ChatErrorEvent,
    ChatHistoryEvent,
    ChatMessageEvent,
    ChatPresenceEvent,
    ChatTypingEvent,
    chat_group,
    validate_event,
)
from collaboration.models import ChatMessage, RoomPresence
from collaboration.selectors import chat_message_event, chat_message_relay
from collaboration.services import chat_message_create, notify_workspace

from .conftest import json_of_type, ws_open

pytestmark = pytest.mark.django_db(transaction=True)


async def chat_open(user, room):
    """A chat socket past its opening frames; returns (socket, history, presence)."""
    ws = await ws_open(user, f"/ws/chat/{room.pk}")
    history = await ws.receive_json_from()
    presence = await ws.receive_json_from()
    validate_event(ChatHistoryEvent, history)
    validate_event(ChatPresenceEvent, presence)
    return ws, history, presence


async def messages_from(ws, count: int, timeout: float = 5) -> list[dict]:
    received = []
    while len(received) < count:
        frame = await json_of_type(ws, "message", timeout=timeout)
        validate_event(ChatMessageEvent, frame)
        received.append(frame)
    return received


def rest_history(client, room) -> list[dict]:
    """The whole REST history of a room, paged with ?before=, oldest first."""
    pages, before = [], None
    while True:
        url = f"/api/rooms/{room.pk}/messages" + (f"?before={before}" if before else "")
        body = client.get(url).json()
        if not body["results"]:
            return [m for page in reversed(pages) for m in reversed(page)]
        pages.append(body["results"])
        before = body["results"][-1]["id"]


async def test_connect_sends_history_then_presence(team, general):
    await database_sync_to_async(chat_message_create)(
        room_id=general.pk, user=team.editor, text="earlier"
    )
    ws, history, presence = await chat_open(team.owner, general)
    assert [m["text"] for m in history["messages"]] == ["earlier"]
    assert history["messages"][0]["user"]["username"] == "bob"
    assert presence["users"] == [{"id": str(team.owner.pk), "username": "alice"}]
    await ws.disconnect()


@pytest.mark.parametrize("clients", [2, 10])
async def test_every_client_gets_every_message_in_one_order(team, general, members, clients):
    users = await database_sync_to_async(members)(clients)
    sockets = [(await chat_open(user, general))[0] for user in users]
    per_client = 3

    async def talk(ws, user):
        for k in range(per_client):
            await ws.send_json_to({"type": "message", "text": f"{user.username} says {k}"})
            await asyncio.sleep(0)

    await asyncio.gather(*(talk(ws, user) for ws, user in zip(sockets, users, strict=True)))
    total = clients * per_client
    seen = [await messages_from(ws, total) for ws in sockets]

    first = seen[0]
    assert [m["seq"] for m in first] == list(range(1, total + 1))  # nothing lost, no gap
    for other in seen[1:]:
        assert [m["id"] for m in other] == [m["id"] for m in first]  # one order for all
    for user in users:  # each sender's own order kept
        texts = [m["text"] for m in first if m["user"]["username"] == user.username]
        assert texts == [f"{user.username} says {k}" for k in range(per_client)]
    assert await database_sync_to_async(ChatMessage.objects.count)() == total
    for ws in sockets:
        assert await ws.receive_nothing(timeout=0.02)  # and nothing twice
    for ws in sockets:
        await ws.disconnect()


async def test_history_after_reconnect_and_rest_history_equal_what_was_sent(
    team, general, client_for
):
    ws, _, _ = await chat_open(team.editor, general)
    sent = [f"line {i}" for i in range(8)]
    for text in sent:
        await ws.send_json_to({"type": "message", "text": text})
    live = await messages_from(ws, len(sent))
    await ws.disconnect()

    again, history, _ = await chat_open(team.editor, general)
    assert history["messages"] == live
    await again.disconnect()
    rest = await database_sync_to_async(rest_history)(client_for(team.viewer), general)
    assert rest == live
    assert [m["text"] for m in rest] == sent


async def test_history_holds_the_last_fifty_oldest_first(team, general):
    @database_sync_to_async
    def fill():
        for i in range(60):
            chat_message_create(room_id=general.pk, user=None, text=f"old {i}", kind="system")

    await fill()
    ws, history, _ = await chat_open(team.viewer, general)
    assert [m["text"] for m in history["messages"]] == [f"old {i}" for i in range(10, 60)]
    await ws.disconnect()


async def test_a_lost_broadcast_is_filled_in_from_the_database(team, general, monkeypatch):
    monkeypatch.setattr(consumers, "GAP_WAIT", 0.05)
    ws, _, _ = await chat_open(team.viewer, general)
    # Saved but never broadcast: as if the channel layer dropped the notice.
    await database_sync_to_async(chat_message_create)(
        room_id=general.pk, user=team.owner, text="notice lost"
    )
    sender, _, _ = await chat_open(team.editor, general)
    await sender.send_json_to({"type": "message", "text": "after it"})
    received = await messages_from(ws, 2)
    assert [(m["seq"], m["text"]) for m in received] == [(1, "notice lost"), (2, "after it")]
    await sender.disconnect()
    await ws.disconnect()


async def test_notices_that_overtake_each_other_are_delivered_in_order(team, general):
    ws, _, _ = await chat_open(team.viewer, general)

    @database_sync_to_async
    def saved(text):
        message = chat_message_create(room_id=general.pk, user=team.owner, text=text)
        return chat_message_event(message)

    first, second = await saved("first"), await saved("second")
    layer = get_channel_layer()
    for event in (second, first):  # as if two server processes raced
        await layer.group_send(chat_group(general.pk), chat_message_relay(event))
    assert [m["text"] for m in await messages_from(ws, 2, timeout=0.5)] == ["first", "second"]
    await ws.disconnect()


async def test_viewer_may_chat_and_text_stays_plain(team, general):
    ws, _, _ = await chat_open(team.viewer, general)
    text = '<script>alert("x")</script> & <b>bold</b>'
    await ws.send_json_to({"type": "message", "text": text})
    (message,) = await messages_from(ws, 1)
    assert message["text"] == text
    stored = await database_sync_to_async(ChatMessage.objects.get)(pk=message["id"])
    assert stored.text == text and stored.user_id == team.viewer.pk
    await ws.disconnect()


async def test_presence_follows_joins_and_leaves(team, general):
    alice, _, presence = await chat_open(team.owner, general)
    assert [u["username"] for u in presence["users"]] == ["alice"]
    bob, _, presence = await chat_open(team.editor, general)
    assert [u["username"] for u in presence["users"]] == ["alice", "bob"]
    update = await json_of_type(alice, "presence")
    assert [u["username"] for u in update["users"]] == ["alice", "bob"]

    await bob.disconnect()
    update = await json_of_type(alice, "presence")
    assert [u["username"] for u in update["users"]] == ["alice"]
    assert await database_sync_to_async(RoomPresence.objects.count)() == 1
    await alice.disconnect()
    assert await database_sync_to_async(RoomPresence.objects.count)() == 0


async def test_presence_is_shared_through_the_database_and_stale_sockets_drop(team, general):
    @database_sync_to_async
    def other_process_sockets():
        # A socket held by another server process, and one whose process died long ago.
        RoomPresence.objects.create(room=general, user=team.viewer, channel_name="other!1")
        RoomPresence.objects.create(
            room=general,
            user=team.editor,
            channel_name="dead!1",
            seen_at=timezone.now() - timedelta(minutes=5),
        )

    await other_process_sockets()
    ws, _, presence = await chat_open(team.owner, general)
    assert [u["username"] for u in presence["users"]] == ["alice", "carol"]
    assert not await database_sync_to_async(
        RoomPresence.objects.filter(channel_name="dead!1").exists
    )()
    await ws.disconnect()


async def test_typing_reaches_the_others_only(team, general):
    alice, _, _ = await chat_open(team.owner, general)
    bob, _, _ = await chat_open(team.editor, general)
    await alice.send_json_to({"type": "typing"})
    typing = await json_of_type(bob, "typing")
    validate_event(ChatTypingEvent, typing)
    assert typing["user"]["username"] == "alice"
    await json_of_type(alice, "presence")  # bob's arrival
    assert await alice.receive_nothing(timeout=0.1)
    await alice.disconnect()
    await bob.disconnect()


async def error_from(ws) -> dict:
    error = await json_of_type(ws, "error")
    validate_event(ChatErrorEvent, error)
    return error


async def test_too_long_empty_and_malformed_messages_get_an_error(team, general, settings):
    settings.CHAT_MAX_LENGTH = 100
    ws, _, _ = await chat_open(team.editor, general)
    await ws.send_json_to({"type": "message", "text": "x" * 101})
    error = await error_from(ws)
    assert error["code"] == "too_long" and "100" in error["message"]
    await ws.send_json_to({"type": "message", "text": "  \n"})
    assert (await error_from(ws))["code"] == "empty"
    await ws.send_json_to({"type": "message", "text": 42})
    assert (await error_from(ws))["code"] == "bad_request"
    await ws.send_json_to({"type": "shout", "text": "hi"})
    assert (await error_from(ws))["code"] == "bad_request"
    await ws.send_to(text_data="not json")
    assert (await error_from(ws))["code"] == "bad_request"
    await ws.send_json_to({"type": "message", "text": "x" * 100})  # the limit itself is fine
    assert len((await messages_from(ws, 1))[0]["text"]) == 100
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await ws.disconnect()


async def test_rate_limit_is_per_user_and_answered(team, general, settings):
    settings.CHAT_RATE_LIMIT = 5
    ws, _, _ = await chat_open(team.editor, general)
    other_tab, _, _ = await chat_open(team.editor, general)
    for i in range(3):
        await ws.send_json_to({"type": "message", "text": f"a{i}"})
    for i in range(2):
        await other_tab.send_json_to({"type": "message", "text": f"b{i}"})
    assert len(await messages_from(ws, 5)) == 5
    await other_tab.send_json_to({"type": "message", "text": "one too many"})
    error = await error_from(other_tab)
    assert error["code"] == "rate_limited" and "try again" in error["message"]
    owner, _, _ = await chat_open(team.owner, general)  # another user is not limited
    await owner.send_json_to({"type": "message", "text": "fine"})
    assert (await messages_from(owner, 1))[0]["text"] == "fine"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 6
    for socket in (ws, other_tab, owner):
        await socket.disconnect()


async def test_workspace_events_post_system_messages(team, general):
    ws, _, _ = await chat_open(team.viewer, general)

    @database_sync_to_async
    def run_finishes():
        notify_workspace(
            type="run.completed",
            workspace_id=team.workspace.pk,
            object_id="6a1c0e7e-3b1f-4a57-9a0a-8a3a2f8f0e11",
            data={"name": "baseline"},
        )
        notify_workspace(type="run.started", workspace_id=team.workspace.pk, object_id="x")

    await run_finishes()
    (message,) = await messages_from(ws, 1)
    assert message["kind"] == "system" and message["user"] is None
    assert message["text"] == "Training run baseline completed."
    assert message["data"]["event"]["type"] == "run.completed"
    assert await ws.receive_nothing(timeout=0.1)  # run.started is no chat line
    await ws.disconnect()
