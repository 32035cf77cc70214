"""`/ws/training/{run_id}` re-checks access while open (DESIGN.md section 5): a watcher
removed from the workspace, deactivated or whose workspace is deleted is closed within
a second and hears nothing of the run after that."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from collaboration import services as collaboration
from training.models import TrainingRun
from training.services import run_broadcast

from ..collaboration.test_access_changes import closed_within
from .test_stream import connect

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def a_run(team) -> TrainingRun:
    return TrainingRun.objects.create(
        workspace=team.workspace,
        created_by=team.owner,
        name="watched",
        model_type="logistic_regression",
        task="classification",
        target="diagnosis",
    )


async def watch(user, run) -> WebsocketCommunicator:
    ws = await connect(user, run.pk)
    assert (await ws.receive_json_from())["type"] == "snapshot"
    return ws


@database_sync_to_async
def broadcast_status(run, status: str) -> None:
    run_broadcast(run_id=run.pk, message={"type": "status", "status": status})


async def test_a_removed_watcher_is_closed_4403_and_hears_no_more(team):
    run = await a_run(team)
    carol, alice = await watch(team.viewer, run), await watch(team.owner, run)
    await database_sync_to_async(collaboration.membership_remove)(
        workspace=team.workspace, user=team.owner, member_id=team.viewer.pk
    )
    assert await closed_within(carol) == 4403

    await broadcast_status(run, "running")
    assert (await alice.receive_json_from()) == {"type": "status", "status": "running"}
    assert await carol.receive_nothing(timeout=0.2)
    await carol.disconnect()
    await alice.disconnect()


async def test_a_deactivated_watcher_is_closed_4401(team):
    run = await a_run(team)
    ws = await watch(team.editor, run)

    @database_sync_to_async
    def deactivate():
        team.editor.is_active = False
        team.editor.save(update_fields=["is_active"])

    await deactivate()
    assert await closed_within(ws) == 4401
    await ws.disconnect()


async def test_deleting_the_workspace_closes_its_run_streams_4403(team):
    run = await a_run(team)
    ws = await watch(team.viewer, run)
    await database_sync_to_async(collaboration.workspace_delete)(
        workspace=team.workspace, user=team.owner
    )
    assert await closed_within(ws) == 4403
    await ws.disconnect()
