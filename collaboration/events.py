"""Workspace events sent on `/ws/notifications`, declared once (DESIGN.md section 5).

Every notification is a `WorkspaceEvent`; `notify_workspace` in services sends one
after the surrounding transaction commits, so no client hears of a row that
does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

EventType = Literal[
    "run.started",
    "run.completed",
    "run.failed",
    "model.registered",
    "dataset.uploaded",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__


class WorkspaceEvent(TypedDict):
    type: EventType
    workspace: str
    object_id: str
    time: str  # ISO 8601, UTC
    data: dict


def notifications_group(workspace_id) -> str:
    """Channel-layer group of a workspace's notifications (ids only, never user text)."""
    return f"notifications.{workspace_id}"


def workspace_event(
    *, type: EventType, workspace_id, object_id, data: dict | None = None, time: datetime
) -> WorkspaceEvent:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown workspace event type {type!r}")
    return {
        "type": type,
        "workspace": str(workspace_id),
        "object_id": str(object_id),
        "time": time.isoformat(),
        "data": data or {},
    }
