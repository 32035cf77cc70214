"""`/ws/training/{run_id}`: snapshot, ordered live metrics, status, completed / error."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from collaboration.events import notifications_group
from medilytica_site.asgi import application
from medilytica_site.services import ws_ticket_issue
from training import selectors, services
from training.events import check_message, metrics_message
from training.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)
NN = {"hidden_layers": [8], "epochs": 5, "batch_size": 32, "patience": 0, "learning_rate": 0.02}


@database_sync_to_async
def queued_run(team, dataset, **config):
    fields = {
        "target": "diagnosis",
        "model_type": "neural_network",
        "hyperparameters": NN,
        "positive_class": "malignant",
    }
    fields.update(config)
    built = services.run_config_build(dataset=dataset, data=fields, user=team.owner)
    return services.run_start(user=team.owner, dataset=dataset, config=built, enqueue=False)


async def connect(user, run_id) -> WebsocketCommunicator:
    ticket = await database_sync_to_async(ws_ticket_issue)(user=user) if user else ""
    ws = WebsocketCommunicator(
        application,
        f"/ws/training/{run_id}?ticket={ticket}",
        headers=[(b"origin", b"http://localhost")],
    )
    connected, _ = await ws.connect()
    assert connected
    return ws


async def drain(ws, until: str, timeout: float = 10) -> list[dict]:
    messages = []
    while True:
        message = await ws.receive_json_from(timeout=timeout)
        check_message(message)
        messages.append(message)
        if message["type"] == until:
            return messages


async def test_two_clients_see_the_same_ordered_stream_and_a_late_joiner_the_whole_curve(
    team, cancer
):
    run = await queued_run(team, cancer)
    first = await connect(team.owner, run.pk)
    second = await connect(team.viewer, run.pk)
    for ws in (first, second):
        snapshot = await ws.receive_json_from()
        check_message(snapshot)
        assert snapshot["status"] == "queued" and snapshot["history"] == []

    await database_sync_to_async(services.run_execute)(run_id=run.pk)

    streams = [await drain(ws, "completed") for ws in (first, second)]
    assert streams[0] == streams[1]
    types = [m["type"] for m in streams[0]]
    assert types[0] == "status" and streams[0][0]["status"] == "running"
    assert types[-2:] == ["status", "completed"] and streams[0][-2]["status"] == "succeeded"
    metrics = [m for m in streams[0] if m["type"] == "metrics"]
    assert [m["seq"] for m in metrics] == list(range(1, len(metrics) + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "timestamp"} <= set(metrics[0])
    completed = streams[0][-1]["results"]
    assert completed["status"] == "succeeded" and completed["metrics"]["accuracy"] > 0.5

    late = await connect(team.editor, run.pk)
    snapshot = await late.receive_json_from()
    assert snapshot["status"] == "succeeded"
    assert snapshot["history"] == metrics
    for ws in (first, second, late):
        await ws.disconnect()


async def test_a_snapshot_too_long_for_one_frame_comes_in_parts_in_order(team, cancer, monkeypatch):
    run = await queued_run(team, cancer)
    await database_sync_to_async(services.run_execute)(run_id=run.pk)
    whole = (await database_sync_to_async(selectors.run_snapshot)(run_id=run.pk))["history"]
    assert len(whole) == 5
    two_epochs = len(json.dumps(whole[:2]))
    monkeypatch.setattr(selectors, "SNAPSHOT_MAX_BYTES", two_epochs)

    ws = await connect(team.viewer, run.pk)
    frames = [await ws.receive_json_from()]
    while frames[-1]["more"]:
        frames.append(await ws.receive_json_from())
    for frame in frames:
        check_message(frame)
        assert len(json.dumps(frame["history"])) <= two_epochs
        assert frame["seq"] == frame["history"][-1]["seq"]
    assert frames[0]["type"] == "snapshot" and frames[0]["status"] == "succeeded"
    assert {frame["type"] for frame in frames[1:]} == {"snapshot_part"}
    assert [m for frame in frames for m in frame["history"]] == whole
    assert [frame["more"] for frame in frames] == [
        5 - sum(len(f["history"]) for f in frames[: i + 1]) for i in range(len(frames))
    ]
    assert await ws.receive_nothing(timeout=0.5), "a finished run sends nothing after it"
    await ws.disconnect()


def fake_snapshot(monkeypatch, history: list[dict]) -> None:
    snapshot = {"type": "snapshot", "status": "succeeded", "progress": {}}
    seq = history[-1]["seq"] if history else 0
    monkeypatch.setattr(
        selectors, "run_snapshot", lambda run_id: {**snapshot, "seq": seq, "history": history}
    )


def test_a_10000_epoch_history_fits_daphnes_frame_limit(monkeypatch):
    history = [
        metrics_message(
            seq=epoch,
            epoch=epoch,
            values={
                "loss": 0.123456789,
                "accuracy": 0.987654321,
                "val_loss": 0.2 if epoch < 5000 else None,  # shorter at first, as a sample sees
                "val_accuracy": 0.9,
            },
            timestamp="2026-12-07T01:02:03.456789+00:00",
        )
        for epoch in range(1, 10_001)
    ]
    fake_snapshot(monkeypatch, history)
    frames = selectors.run_snapshot_frames(run_id=None)
    assert frames.status == "succeeded" and frames.seq == 10_000
    assert max(len(text.encode()) for text in frames.texts) < 1024 * 1024
    messages = [json.loads(text) for text in frames.texts]
    for message in messages:
        check_message(message)
    assert 2 < len(messages) <= 8  # a few frames of about 512 KiB, not one per epoch
    assert [m["type"] for m in messages] == ["snapshot"] + ["snapshot_part"] * (len(messages) - 1)
    assert [m for message in messages for m in message["history"]] == history
    assert messages[-1]["more"] == 0 and messages[-1]["seq"] == 10_000


@pytest.mark.parametrize("epochs", [0, 1, 300])
def test_a_short_history_is_one_snapshot_as_before(monkeypatch, epochs):
    history = [
        metrics_message(seq=e, epoch=e, values={"loss": 0.5}, timestamp="2026-12-07T01:02:03Z")
        for e in range(1, epochs + 1)
    ]
    fake_snapshot(monkeypatch, history)
    frames = selectors.run_snapshot_frames(run_id=None)
    assert len(frames.texts) == 1 and frames.seq == epochs
    message = json.loads(frames.texts[0])
    check_message(message)
    assert "more" not in message and message["history"] == history


async def test_watchers_hear_when_the_worker_dies(team, cancer, settings):
    settings.TRAINING_HEARTBEAT_TIMEOUT = 5
    run = await queued_run(team, cancer)

    @database_sync_to_async
    def worker_died():
        run.mark_running(worker="gone:1")
        TrainingRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=30)
        )

    await worker_died()
    ws = await connect(team.viewer, run.pk)
    assert (await ws.receive_json_from())["status"] == "running"
    await database_sync_to_async(services.run_watchdog)()
    messages = await drain(ws, "error")
    assert messages[0] == {"type": "status", "status": "failed", "error": messages[1]["message"]}
    assert "stopped responding" in messages[1]["message"]
    await ws.disconnect()


async def test_notifications_carry_run_started_and_completed(team, cancer):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(notifications_group(team.workspace.pk), channel)
    run = await queued_run(team, cancer, model_type="decision_tree", hyperparameters={})
    await database_sync_to_async(services.run_execute)(run_id=run.pk)
    events = [(await layer.receive(channel))["event"] for _ in range(3)]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run.started" and "run.completed" in kinds
    assert all(e["workspace"] == str(team.workspace.pk) for e in events)


@pytest.mark.parametrize("name, code", [("outsider", 4403), ("anonymous", 4401)])
async def test_outsiders_and_anonymous_are_refused(team, cancer, name, code):
    run = await queued_run(team, cancer)
    ws = await connect(None if name == "anonymous" else team.outsider, run.pk)
    assert await ws.receive_output() == {"type": "websocket.close", "code": code}


async def test_an_unknown_run_is_4403(team):
    ws = await connect(team.owner, "00000000-0000-0000-0000-000000000000")
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_epochs_the_layer_lost_are_read_from_the_database(team, cancer):
    """A Redis outage drops broadcasts; the next one that arrives shows the gap in `seq`,
    and the socket gets the missing epochs from the database first, in order."""
    import json

    from channels.layers import get_channel_layer

    from training.events import metrics_message, training_group
    from training.models import RunMetric

    run = await queued_run(team, cancer)
    ws = await connect(team.owner, run.pk)
    assert (await ws.receive_json_from())["history"] == []

    @database_sync_to_async
    def record(seqs):  # saved by the worker; their broadcasts were lost
        for seq in seqs:
            RunMetric.objects.create(run=run, seq=seq, epoch=seq, values={"loss": 1 / seq})

    await record([1, 2, 3])
    third = metrics_message(seq=3, epoch=3, values={"loss": 1 / 3}, timestamp="t3")
    event = {"type": "training.message", "kind": "metrics", "seq": 3, "text": json.dumps(third)}
    await get_channel_layer().group_send(training_group(run.pk), event)
    got = [await ws.receive_json_from() for _ in range(3)]
    assert [m["seq"] for m in got] == [1, 2, 3]
    assert got[-1]["loss"] == pytest.approx(1 / 3)
    await get_channel_layer().group_send(training_group(run.pk), event)  # a late copy
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_watchers_hear_the_end_of_a_run_whose_broadcasts_were_lost(team, cancer, monkeypatch):
    from training import consumers

    monkeypatch.setattr(consumers, "WATCH_INTERVAL", 0.05)
    monkeypatch.setattr(consumers, "END_WAIT", 0.05)
    run = await queued_run(team, cancer)
    ws = await connect(team.viewer, run.pk)
    assert (await ws.receive_json_from())["status"] == "queued"

    monkeypatch.setattr(services, "run_broadcast", lambda **kwargs: None)  # Redis is away
    await database_sync_to_async(services.run_execute)(run_id=run.pk)
    messages = await drain(ws, "completed")
    metrics = [m for m in messages if m["type"] == "metrics"]
    assert [m["seq"] for m in metrics] == list(range(1, NN["epochs"] + 1))
    assert messages[len(metrics) :] == [
        {"type": "status", "status": "succeeded"},
        messages[-1],
    ]
    assert messages[-1]["results"]["status"] == "succeeded"
    assert await ws.receive_nothing(timeout=0.3)  # the end is sent once
    await ws.disconnect()
