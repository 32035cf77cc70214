"""/ws/notifications: the caller's workspace events, as declared in events.py."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from collaboration.events import EVENT_TYPES, WorkspaceEvent, validate_event
from collaboration.models import Role
from collaboration.services import notify_workspace, workspace_create

from ..factories import MembershipFactory
from .conftest import ws_open

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def notify(workspace, type_, object_id="3f1d3e1e-0000-4000-8000-000000000001", **data):
    notify_workspace(type=type_, workspace_id=workspace.pk, object_id=object_id, data=data)


async def test_members_receive_every_event_type_of_their_workspaces(team):
    second = await database_sync_to_async(workspace_create)(user=team.owner, name="Oncology")
    ws = await ws_open(team.owner, "/ws/notifications")
    for type_ in EVENT_TYPES:
        await notify(team.workspace, type_, name="x")
    await notify(second, "dataset.uploaded", name="labs.csv")
    received = [await ws.receive_json_from() for _ in range(len(EVENT_TYPES) + 1)]
    for event in received:
        validate_event(WorkspaceEvent, event)
    assert [e["type"] for e in received] == [*EVENT_TYPES, "dataset.uploaded"]
    assert received[-1]["workspace"] == str(second.pk)
    assert received[-1]["data"] == {"name": "labs.csv"}
    await ws.disconnect()


async def test_viewers_hear_too_and_outsiders_hear_nothing(team):
    viewer = await ws_open(team.viewer, "/ws/notifications")
    outsider = await ws_open(team.outsider, "/ws/notifications")
    await notify(team.workspace, "run.started")
    assert (await viewer.receive_json_from())["type"] == "run.started"
    assert await outsider.receive_nothing(timeout=0.2)
    await notify(team.outsider_workspace, "model.registered")
    assert (await outsider.receive_json_from())["workspace"] == str(team.outsider_workspace.pk)
    assert await viewer.receive_nothing(timeout=0.2)
    await viewer.disconnect()
    await outsider.disconnect()


async def test_nothing_is_sent_for_a_rolled_back_transaction(team):
    ws = await ws_open(team.editor, "/ws/notifications")

    @database_sync_to_async
    def fail_after_notifying():
        with pytest.raises(RuntimeError), transaction.atomic():
            notify_workspace(type="run.completed", workspace_id=team.workspace.pk, object_id="1")
            raise RuntimeError("the run row was never saved")

    await fail_after_notifying()
    await notify(team.workspace, "run.failed")
    assert (await ws.receive_json_from())["type"] == "run.failed"  # the only one
    await ws.disconnect()


async def test_a_membership_added_later_needs_a_reconnect(team):
    ws = await ws_open(team.outsider, "/ws/notifications")
    await database_sync_to_async(MembershipFactory)(
        workspace=team.workspace, user=team.outsider, role=Role.VIEWER
    )
    await notify(team.workspace, "run.started")
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()
    again = await ws_open(team.outsider, "/ws/notifications")
    await notify(team.workspace, "run.started")
    assert (await again.receive_json_from())["workspace"] == str(team.workspace.pk)
    await again.disconnect()


async def test_a_slow_admission_is_logged_with_where_it_waited(team, monkeypatch, caplog):
    """daphne drops a handshake after 5 s with no answer (the client sees an EOF), so a
    slow one leaves a line naming its steps in the server's log."""
    from collaboration import consumers

    fast = await ws_open(team.owner, "/ws/notifications")
    assert "admitting" not in caplog.text
    monkeypatch.setattr(consumers, "SLOW_ADMISSION_SECONDS", 0.0)
    slow = await ws_open(team.owner, "/ws/notifications")
    line = next(r for r in caplog.records if "admitting" in r.getMessage())
    assert line.levelname == "WARNING"
    for step in ("/ws/notifications: admitting", "channel", "access group", "database"):
        assert step in line.getMessage()
    await fast.disconnect()
    await slow.disconnect()
