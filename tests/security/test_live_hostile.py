"""Hostile clients against the real server: daphne and Redis as processes.

Huge headers are answered 4xx (or the connection closed) and the next request is
served; a chat client that never reads does not slow the others; chat and code
floods meet the per-socket limits, and the code documents still converge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from pathlib import Path

import pytest
import websockets
from pycrdt import Doc, Provider, Text, create_update_message

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
for name in ["bob", "carol", "dave", "erin", "slow"]:
    team[name] = User.objects.create_user(name)
    Membership.objects.create(workspace=workspace, user=team[name], role="editor")
cookies = {}
for name, user in team.items():
    client = Client()
    client.force_login(user)
    cookies[name] = client.cookies["sessionid"].value
room = Room.objects.get(workspace=workspace, name="general")
for i in range(3):
    Room.objects.create(workspace=workspace, name=f"room{i}")
extra = [str(r.pk) for r in Room.objects.filter(workspace=workspace).exclude(pk=room.pk)]
print(json.dumps({"room": str(room.pk), "rooms": extra, "cookies": cookies}))
"""

# The per-user count in the database would stop the senders first; code's bucket is set
# below the pace at which a loaded machine stores edits, so a flood is sure to reach it.
# The send-buffer cap is low, so a reader that never reads passes it within the test;
# it must stay above CODE_MAX_UPDATE_BYTES: one legitimate frame may sit in it whole.
ENV = {
    "CHAT_RATE_LIMIT": "100000",
    "CHAT_SOCKET_BURST": "100",
    "CODE_SOCKET_RATE": "20",
    "CODE_SOCKET_BURST": "50",
    "WS_SEND_BUFFER_LIMIT": str(3 << 20),  # above the biggest update (2 MB), below 16 MB
    # Ten pastes of 900 KB pass the buffers and the cap; the document may hold them.
    "CODE_DOCUMENT_MAX_BYTES": str(16 << 20),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("hostile"), daphnes=1, env=ENV) as stack:
        setup = json.loads(stack.shell(SETUP).strip().splitlines()[-1])
        stack.room, stack.rooms, stack.cookies = setup["room"], setup["rooms"], setup["cookies"]
        yield stack


def connect(stack, user: str, path: str, **kwargs):
    return websockets.connect(
        f"{stack.ws_urls[0]}{path}",
        origin=stack.origin,
        additional_headers={"Cookie": f"sessionid={stack.cookies[user]}"},
        **kwargs,
    )


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- huge headers -----------------------------------------------------------------------


def _raw_request(port: int, head: bytes, *, timeout: float = 10) -> bytes:
    """Send `head` (sending may fail once the server gives up), return what comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not head.startswith(b"GET /api/health"):
                    break
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def _status(raw: bytes) -> int | None:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/1.") else None


def _health_ok(port: int) -> bool:
    raw = _raw_request(
        port, b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    return _status(raw) in (200, 503)  # up (503: a dependency is degraded, still serving)


@pytest.mark.parametrize(
    "head",
    [
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
        b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
        + b"\r\n",
        b"GET /api/health?" + b"q" * (1 << 20) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /ws/chat/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + b"Cookie: "
        + b"c" * (1 << 20)
        + b"\r\n\r\n",
    ],
    ids=["1MB_header", "10k_headers", "1MB_request_line", "1MB_websocket_cookie"],
)
def test_huge_headers_are_refused_and_the_server_goes_on(stack, head):
    port = stack.daphnes[0].port
    started = time.monotonic()
    raw = _raw_request(port, head)
    status = _status(raw)
    assert status is None or 400 <= status < 500, raw[:300]  # refused, or the line closed
    assert time.monotonic() - started < 10
    assert _health_ok(port), stack.logs()
    assert stack.daphnes[0].process.poll() is None


# --- slow clients -----------------------------------------------------------------------


async def _frames_of(ws, type_: str, count: int, timeout: float) -> list[tuple[dict, float]]:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        frame = json.loads(
            await asyncio.wait_for(ws.recv(), max(deadline - time.monotonic(), 0.01))
        )
        if frame["type"] == type_:
            got.append((frame, time.monotonic()))
    return got


async def test_a_chat_client_that_never_reads_does_not_hold_up_the_others(stack):
    """The slow client keeps typing (so daphne never pings it) but never reads: the
    others get every message promptly, and the server does not grow by more than it
    was asked to send (~940 KB, which the kernel's socket buffers mostly hold)."""
    path = f"/ws/chat/{stack.room}"
    daphne_pid = stack.daphnes[0].process.pid
    senders = ["alice", "bob", "carol", "dave"]
    per_sender = 60  # under the socket's burst: this test is about the reader, not the limit
    text = "x" * 3900  # 4 x 60 x 3.9 KB: ~940 KB for the slow client
    # The slow client: a tiny receive window, and it never calls recv() after connecting.
    raw = socket.create_connection(("127.0.0.1", stack.daphnes[0].port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    async with connect(stack, "slow", path, sock=raw, max_queue=1, ping_interval=None) as slow:
        first = json.loads(await slow.recv())
        assert first["type"] == "history"
        before = rss_kb(daphne_pid)

        async def keep_typing():
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await slow.send(json.dumps({"type": "typing"}))
                    await asyncio.sleep(0.5)

        typing = asyncio.create_task(keep_typing())
        async with (
            connect(stack, "alice", path) as alice,
            connect(stack, "bob", path) as bob,
            connect(stack, "carol", path) as carol,
            connect(stack, "dave", path) as dave,
        ):
            sockets = dict(zip(senders, (alice, bob, carol, dave), strict=True))
            sent_at: dict[str, float] = {}

            async def send_all(name):
                for k in range(per_sender):
                    body = f"{name}:{k}:{text}"
                    sent_at[f"{name}:{k}"] = time.monotonic()
                    await sockets[name].send(json.dumps({"type": "message", "text": body}))
                    await asyncio.sleep(0.01)

            total = per_sender * len(senders)
            receivers = [
                asyncio.create_task(_frames_of(ws, "message", total, timeout=60))
                for ws in sockets.values()
            ]
            await asyncio.gather(*(send_all(n) for n in senders))
            heard = await asyncio.gather(*receivers)
        grown_kb = rss_kb(daphne_pid) - before
        typing.cancel()
    raw.close()
    worst = 0.0
    for name, frames in zip(senders, heard, strict=True):
        keys = [":".join(f["text"].split(":", 2)[:2]) for f, _ in frames]
        assert sorted(keys) == sorted(sent_at), f"{name} missed messages"
        seqs = [f["id"] for f, _ in frames]
        assert len(set(seqs)) == total
        worst = max(worst, max(at - sent_at[k] for k, (_, at) in zip(keys, frames, strict=True)))
    # Generous for a loaded 2-core machine; a server blocked on the slow socket never gets here.
    assert worst < 15, f"slowest delivery {worst:.1f} s"
    # What was queued for the slow socket is what it was sent (~400 KB), not more.
    assert grown_kb < 64 * 1024, f"daphne grew {grown_kb} KB"


async def test_a_code_reader_that_never_reads_is_dropped_past_the_send_buffer_cap(stack):
    """Big pastes relayed to a socket that never reads: once the server holds more than
    WS_SEND_BUFFER_LIMIT (3 MB here) for it, past what the kernel buffers, the server
    drops it instead of holding every update for as long as it stays; the editors go on."""
    path = f"/ws/code/{stack.rooms[2]}"
    raw = socket.create_connection(("127.0.0.1", stack.daphnes[0].port))
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    editor_doc, reader_doc = Doc(), Doc()
    editor_text = editor_doc.get("code", type=Text)
    reader_doc.get("code", type=Text)
    async with (
        connect(stack, "carol", path, sock=raw, max_queue=1, ping_interval=None) as slow,
        connect(stack, "bob", path) as reader_ws,
        Provider(reader_doc, WebsocketsChannel(reader_ws)),
        connect(stack, "alice", path) as editor_ws,
        Provider(editor_doc, WebsocketsChannel(editor_ws)),
    ):
        await slow.recv()  # the server's sync step 1; never read again

        async def keep_alive():  # an awareness query now and then: it is not idle
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await slow.send(bytes([3]))
                    await asyncio.sleep(0.5)

        alive = asyncio.create_task(keep_alive())
        reader_text = reader_doc.get("code", type=Text)
        paste = 900_000  # under daphne's 1 MiB message limit
        for k in range(10):  # 10 pastes: past the kernel's buffers (<= 4 MB) and the cap
            editor_text.insert(len(editor_text), str(k) * paste)
            deadline = time.monotonic() + 30
            while len(str(reader_text)) != (k + 1) * paste:  # the reading editor keeps up
                assert time.monotonic() < deadline, f"the reader fell behind at paste {k}"
                await asyncio.sleep(0.05)
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(30):
                while True:
                    await slow.recv()  # what reached this side, then the drop
        alive.cancel()
    raw.close()
    assert "WS_SEND_BUFFER_LIMIT" in stack.daphnes[0].log.read_text(), stack.logs()


# --- floods -----------------------------------------------------------------------------


async def test_a_chat_flood_is_refused_and_the_room_goes_on(stack):
    path = f"/ws/chat/{stack.rooms[0]}"
    async with (
        connect(stack, "erin", path) as flooder,
        connect(stack, "alice", path) as alice,
    ):
        for _ in range(2):
            await flooder.recv()
        for i in range(500):
            await flooder.send(json.dumps({"type": "message", "text": f"flood {i}"}))
        ((error, _),) = await _frames_of(flooder, "error", 1, timeout=20)
        assert error["code"] == "rate_limited" and "frames a second" in error["message"]
        started = time.monotonic()
        await alice.send(json.dumps({"type": "message", "text": "still talking"}))
        while True:
            ((frame, at),) = await _frames_of(alice, "message", 1, timeout=20)
            if frame["text"] == "still talking":
                break
            assert frame["text"].startswith("flood ")
        assert at - started < 10
    count = stack.shell(
        "from collaboration.models import ChatMessage\n"
        f"rows = ChatMessage.objects.filter(room_id='{stack.rooms[0]}', text__startswith='flood')\n"
        "print(rows.count())"
    )
    assert 100 <= int(count.strip().splitlines()[-1]) < 500  # the burst, and a few more


async def test_a_code_flood_is_closed_and_the_documents_converge(stack):
    path = f"/ws/code/{stack.rooms[1]}"
    flood_doc, other_doc = Doc(), Doc()
    flood_text = flood_doc.get("code", type=Text)
    other_text = other_doc.get("code", type=Text)
    updates: list[bytes] = []
    flood_doc.observe(lambda event: updates.append(event.update))
    for i in range(2000):  # 2000 keystrokes, sent at once
        flood_text.insert(len(flood_text), str(i % 10))
    async with (
        connect(stack, "bob", path) as other_ws,
        Provider(other_doc, WebsocketsChannel(other_ws)),
    ):
        async with connect(stack, "alice", path) as flood_ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                for update in updates:
                    await flood_ws.send(create_update_message(update))
                await asyncio.wait_for(flood_ws.wait_closed(), 30)
        assert flood_ws.close_code == 4429, flood_ws.close_code
        # y-websocket reconnects; its sync step 2 carries whatever the server dropped.
        async with (
            connect(stack, "alice", path) as again,
            Provider(flood_doc, WebsocketsChannel(again)),
        ):
            deadline = time.monotonic() + 30
            while str(other_text) != str(flood_text):
                assert time.monotonic() < deadline, "the documents never converged"
                await asyncio.sleep(0.1)
    assert len(str(flood_text)) == 2000
    stored = stack.shell(
        "from collaboration.models import Room\n"
        "from collaboration.selectors import code_document_text\n"
        f"print(len(code_document_text(room=Room.objects.get(pk='{stack.rooms[1]}'))[0]))"
    )
    assert stored.strip().splitlines()[-1] == "2000"


# --- bodies over the limit --------------------------------------------------------------


def _answer_to_head(port: int, head: bytes, timeout: float = 10) -> bytes:
    """Send a request's head only, and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/data/upload", 500 * 2**20),
        ("/api/models/upload/", 256 * 2**20),
        ("/api/auth/login?next=/", 500 * 2**20),
    ],
)
def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(stack, path, limit):
    """The headers alone get the 413: the client sent none of its 30 GB, the server
    spooled none of it, and the next request is served."""
    port = stack.daphnes[0].port
    size = 30 * 2**30
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    raw = _answer_to_head(port, head)
    assert time.monotonic() - started < 2, "the refusal waited for the body"
    assert _status(raw) == 413, raw[:300]
    headers, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower()
    assert json.loads(body) == {
        "detail": f"The request body ({size:,} bytes) is larger than the upload limit "
        f"of {limit:,} bytes.",
        "code": "too_large",
    }
    assert _health_ok(port), stack.logs()
