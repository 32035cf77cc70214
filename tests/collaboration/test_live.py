"""Chat and code editing across two real daphne processes sharing a real Redis and
one database: clients on different servers in one room hear each other, presence
crosses, and a crashed server loses nothing."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
import websockets
from pycrdt import Doc, Provider, Text

from ..live_stack import WebsocketsChannel, live_stack

pytestmark = pytest.mark.integration

SETUP = """
import json
from django.test import Client
from collaboration.models import Membership, Room
from collaboration.services import workspace_create
from django.contrib.auth import get_user_model
User = get_user_model()
owner = User.objects.create_user("alice")
workspace = workspace_create(user=owner, name="Cardiology")
team = {"alice": owner}
for name, role in [("bob", "editor"), ("carol", "viewer")]:
    team[name] = User.objects.create_user(name)
    Membership.objects.create(workspace=workspace, user=team[name], role=role)
cookies = {}
for name, user in team.items():
    client = Client()
    client.force_login(user)
    cookies[name] = client.cookies["sessionid"].value
room = Room.objects.get(workspace=workspace, name="general")
print(json.dumps({"room": str(room.pk), "cookies": cookies}))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("live"), daphnes=2) as stack:
        setup = json.loads(stack.shell(SETUP).strip().splitlines()[-1])
        stack.room, stack.cookies = setup["room"], setup["cookies"]
        yield stack


def connect(stack, server: int, user: str, path: str):
    return websockets.connect(
        f"{stack.ws_urls[server]}{path}",
        origin=stack.origin,
        additional_headers={"Cookie": f"sessionid={stack.cookies[user]}"},
    )


def rest(stack, server: int, user: str, path: str) -> dict:
    request = urllib.request.Request(
        f"{stack.http_urls[server]}{path}", headers={"Cookie": f"sessionid={stack.cookies[user]}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


async def frames_until(ws, type_: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == type_:
            return frame


async def messages(ws, count: int) -> list[dict]:
    return [await frames_until(ws, "message") for _ in range(count)]


async def test_chat_crosses_servers_in_one_order(stack):
    path = f"/ws/chat/{stack.room}"
    async with (
        connect(stack, 0, "alice", path) as alice,
        connect(stack, 1, "bob", path) as bob,
        connect(stack, 1, "carol", path) as carol,
    ):
        for ws in (alice, bob, carol):
            assert (await frames_until(ws, "history"))["type"] == "history"
        presence = await frames_until(alice, "presence")
        while {u["username"] for u in presence["users"]} != {"alice", "bob", "carol"}:
            presence = await frames_until(alice, "presence")  # joins on the other server

        async def talk(ws, name):
            for k in range(10):  # the per-user rate limit: 10 messages in 5 s
                await ws.send(json.dumps({"type": "message", "text": f"{name} {k}"}))
                await asyncio.sleep(0.005)

        names = ("alice", "bob", "carol")
        sockets = (alice, bob, carol)
        await asyncio.gather(*(talk(ws, name) for ws, name in zip(sockets, names, strict=True)))
        seen = [await messages(ws, 30) for ws in sockets]
        orders = [[m["seq"] for m in s] for s in seen]
        assert orders[0] == orders[1] == orders[2] == sorted(orders[0])
        assert len(set(orders[0])) == 30
        for name in names:  # each sender's order kept, nothing lost
            texts = [m["text"] for m in seen[0] if m["user"]["username"] == name]
            assert texts == [f"{name} {k}" for k in range(10)]
        await bob.close()
        presence = await frames_until(alice, "presence")
        assert {u["username"] for u in presence["users"]} == {"alice", "carol"}

    history = rest(stack, 1, "carol", f"/api/rooms/{stack.room}/messages?page_size=100")
    assert [m["id"] for m in reversed(history["results"])] == [m["id"] for m in seen[0]]


async def test_code_edits_cross_servers_and_survive_a_crash(stack):
    path = f"/ws/code/{stack.room}"
    docs = [Doc(), Doc()]
    tokens = [[f"<{i}:{k}>" for k in range(15)] for i in range(2)]
    async with (
        connect(stack, 0, "alice", path) as ws0,
        connect(stack, 1, "bob", path) as ws1,
        Provider(docs[0], WebsocketsChannel(ws0)) as p0,
        Provider(docs[1], WebsocketsChannel(ws1)) as p1,
    ):
        await asyncio.wait_for(asyncio.gather(p0.synced.wait(), p1.synced.wait()), 10)

        async def type_(doc, mine):
            text = doc.get("code", type=Text)
            for token in mine:
                text.insert(0, token)  # everyone at the same spot
                await asyncio.sleep(0.005)

        await asyncio.gather(*(type_(d, t) for d, t in zip(docs, tokens, strict=True)))
        every = [t for ts in tokens for t in ts]
        length = sum(map(len, every))
        for _ in range(500):
            if all(len(str(d.get("code", type=Text))) == length for d in docs):
                break
            await asyncio.sleep(0.02)
        final = str(docs[0].get("code", type=Text))
        assert str(docs[1].get("code", type=Text)) == final
        assert all(final.count(t) == 1 for t in every)

    stack.restart_daphne(0, kill=True)  # a crash: nothing in its memory survives
    late = Doc()
    async with connect(stack, 0, "carol", path) as ws, Provider(late, WebsocketsChannel(ws)) as p:
        await asyncio.wait_for(p.synced.wait(), 10)
        assert str(late.get("code", type=Text)) == final
    assert rest(stack, 0, "carol", f"/api/rooms/{stack.room}/code")["text"] == final


async def test_an_idle_socket_keeps_listening(stack):
    """Nothing happens for longer than the channel layer's blocking read (5 s); the
    socket must still hear the next message (redis-py 8's default socket_timeout
    of 5 s broke exactly this: channels_redis#422)."""
    path = f"/ws/chat/{stack.room}"
    async with connect(stack, 0, "carol", path) as listener:
        await frames_until(listener, "presence")
        await asyncio.sleep(7)
        async with connect(stack, 1, "bob", path) as speaker:
            await frames_until(speaker, "presence")
            await speaker.send(json.dumps({"type": "message", "text": "still there?"}))
            assert (await frames_until(listener, "message"))["text"] == "still there?"
