"""Message floods on the chat and code sockets, in one process (the live-stack
versions are in test_live_hostile.py).

Each socket has a token bucket (collaboration.consumers.FrameBucket; limits in
collaboration/limits.py). Over it, a chat frame is dropped with an error naming the
limit (nothing saved, nothing broadcast); a code socket is closed with 4429, and
y-websocket's reconnect resyncs, so the documents still converge. Typing at any
human speed never reaches either limit.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Text, create_sync_message, create_update_message

from collaboration.consumers import CLOSE_RATE_LIMITED, FrameBucket
from collaboration.limits import DEFAULTS, limit
from collaboration.models import ChatMessage
from collaboration.selectors import code_document_text

from ..collaboration.conftest import code_client, json_of_type, text_of, ws_open


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the bucket -------------------------------------------------------------------------


def test_bucket_allows_a_burst_then_the_rate():
    clock = FakeClock()
    bucket = FrameBucket(rate=10, burst=30, clock=clock)
    assert all(bucket.take() for _ in range(30))
    assert not bucket.take()
    clock.now += 0.5  # five tokens back
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(100)) == 30
    assert "10 frames a second (bursts of 30)" in bucket.describe()


def test_a_zero_rate_turns_the_limit_off():
    bucket = FrameBucket(rate=0, burst=1, clock=FakeClock())
    assert all(bucket.take() for _ in range(10_000))


def _typing(bucket, clock, *, seconds, keys_per_second, frames_per_key, pauses_every=None):
    """Frames of a person typing; returns how many the bucket refused."""
    refused = 0
    step = 1 / keys_per_second
    elapsed = 0.0
    while elapsed < seconds:
        for _ in range(frames_per_key):
            refused += not bucket.take()
        clock.now += step
        elapsed += step
        if pauses_every and int(elapsed) % pauses_every == 0 and elapsed % 1 < step:
            clock.now += 0.2
    return refused


@pytest.mark.parametrize(
    ("rate", "burst", "keys_per_second", "frames_per_key"),
    [
        # chat: a typing notice per keystroke, 15 keys a second (~180 words a minute)
        ("CHAT_SOCKET_RATE", "CHAT_SOCKET_BURST", 15, 1),
        # code: an update and a cursor move per keystroke, 20 keys a second (key repeat)
        ("CODE_SOCKET_RATE", "CODE_SOCKET_BURST", 20, 2),
    ],
)
def test_ten_minutes_of_fast_typing_never_reach_the_default_limits(
    rate, burst, keys_per_second, frames_per_key
):
    clock = FakeClock()
    bucket = FrameBucket(rate=DEFAULTS[rate], burst=DEFAULTS[burst], clock=clock)
    refused = _typing(
        bucket, clock, seconds=600, keys_per_second=keys_per_second, frames_per_key=frames_per_key
    )
    assert refused == 0


def test_code_key_repeat_plus_pastes_stay_under_the_default_limit():
    clock = FakeClock()
    bucket = FrameBucket(
        rate=DEFAULTS["CODE_SOCKET_RATE"], burst=DEFAULTS["CODE_SOCKET_BURST"], clock=clock
    )
    for _ in range(60):  # a minute of held-down keys (30 a second), a paste each second
        refused = _typing(bucket, clock, seconds=1, keys_per_second=30, frames_per_key=2)
        refused += sum(not bucket.take() for _ in range(3))
        assert refused == 0


def test_a_flood_does_reach_the_default_limits():
    for rate, burst in (
        ("CHAT_SOCKET_RATE", "CHAT_SOCKET_BURST"),
        ("CODE_SOCKET_RATE", "CODE_SOCKET_BURST"),
    ):
        clock = FakeClock()
        bucket = FrameBucket(rate=DEFAULTS[rate], burst=DEFAULTS[burst], clock=clock)
        assert _typing(bucket, clock, seconds=5, keys_per_second=1000, frames_per_key=1) > 4000


# --- chat -------------------------------------------------------------------------------


@database_sync_to_async
def saved_texts(room) -> list[str]:
    return list(
        ChatMessage.objects.filter(room=room).order_by("seq").values_list("text", flat=True)
    )


@pytest.mark.django_db(transaction=True)
async def test_a_chat_flood_is_dropped_with_an_error_naming_the_limit(
    team, general, settings, fresh_channel_layer
):
    settings.CHAT_RATE_LIMIT = 100_000  # the per-user count in the database: not under test
    flooder = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    reader = await ws_open(team.viewer, f"/ws/chat/{general.pk}")
    try:
        await json_of_type(flooder, "presence")
        await json_of_type(reader, "presence")
        started = time.monotonic()
        for i in range(300):
            await flooder.send_json_to({"type": "message", "text": f"flood {i}"})
        error = await json_of_type(flooder, "error", timeout=10)
        assert error["code"] == "rate_limited"
        assert "20 frames a second (bursts of 40)" in error["message"]
        assert "CHAT_SOCKET_RATE" in error["message"]
        previous, saved = -1, await saved_texts(general)
        while len(saved) != previous:  # until the socket has worked through all 300 frames
            previous = len(saved)
            await asyncio.sleep(0.3)
            saved = await saved_texts(general)
        elapsed = time.monotonic() - started
        allowed = limit("CHAT_SOCKET_BURST") + limit("CHAT_SOCKET_RATE") * elapsed
        assert 40 <= len(saved) <= allowed < 300, (len(saved), elapsed)
        # The burst went through whole; later, one now and then as the bucket refilled.
        assert saved[:40] == [f"flood {i}" for i in range(40)]
        numbers = [int(t.split()[1]) for t in saved]
        assert numbers == sorted(set(numbers)), numbers
        # The reader got exactly what was saved: nothing dropped was broadcast.
        heard = []
        while not reader.output_queue.empty():
            frame = await reader.receive_json_from()
            if frame["type"] == "message":
                heard.append(frame["text"])
        assert heard == saved
        # The sender heard why only about once a second, not once per dropped frame.
        errors = 1
        while not flooder.output_queue.empty():
            errors += (await flooder.receive_json_from())["type"] == "error"
        assert errors <= 2 + elapsed
        # Once the bucket refills, talking works again.
        await asyncio.sleep(1.2)
        await flooder.send_json_to({"type": "message", "text": "sorry"})
        assert (await json_of_type(reader, "message"))["text"] == "sorry"
    finally:
        await flooder.disconnect()
        await reader.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_typing_and_talking_at_human_speed_is_never_refused(
    team, general, fresh_channel_layer
):
    ws = await ws_open(team.editor, f"/ws/chat/{general.pk}")
    try:
        for second in range(3):
            for _ in range(12):
                await ws.send_json_to({"type": "typing"})
                await asyncio.sleep(1 / 12)
            await ws.send_json_to({"type": "message", "text": f"line {second}"})
            assert (await json_of_type(ws, "message"))["text"] == f"line {second}"
        await asyncio.sleep(0.2)
        while not ws.output_queue.empty():
            assert (await ws.receive_json_from())["type"] != "error"
    finally:
        await ws.disconnect()


# --- code -------------------------------------------------------------------------------


@database_sync_to_async
def stored_text(room) -> str:
    return code_document_text(room=room)[0]


async def _sync_with_server(ws, doc: Doc) -> None:
    """The handshake a y-websocket client makes: its state vector out, the diff back."""
    from pycrdt import handle_sync_message

    await ws.send_to(bytes_data=create_sync_message(doc))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            raise AssertionError(f"closed during sync: {output}")
        frame = output.get("bytes")
        if frame and frame[0] == 0:
            reply = handle_sync_message(frame[1:], doc)
            if reply is not None:
                await ws.send_to(bytes_data=reply)
            if frame[1] == 1:  # sync step 2: the server's diff is in
                return


@pytest.mark.django_db(transaction=True)
async def test_a_code_flood_closes_with_4429_and_a_reconnect_converges(
    team, general, settings, fresh_channel_layer
):
    # The bucket counts frames as the consumer reads them, and each edit waits for its
    # database write here, so a limit below that pace makes the flood certain to hit it.
    settings.CODE_SOCKET_RATE, settings.CODE_SOCKET_BURST = 20, 50
    doc = Doc()
    text = doc.get("code", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    ws = await ws_open(team.editor, f"/ws/code/{general.pk}")
    await _sync_with_server(ws, doc)
    updates.clear()
    for i in range(1500):  # 1500 keystrokes at once: far past the burst
        text.insert(len(text), f"{i % 10}")
    assert len(updates) == 1500
    for update in updates:
        await ws.send_to(bytes_data=create_update_message(update))
    closed = None
    while closed is None:
        output = await ws.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            closed = output
    assert closed["code"] == CLOSE_RATE_LIMITED
    assert (
        "rate limit" in closed["reason"] and "20 frames a second (bursts of 50)" in closed["reason"]
    )
    await ws.disconnect()
    partial = await stored_text(general)
    assert 0 < len(partial) < 1500  # the server kept what came under the limit
    assert str(text).startswith(partial)
    # What y-websocket does next: reconnect, and the sync sends what the server lacks.
    ws = await ws_open(team.editor, f"/ws/code/{general.pk}")
    try:
        await _sync_with_server(ws, doc)
        deadline = time.monotonic() + 10
        while await stored_text(general) != str(text):
            assert time.monotonic() < deadline, "the server never caught up"
            await asyncio.sleep(0.05)
    finally:
        await ws.disconnect()
    async with code_client(team.owner, general.pk) as late:
        assert text_of(late) == str(text) and len(str(text)) == 1500


@pytest.mark.django_db(transaction=True)
async def test_typing_code_at_human_speed_is_never_closed(team, general, fresh_channel_layer):
    async with code_client(team.editor, general.pk) as doc:
        text = doc.get("code", type=Text)
        for _ in range(60):  # two seconds at 30 keys a second, each an update
            text.insert(len(text), "x")
            await asyncio.sleep(1 / 30)
        deadline = time.monotonic() + 10
        while await stored_text(general) != "x" * 60:
            assert time.monotonic() < deadline, await stored_text(general)
            await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
async def test_a_peer_echoing_a_busy_room_is_not_taken_for_a_flooder(
    team, general, settings, fresh_channel_layer
):
    """pycrdt's Provider sends every update it receives back to the server. Echoes
    cost a tenth: a reader in a room where two others type is never closed."""
    settings.CODE_SOCKET_RATE, settings.CODE_SOCKET_BURST = 20, 50
    async with (
        code_client(team.viewer, general.pk) as reader,
        code_client(team.owner, general.pk) as alice,
        code_client(team.editor, general.pk) as bob,
    ):
        for doc, name in ((alice, "a"), (bob, "b")):  # 45 each, inside each one's burst
            text = doc.get("code", type=Text)
            for k in range(45):
                text.insert(len(text), f"{name}{k % 10}")
            await asyncio.sleep(0)
        deadline = time.monotonic() + 15
        while not (len(text_of(reader)) == len(text_of(alice)) == len(text_of(bob)) == 180):
            assert time.monotonic() < deadline, (text_of(reader), text_of(alice), text_of(bob))
            await asyncio.sleep(0.05)
        assert text_of(reader) == text_of(alice) == text_of(bob)
        deadline = time.monotonic() + 10
        while await stored_text(general) != text_of(alice):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)


def test_a_frame_may_cost_less_than_a_token():
    clock = FakeClock()
    bucket = FrameBucket(rate=10, burst=5, clock=clock)
    assert sum(bucket.take(0.25) for _ in range(30)) == 20
    clock.now += 0.1  # one token back: four frames at a quarter
    assert sum(bucket.take(0.25) for _ in range(30)) == 4
