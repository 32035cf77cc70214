"""`/ws/training/{run_id}`: a run's status and curves, live (DESIGN.md section 5)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from channels.db import database_sync_to_async

from collaboration.consumers import AuthenticatedJsonConsumer

from .events import training_group
from .models import TERMINAL_STATUSES, TrainingRun
from .selectors import run_history, run_snapshot_frames
from .services import run_stream_ending, run_watchdog

WATCH_INTERVAL = 5.0  # seconds between heartbeat checks while someone watches a run
END_WAIT = 1.0  # seconds an ended run's own last messages get before the database is read


class TrainingStreamConsumer(AuthenticatedJsonConsumer):
    """Snapshot first (a late joiner sees the whole curve so far), then every change.

    The consumer joins the group before reading the snapshot, so nothing falls in
    between; messages the snapshot already holds (by `seq`) are not sent twice. What
    the channel layer lost (Redis went away for a while) is read from the database:
    the epochs behind a gap in `seq`, and the end of a run that ended unheard.
    """

    watch_task: asyncio.Task | None = None
    finished = False  # the run's last message went out; nothing follows it
    status_sent: str | None = None
    # Every database read here goes through database_sync_to_async, so skip Channels'
    # per-message hop to its single sync thread (it queues every socket's frames).
    close_connections_per_message = False

    async def resolve_workspace_id(self):
        self.run_id = self.scope["url_route"]["kwargs"]["run_id"]
        return await database_sync_to_async(
            lambda: (
                TrainingRun.objects.filter(pk=self.run_id)
                .values_list("workspace_id", flat=True)
                .first()
            )
        )()

    async def on_admitted(self) -> None:
        self.group = training_group(self.run_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        frames = await database_sync_to_async(run_snapshot_frames)(run_id=self.run_id)
        if frames is None:  # deleted since it was looked up
            await self.close(code=4404)
            return
        self.last_seq = frames.seq
        self.status_sent = frames.status
        for text in frames.texts:
            await self.send(text_data=text)
        if frames.status in TERMINAL_STATUSES:
            self.finished = True
        else:  # queued runs start later
            self.watch_task = asyncio.ensure_future(self.watch())

    async def watch(self) -> None:
        """While the run is active, look for a dead worker so watchers hear of it fast,
        and for an end whose messages never came (lost with a Redis outage), which is
        then read from the database. Ends when the run's last message has gone out."""
        while not self.finished:
            await asyncio.sleep(WATCH_INTERVAL)
            await database_sync_to_async(run_watchdog)(run_ids=[self.run_id])
            ending = await database_sync_to_async(run_stream_ending)(run_id=self.run_id)
            if ending is not None:
                await asyncio.sleep(END_WAIT)  # the worker's own copies are usually on the way
                if not self.finished:
                    self.finished = True
                    await self.send_missed()
                    for message in ending:
                        if message["type"] != "status" or message["status"] != self.status_sent:
                            await self.send_json(message)
                return

    async def send_missed(self) -> None:
        """Send the epochs after `last_seq` from the database (they were lost on the way)."""
        history = await database_sync_to_async(run_history)(
            run_id=self.run_id, after_seq=self.last_seq
        )
        for message in history:
            await self.send_json(message)
        if history:
            self.last_seq = history[-1]["seq"]

    async def training_message(self, event) -> None:
        """Forward the worker's message as it was encoded, once, by the sender."""
        if self.finished:
            return
        kind = event["kind"]
        if kind == "metrics":
            if event["seq"] <= self.last_seq:
                return
            if event["seq"] > self.last_seq + 1:  # epochs lost on the way; the database has them
                await self.send_missed()
                if event["seq"] <= self.last_seq:
                    return
            self.last_seq = event["seq"]
        elif kind == "status":
            self.status_sent = json.loads(event["text"])["status"]
        elif kind in ("completed", "error"):
            self.finished = True
            if self.watch_task is not None:
                self.watch_task.cancel()
            await self.send_missed()  # the last epochs may have been lost
        await self.send(text_data=event["text"])

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def disconnect(self, code) -> None:
        if self.watch_task is not None:
            self.watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.watch_task
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
