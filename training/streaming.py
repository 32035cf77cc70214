"""Sending stream messages from a worker process without slowing its training.

`async_to_sync(group_send)` from a plain thread starts a fresh event loop on every
call, and channels-redis opens a fresh connection for every loop: tens of
milliseconds per epoch. A worker instead keeps one event loop in a background
thread with one long-lived connection, and hands it messages through a queue,
which also keeps them in order. The database already holds every message, so
the training never waits for the network (`flush` waits at the end of a run).
"""

from __future__ import annotations

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class BackgroundSender:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="stream-sender", daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.ready.set()
        self.loop.run_until_complete(self._pump())

    async def _pump(self) -> None:
        layer = get_channel_layer()
        while True:
            group, message, done = await self.queue.get()
            if group is not None:
                try:
                    await layer.group_send(group, message)
                except Exception:  # clients catch up from the database
                    logger.warning("stream: send to %s failed", group, exc_info=True)
            if done is not None:
                done.set()

    def send(self, group: str, message: dict) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message, None))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed over so far has been sent."""
        done = threading.Event()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (None, None, done))
        return done.wait(timeout)


_sender: BackgroundSender | None = None
_lock = threading.Lock()


def background_sender() -> BackgroundSender:
    """The worker process's one sender, started on first use by the worker task (never
    in sync mode, where the in-memory layer lives on the caller's event loop)."""
    global _sender
    with _lock:
        if _sender is None:
            _sender = BackgroundSender()
        return _sender


def active_sender() -> BackgroundSender | None:
    return _sender
