"""`/ws/training/{run_id}`: a run's status and curves, live (DESIGN.md section 5)."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async

from collaboration.consumers import AuthenticatedJsonConsumer

from .events import training_group
from .models import TERMINAL_STATUSES, TrainingRun
from .selectors import run_snapshot
from .services import run_watchdog

WATCH_INTERVAL = 5.0  # seconds between heartbeat checks while someone watches a run


class TrainingStreamConsumer(AuthenticatedJsonConsumer):
    """Snapshot first (a late joiner sees the whole curve so far), then every change.

    The consumer joins the group before reading the snapshot, so nothing falls in
    between; messages the snapshot already holds (by `seq`) are not sent twice.
    """

    watch_task: asyncio.Task | None = None
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
        snapshot = await database_sync_to_async(run_snapshot)(run_id=self.run_id)
        self.last_seq = snapshot["seq"]
        await self.send_json(snapshot)
        if snapshot["status"] not in TERMINAL_STATUSES:  # queued runs start later
            self.watch_task = asyncio.ensure_future(self.watch())

    async def watch(self) -> None:
        """While the run is active, look for a dead worker so watchers hear of it fast.
        Ends when the run's last message (`completed` or `error`) passes through."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            await database_sync_to_async(run_watchdog)(run_ids=[self.run_id])

    async def training_message(self, event) -> None:
        """Forward the worker's message as it was encoded, once, by the sender."""
        if event["kind"] == "metrics":
            if event["seq"] <= self.last_seq:
                return
            self.last_seq = event["seq"]
        elif event["kind"] in ("completed", "error") and self.watch_task is not None:
            self.watch_task.cancel()
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
