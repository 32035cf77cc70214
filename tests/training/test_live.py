"""Training against the real stack: a qcluster process trains, daphne streams over real
sockets, Redis carries both. Start, watch, join late, stop, and kill a worker."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.live_stack import live_stack, training_client, wait_for
from tests.live_stack import read_training_until as read_until
from tests.live_stack import start_network_run as start
from tests.live_stack import training_socket as stream

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(tmp_path_factory.mktemp("training-live"), daphnes=1, qcluster=True) as s:
        yield s


@pytest.fixture(scope="module")
def api(stack):
    client = training_client(stack.http_urls[0], "tess")
    yield client
    client.close()


def test_two_clients_and_a_late_joiner_see_every_epoch_in_order(stack, api):
    run_id = start(api, epochs=25, batch_size=32)
    with stream(stack, api, run_id) as first, stream(stack, api, run_id) as second:
        for ws in (first, second):
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        early = read_until(first, {"metrics"})
        with stream(stack, api, run_id) as late:
            snapshot = json.loads(late.recv(timeout=10))
            late_rest = read_until(late, {"completed", "error"})
        rest = read_until(first, {"completed", "error"})
        other = read_until(second, {"completed", "error"})
    assert rest[-1]["type"] == "completed", rest[-1]
    first_all = early + rest
    assert first_all == other  # both clients got the same messages in the same order
    seqs = [m["seq"] for m in first_all if m["type"] == "metrics"]
    assert seqs == list(range(1, 26))
    # The late joiner's snapshot plus what followed is the whole curve, no gap, no repeat.
    late_seqs = [m["seq"] for m in snapshot["history"]]
    late_seqs += [m["seq"] for m in late_rest if m["type"] == "metrics"]
    assert late_seqs == list(range(1, 26))
    status = api.get(f"/api/train/status/{run_id}").json()
    assert status["status"] == "succeeded"
    results = api.get(f"/api/train/results/{run_id}").json()
    assert len(results["training_history"]["epochs"]) == 25
    assert results["model"]["id"]


def test_stop_ends_the_run_within_an_epoch(stack, api):
    run_id = start(api, epochs=2000)
    with stream(stack, api, run_id) as ws:
        ws.recv(timeout=10)
        before = read_until(ws, {"metrics"})
        assert api.post(f"/api/train/stop/{run_id}").status_code == 202
        after = read_until(ws, {"completed", "error"}, timeout=60)
    statuses = [m["status"] for m in after if m["type"] == "status"]
    assert statuses[-2:] == ["stopping", "stopped"] or statuses[-1] == "stopped", statuses
    stopped_at = api.get(f"/api/viz/metrics/{run_id}").json()["epochs"][-1]
    assert stopped_at < 2000
    assert before[-1]["seq"] <= stopped_at
    assert api.get(f"/api/train/status/{run_id}").json()["status"] == "stopped"


def test_a_killed_worker_fails_the_run_and_watchers_hear_it(stack, api):
    run_id = start(api, epochs=5000)
    with stream(stack, api, run_id) as ws:
        ws.recv(timeout=10)
        read_until(ws, {"metrics"})
        worker = stack.shell(
            "from training.models import TrainingRun;"
            f"print(TrainingRun.objects.get(pk='{run_id}').worker)"
        ).strip()
        pid = int(worker.rsplit(":", 1)[1])
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        messages = read_until(ws, {"error"}, timeout=60)
        heard_after = time.monotonic() - killed_at
    assert heard_after < 60
    assert "stopped responding" in messages[-1]["message"]
    status = api.get(f"/api/train/status/{run_id}").json()
    assert status["status"] == "failed" and "stopped responding" in status["error"]
    # The cluster replaced the worker: a new run still trains.
    again = start(api, epochs=3)
    wait_for(
        lambda: api.get(f"/api/train/status/{again}").json()["status"] == "succeeded",
        timeout=120,
        what="a run after the kill",
    )
