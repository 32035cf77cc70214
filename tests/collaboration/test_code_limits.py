"""/ws/code/{room_id} within bounds: a socket's copy of the document goes when the
socket does, a document has a size limit and opens at any allowed size (the sync
in parts under daphne's 1 MiB message limit), a user has a socket limit, and an
awareness state belongs to its own socket's client."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import string
import time

import psutil
import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Text, create_awareness_message, create_sync_message, create_update_message

from collaboration import yjs
from collaboration.models import CodeUpdate
from collaboration.selectors import code_document_text
from collaboration.services import code_update_append

from .conftest import code_client, text_of, ws_open

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024


def big_text(size: int) -> str:
    rng = random.Random(size)
    line = "".join(rng.choices(string.ascii_letters + " ", k=79)) + "\n"
    return (line * (size // len(line) + 1))[:size]


@database_sync_to_async
def store_text(room, user, text: str) -> None:
    doc = Doc()
    doc.get("code", type=Text).insert(0, text)
    code_update_append(room_id=room.pk, user=user, data=doc.get_update())


@database_sync_to_async
def stored(room) -> tuple[str, int]:
    return code_document_text(room=room)[0], CodeUpdate.objects.count()


async def frames_until(ws, predicate, timeout: float = 5) -> list[bytes]:
    """Binary frames up to and including the first that `predicate` accepts."""
    frames = []
    while True:
        frame = await ws.receive_from(timeout=timeout)
        frames.append(frame)
        if isinstance(frame, bytes) and predicate(frame):
            return frames


def denied(frame: bytes) -> str | None:
    """The reason of a y-protocols "permission denied" message, else None."""
    if frame[:2] != bytes([yjs.MESSAGE_AUTH, 0]):
        return None
    return yjs.read_payload(frame, 2).decode()


def awareness_of(frame: bytes) -> list[tuple[int, int, str]] | None:
    if frame[:1] != bytes([yjs.MESSAGE_AWARENESS]):
        return None
    return yjs.awareness_entries(yjs.read_payload(frame, 1))


def awareness_frame(client_id: int, clock: int, state: str) -> bytes:
    return create_awareness_message(yjs.awareness_payload([(client_id, clock, state)]))


async def nothing_more(ws, timeout: float = 0.3) -> None:
    assert await ws.receive_nothing(timeout=timeout), "an unexpected frame arrived"


# --- memory -----------------------------------------------------------------------------


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


async def test_a_closed_socket_leaves_no_copy_of_the_document_behind(team, general):
    await store_text(general, team.owner, big_text(5 * MB))

    async def open_and_close() -> None:
        ws = await ws_open(team.viewer, f"/ws/code/{general.pk}")
        assert (await ws.receive_from(timeout=10))[:2] == b"\x00\x00"  # sync step 1
        await ws.disconnect()

    for _ in range(5):  # allocator and caches warmed up
        await open_and_close()
    before = rss()
    for _ in range(100):
        await open_and_close()
    grown = (rss() - before) / MB
    print(f"100 sockets opened and closed on a 5 MB document: RSS grew {grown:.1f} MB")
    assert grown < 20, f"the process grew {grown:.0f} MB"


async def test_sockets_of_one_room_share_one_copy(team, general):
    await store_text(general, team.owner, big_text(2 * MB))
    sockets = [await ws_open(team.viewer, f"/ws/code/{general.pk}") for _ in range(10)]
    for ws in sockets:
        await ws.receive_from(timeout=10)
    mirrors = {id(consumer.mirror) for consumer in _code_consumers()}
    assert len(mirrors) == 1
    for ws in sockets:
        await ws.disconnect()


def _code_consumers():
    from collaboration.consumers import CodeConsumer

    return [o for o in gc.get_objects() if type(o) is CodeConsumer and o.mirror is not None]


# --- document size -----------------------------------------------------------------------


async def test_an_edit_past_the_document_limit_is_refused_and_not_stored(team, general, settings):
    settings.CODE_DOCUMENT_MAX_BYTES = 100_000
    await store_text(general, team.owner, "x" * 60_000)
    ws = await ws_open(team.editor, f"/ws/code/{general.pk}")
    step1 = await ws.receive_from()
    doc = Doc()
    await ws.send_to(bytes_data=create_sync_message(doc))  # client's step 1
    for frame in await frames_until(ws, lambda f: f[:2] == b"\x00\x01"):
        if frame[:1] == b"\x00":
            doc.apply_update(yjs.read_payload(frame, 2))
    assert step1[:2] == b"\x00\x00" and text_of(doc) == "x" * 60_000

    state = doc.get_state()
    doc.get("code", type=Text).insert(0, "y" * 50_000)
    await ws.send_to(bytes_data=create_update_message(doc.get_update(state)))
    refusal = (await frames_until(ws, denied))[-1]
    assert "CODE_DOCUMENT_MAX_BYTES" in denied(refusal) and "not saved" in denied(refusal)
    assert await stored(general) == ("x" * 60_000, 1)

    # Another client deletes, then adds a little that fits: both stored.
    async with code_client(team.editor, general.pk) as fresh:
        del fresh.get("code", type=Text)[0:10_000]
        fresh.get("code", type=Text).insert(0, "small")
        want = "small" + "x" * 50_000
        deadline = time.monotonic() + 5
        while (await stored(general))[0] != want:  # written by the room's log writer
            assert time.monotonic() < deadline, "the edits that fit were never stored"
            await asyncio.sleep(0.05)
    await ws.disconnect()


async def test_a_viewers_edit_is_answered_and_not_stored(team, general):
    await store_text(general, team.owner, "the owner's text")
    ws = await ws_open(team.viewer, f"/ws/code/{general.pk}")
    await ws.receive_from()  # the server's sync step 1
    doc = Doc()
    await ws.send_to(bytes_data=create_sync_message(doc))
    for frame in await frames_until(ws, lambda f: f[:2] == b"\x00\x01"):
        if frame[:1] == b"\x00":
            doc.apply_update(yjs.read_payload(frame, 2))
    state = doc.get_state()
    doc.get("code", type=Text).insert(0, "VIEWER WAS HERE ")
    await ws.send_to(bytes_data=create_update_message(doc.get_update(state)))
    refusal = denied((await frames_until(ws, denied))[-1])
    assert "may read this room's code but not edit it" in refusal and "not saved" in refusal
    assert await stored(general) == ("the owner's text", 1)
    await ws.disconnect()


async def test_a_document_over_one_frame_opens_in_parts(team, general, settings):
    """In process: every frame stays under CODE_FRAME_BYTES, the client gets it all
    (the live test below does the same through daphne)."""
    text = big_text(3 * MB) + "é😀 end"
    await store_text(general, team.owner, text)
    ws = await ws_open(team.viewer, f"/ws/code/{general.pk}")
    await ws.receive_from(timeout=10)
    doc = Doc()
    await ws.send_to(bytes_data=create_sync_message(doc))
    frames = await frames_until(ws, lambda f: f[:2] == b"\x00\x01", timeout=10)
    for frame in frames:
        doc.apply_update(yjs.read_payload(frame, 2))
    print(f"a {len(text.encode()) / MB:.1f} MB document: {len(frames)} sync frames")
    assert len(frames) > 1
    assert max(map(len, frames)) <= 512 * 1024
    assert text_of(doc) == text
    await ws.disconnect()


def test_update_parts_rebuild_the_same_document():
    rng = random.Random(7)
    docs = [Doc() for _ in range(3)]
    for step in range(300):
        text = rng.choice(docs).get("code", type=Text)
        current = str(text)
        if rng.random() < 0.6 or len(current) < 10:
            piece = rng.choice(["abc", "héllo", "😀x😀", "line\n", "y" * rng.randint(1, 3000)])
            at = rng.randint(0, len(current))
            text.insert(len(current[:at].encode()), piece)
        else:
            i = rng.randint(0, len(current) - 2)
            j = min(len(current), i + rng.randint(1, 50))
            del text[len(current[:i].encode()) : len(current[:j].encode())]
        if step % 20 == 0:
            for a in docs:
                for b in docs:
                    b.apply_update(a.get_update(b.get_state()))
    for a in docs[1:]:
        docs[0].apply_update(a.get_update(docs[0].get_state()))
    whole = docs[0].get_update()
    for max_bytes in (300, 2000, 50_000):
        parts = yjs.update_parts(whole, max_bytes)
        assert len(parts) > 1 and max(map(len, parts)) <= max_bytes
        rebuilt = Doc()
        for part in parts:
            rebuilt.apply_update(part)
        assert text_of(rebuilt) == text_of(docs[0])
        assert yjs.state_vector(rebuilt) == yjs.state_vector(docs[0])


# --- sockets per user ------------------------------------------------------------------


async def test_a_user_past_the_socket_limit_is_refused_with_a_reason(team, general, settings):
    settings.WS_MAX_SOCKETS_PER_USER = 3
    path = f"/ws/code/{general.pk}"
    held = [await ws_open(team.editor, path) for _ in range(3)]
    for ws in held:
        assert (await ws.receive_from())[:2] == b"\x00\x00"
    extra = await ws_open(team.editor, path)
    reason = denied(await extra.receive_from())
    assert reason and "WS_MAX_SOCKETS_PER_USER" in reason
    closed = await extra.receive_output()
    assert closed["type"] == "websocket.close" and closed["code"] == 4429
    assert "at most 3" in closed["reason"]

    other_user = await ws_open(team.viewer, path)  # the limit is per user
    assert (await other_user.receive_from())[:2] == b"\x00\x00"
    await held.pop().disconnect()
    again = await ws_open(team.editor, path)  # a closed socket gives its place back
    assert (await again.receive_from())[:2] == b"\x00\x00"
    for ws in (*held, other_user, again):
        await ws.disconnect()


# --- awareness ------------------------------------------------------------------------


async def open_synced(user, room):
    ws = await ws_open(user, f"/ws/code/{room.pk}")
    await ws.receive_from()
    return ws


async def test_awareness_is_tied_to_the_sockets_own_client(team, general):
    alice = await open_synced(team.owner, general)
    carol = await open_synced(team.viewer, general)
    await alice.send_to(bytes_data=awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    seen = awareness_of((await frames_until(carol, awareness_of))[-1])
    assert seen == [(111, 1, '{"user":{"name":"alice"}}')]

    # The viewer shows a cursor of its own: allowed, under its own name.
    cursor = '{"user":{"name":"alice","color":"#f00"},"cursor":{"anchor":3}}'
    await carol.send_to(bytes_data=awareness_frame(222, 1, cursor))
    seen = awareness_of((await frames_until(alice, awareness_of))[-1])
    assert seen == [(222, 1, '{"user":{"name":"carol","color":"#f00"},"cursor":{"anchor":3}}')]
    await carol.send_to(bytes_data=awareness_frame(222, 2, '{"cursor":{"anchor":4}}'))
    seen = awareness_of((await frames_until(alice, awareness_of))[-1])
    assert seen == [(222, 2, '{"cursor":{"anchor":4},"user":{"name":"carol"}}')]

    # ... but not the owner's: neither a new state nor its removal.
    for forged in ('{"user":{"name":"alice"},"cursor":{"anchor":0}}', "null"):
        await carol.send_to(bytes_data=awareness_frame(111, 5, forged))
        refusal = (await frames_until(carol, denied))[-1]
        assert "client 111 is not this connection's" in denied(refusal)
        await nothing_more(alice)

    # A state it merely repeats (y-websocket sends the others' states back) is dropped quietly.
    await carol.send_to(bytes_data=awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    await nothing_more(carol)
    await nothing_more(alice)
    for ws in (alice, carol):
        await ws.disconnect()


@pytest.mark.parametrize(
    ("state", "why"),
    [
        ("not json", "must be JSON"),
        ('["a", "list"]', "JSON object"),
        ("42", "JSON object"),
        (json.dumps({"cursor": "x" * 5000}), "at most 4096 bytes"),
    ],
)
async def test_an_awareness_state_must_be_a_small_json_object(team, general, state, why):
    alice = await open_synced(team.owner, general)
    carol = await open_synced(team.viewer, general)
    await carol.send_to(bytes_data=awareness_frame(222, 1, state))
    refusal = (await frames_until(carol, denied))[-1]
    assert why in denied(refusal)
    await nothing_more(alice)
    await carol.send_to(bytes_data=awareness_frame(222, 2, "{}"))  # a good one still goes
    seen = awareness_of((await frames_until(alice, awareness_of))[-1])
    assert seen == [(222, 2, '{"user":{"name":"carol"}}')]
    for ws in (alice, carol):
        await ws.disconnect()


# --- through daphne ---------------------------------------------------------------------


@pytest.mark.integration
async def test_a_document_past_one_mib_opens_through_daphne(tmp_path):
    """daphne sends no WebSocket message over 1 MiB: before the sync came in parts,
    every new socket on such a document closed with 1011."""
    import websockets
    from pycrdt import Provider

    from ..live_stack import WebsocketsChannel, live_stack

    size = 3 * MB
    setup = f"""
import json
from django.test import Client
from pycrdt import Doc, Text
from collaboration.models import Room
from collaboration.services import code_update_append, workspace_create
from django.contrib.auth import get_user_model
from tests.collaboration.test_code_limits import big_text
owner = get_user_model().objects.create_user("alice")
room = Room.objects.get(workspace=workspace_create(user=owner, name="W"), name="general")
doc = Doc()
doc.get("code", type=Text).insert(0, big_text({size}))
code_update_append(room_id=room.pk, user=owner, data=doc.get_update())
client = Client()
client.force_login(owner)
print(json.dumps({{"room": str(room.pk), "cookie": client.cookies["sessionid"].value}}))
"""
    with live_stack(tmp_path, daphnes=1) as stack:
        info = json.loads(stack.shell(setup).strip().splitlines()[-1])
        async with websockets.connect(
            f"{stack.ws_urls[0]}/ws/code/{info['room']}",
            origin=stack.http_urls[0],  # scheme, host and port, as a browser sends it
            additional_headers={"Cookie": f"sessionid={info['cookie']}"},
            max_size=MB,  # what a browser would take is not the point: daphne's limit is
        ) as ws:
            doc = Doc()
            async with Provider(doc, WebsocketsChannel(ws)) as provider:
                await asyncio.wait_for(provider.synced.wait(), 30)
                assert text_of(doc) == big_text(size)
