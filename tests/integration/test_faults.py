"""Faults against the real stack (issue #8): a daphne restart under a training stream,
a Redis outage during a run, and a storage folder that fills up during uploads.

A killed worker (tests/training/test_live.py) and a daphne crash under chat and code
(tests/collaboration/test_live.py) are covered where those features are tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from websockets.exceptions import ConnectionClosed

from tests.live_stack import (
    live_database,
    live_stack,
    signed_up_client,
    training_client,
    upload_dataset,
    upload_model,
    wait_for,
)
from tests.live_stack import read_training_until as read_until
from tests.live_stack import start_network_run as start
from tests.live_stack import training_socket as stream
from training.events import check_message

pytestmark = pytest.mark.integration
RUN_SECONDS = 10  # how long the fault tests' runs should train on this machine


# --- a small file system for the storage folders

TMPFS_BYTES = 8 * 1024 * 1024


@contextmanager
def tmpfs(path: Path, size: int):
    """A small RAM file system at `path` (root only). Unmounted on exit, whatever happened."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.fail(
            "this test needs to mount a small tmpfs (root, or CAP_SYS_ADMIN) to fill a "
            f"storage folder: {mount.stderr.strip() or mount.returncode}"
        )
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(mount: Path, leave: int) -> Path:
    """Fill the file system until `leave` bytes are free (to a page)."""
    filler = mount / "filler"
    size = free_bytes(mount) - leave
    assert size > 0, f"only {free_bytes(mount)} bytes free, wanted {leave} left"
    with filler.open("ab") as fh:
        fh.write(b"\xa5" * size)
    assert abs(free_bytes(mount) - leave) <= 8192, free_bytes(mount)
    return filler


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --- training under faults -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One stack for every fault here, its data and model storage on a small tmpfs (so
    that the storage test can fill it), its database of the kind this run uses."""
    directory = tmp_path_factory.mktemp("faults")
    mount = directory / "storage"
    with (
        tmpfs(mount, TMPFS_BYTES),
        live_database(directory) as database_url,
        live_stack(
            directory,
            daphnes=1,
            qcluster=True,
            env={
                "DATABASE_URL": database_url,
                "DATA_STORAGE_PATH": str(mount / "data"),
                "MODEL_STORAGE_PATH": str(mount / "models"),
            },
        ) as stack,
    ):
        stack.mount = mount
        yield stack


@pytest.fixture(scope="module")
def api(stack):
    client = training_client(stack.http_urls[0], "tess")
    # How fast this machine trains an epoch, so each fault lands mid-run.
    probe = start(client, epochs=40)
    finished(client, probe, timeout=60)
    stamps = [m["timestamp"] for m in client.get(f"/api/viz/metrics/{probe}").json()["history"]]
    times = pd.to_datetime(pd.Series(stamps))
    client.epoch_seconds = max((times.iloc[-1] - times.iloc[4]).total_seconds() / 35, 0.002)
    yield client
    client.close()


def epochs_for(api, seconds: float) -> int:
    return int(min(max(seconds / api.epoch_seconds, 100), 20_000))


def finished(api, run_id: str, timeout: float) -> dict:
    def done():
        body = api.get(f"/api/train/status/{run_id}").json()
        return body if body["status"] in ("succeeded", "failed", "stopped") else None

    return wait_for(done, timeout=timeout, what=f"the end of run {run_id}")


def read_until_closed(ws, timeout: float = 30) -> list[dict]:
    """What was still in flight when the server went away."""
    messages, deadline = [], time.monotonic() + timeout
    with suppress(ConnectionClosed):
        while time.monotonic() < deadline:
            messages.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        raise AssertionError(f"the socket stayed open {timeout}s after its server was killed")
    return messages


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages if m["type"] == "metrics"]


def test_training_stream_resumes_from_the_snapshot_after_a_daphne_restart(stack, api):
    run_id = start(api, epochs=10_000)  # trains until it is stopped, however slow the restart
    with stream(stack, api, run_id) as ws:
        first = json.loads(ws.recv(timeout=10))
        before = first["history"] + read_until(ws, {"metrics"})
        stack.stop_daphne(0, kill=True)  # a crash: the socket drops without a close frame
        before += read_until_closed(ws)
    stack.start_daphne(0)
    with stream(stack, api, run_id) as ws:  # the client reconnects to the new server
        snapshot = json.loads(ws.recv(timeout=10))
        check_message(snapshot)
        assert snapshot["status"] == "running", snapshot["status"]
        after = []
        while len(seqs(after)) < 5:  # the curve goes on live after the snapshot
            after += read_until(ws, {"metrics"})
        assert api.post(f"/api/train/stop/{run_id}").status_code == 202
        after += read_until(ws, {"completed", "error"}, timeout=60)
    assert after[-1]["type"] == "completed", after[-1]
    assert after[-1]["results"]["status"] == "stopped"
    assert [m["status"] for m in after if m["type"] == "status"][-1] == "stopped"
    # The new snapshot plus the live epochs after it are every epoch, once, in order.
    history = api.get(f"/api/viz/metrics/{run_id}").json()["history"]
    assert seqs(snapshot["history"]) + seqs(after) == list(range(1, len(history) + 1))
    assert snapshot["history"] + [m for m in after if m["type"] == "metrics"] == history
    # What the client saw before the crash is the start of the same curve.
    seen = [m for m in before if m["type"] == "metrics"]
    assert seen and seen == history[: len(seen)]
    assert len(seen) < len(snapshot["history"])  # it trained on while the server was away
    assert api.get(f"/api/train/status/{run_id}").json()["status"] == "stopped"


def stream_failures(stack) -> int:
    """How many stream messages the worker could not hand to Redis so far."""
    return (stack.directory / "qcluster.log").read_text(errors="replace").count("stream: send to")


def test_a_redis_outage_mid_run_loses_nothing_on_the_socket(stack, api):
    epochs = epochs_for(api, RUN_SECONDS)
    run_id = start(api, epochs)
    failures = stream_failures(stack)
    with stream(stack, api, run_id) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        live = snapshot["history"] + read_until(ws, {"metrics"})
        # Redis crashes: the channel layer, its subscriptions, the cache and the queue go.
        stack.stop_redis(kill=True)
        try:
            # Meanwhile a client that refetches is told to come back, not given a 500.
            refetch = api.get(f"/api/train/status/{run_id}")
            assert refetch.status_code == 503, refetch.text
            assert refetch.json()["code"] == "service_unavailable"
            assert "redis" in refetch.json()["detail"].lower()
            assert int(refetch.headers["Retry-After"]) > 0
            # A run started now is refused the same way, and leaves no run behind.
            refused = api.post(
                "/api/train/start",
                json={
                    "dataset": api.dataset_id,
                    "target": "diagnosis",
                    "positive_class": "malignant",
                    "model_type": "decision_tree",
                },
            )
            assert refused.status_code == 503, refused.text
            time.sleep(1)
        finally:
            stack.start_redis()
        live += read_until(ws, {"completed", "error"}, timeout=RUN_SECONDS * 10)
    assert stream_failures(stack) > failures, "the outage never touched the stream"
    # The epochs Redis dropped were read from the database: the socket saw every one,
    # once, in order, and then the end.
    assert seqs(live) == list(range(1, epochs + 1))
    assert live[-1]["type"] == "completed", live[-1]
    assert live[-1]["results"]["status"] == "succeeded"
    history = api.get(f"/api/viz/metrics/{run_id}").json()["history"]
    assert [m for m in live if m["type"] == "metrics"] == history
    status = finished(api, run_id, timeout=10)
    assert status["status"] == "succeeded", status


def test_a_run_that_ends_during_a_redis_outage_tells_its_watchers_and_workers_recover(stack, api):
    epochs = epochs_for(api, 3)
    run_id = start(api, epochs)
    with stream(stack, api, run_id) as ws:
        snapshot = json.loads(ws.recv(timeout=10))
        live = snapshot["history"] + read_until(ws, {"metrics"})
        stack.stop_redis(kill=True)
        stopped_at = time.time()
        try:
            # The run ends while Redis is still away: its watchers hear it all the same.
            live += read_until(ws, {"completed", "error"}, timeout=90)
            ended_at = time.time()
        finally:
            stack.start_redis()
    assert live[-1]["type"] == "completed", live[-1]
    assert live[-1]["results"]["status"] == "succeeded"
    assert seqs(live) == list(range(1, epochs + 1))
    status = finished(api, run_id, timeout=10)
    assert status["status"] == "succeeded", status
    finished_at = pd.Timestamp(status["finished_at"]).timestamp()
    assert stopped_at < finished_at < ended_at, "the run did not end during the outage"

    # The qcluster lived through it, and its queue works again: a new run trains.
    assert stack.qcluster.poll() is None, stack.logs()
    again = start(api, epochs=5)
    with stream(stack, api, again) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        ending = read_until(ws, {"completed", "error"}, timeout=90)[-1]
    assert ending["type"] == "completed" and ending["results"]["status"] == "succeeded", ending
    assert finished(api, again, timeout=10)["status"] == "succeeded"
    assert api.get("/api/health").json()["status"] == "ok"
    # No run of this module was left waiting or running by any of the faults.
    runs = api.get("/api/train", params={"page_size": 100}).json()["results"]
    assert {r["status"] for r in runs} <= {"succeeded", "stopped"}, runs


# --- storage full during an upload ---------------------------------------------------------


def _csv(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 5)), columns=[f"x{i}" for i in range(5)])
    frame["y"] = rng.integers(0, 2, rows)
    return frame.to_csv(index=False).encode()


def _skops() -> bytes:
    """A fitted tree that learnt noise, so it is big: about 200 KB."""
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(5000, 5)), columns=[f"x{i}" for i in range(5)])
    return sio.dumps(DecisionTreeClassifier(random_state=0).fit(frame, rng.integers(0, 2, 5000)))


def assert_storage_full(response: httpx.Response) -> None:
    assert response.status_code == 413, (response.status_code, response.text)
    body = response.json()
    assert body["code"] == "storage_full", body
    assert "storage is full" in body["detail"].lower(), body


def test_a_full_storage_refuses_uploads_cleanly_and_recovers(stack, api):
    mount = stack.mount
    # What the other tests stored stays as it is; a run of theirs still going (one
    # that failed half-way) would add its model file in the middle of this test.
    wait_for(
        lambda: all(
            r["status"] in ("succeeded", "failed", "stopped")
            for r in api.get("/api/train", params={"page_size": 100}).json()["results"]
        ),
        timeout=120,
        what="the end of the other tests' runs",
    )
    kept = files_under(mount)
    api = signed_up_client(stack.http_urls[0], "fay")
    # 8,000 rows of random floats: about 800 KB as CSV, at least 320 KB as Parquet.
    csv = _csv(8_000)
    tree = _skops()
    filler = None
    try:
        # Not even the original fits.
        filler = fill(mount, leave=256 * 1024)
        assert_storage_full(api.post("/api/data/upload", files={"file": ("big.csv", csv)}))
        assert api.get("/api/data").json()["count"] == 0
        assert files_under(mount) == sorted([*kept, "filler"])

        # The original fits, its Parquet copy does not: the worker rejects the upload
        # (the row stays, saying why) and its stored original goes again.
        filler.unlink()
        filler = fill(mount, leave=len(csv) + 64 * 1024)
        rejected = upload_dataset(api, "big.csv", csv)
        assert (rejected["status"], rejected["error_code"]) == ("rejected", "storage_full")
        assert rejected["error"].startswith("Storage is full"), rejected
        assert files_under(mount) == sorted([*kept, "filler"])
        assert api.delete(f"/api/data/{rejected['id']}/").status_code == 204

        # A model file that does not fit.
        filler.unlink()
        filler = fill(mount, leave=len(tree) // 2)
        upload = api.post(
            "/api/models/upload", files={"file": ("tree.skops", tree)}, data={"name": "tree"}
        )
        assert_storage_full(upload)
        assert api.get("/api/models").json()["count"] == 0
        assert files_under(mount) == sorted([*kept, "filler"])

        # It fits as uploaded, but not once more as the file predict loads (a worker
        # stores that copy before it removes the upload): rejected, and nothing kept.
        filler.unlink()
        filler = fill(mount, leave=len(tree) + len(tree) // 2)
        rejected = upload_model(api, "tree.skops", tree, name="tree")
        assert (rejected["status"], rejected["error_code"]) == ("rejected", "storage_full")
        assert files_under(mount) == sorted([*kept, "filler"])
        assert api.delete(f"/api/models/{rejected['id']}/").status_code == 204
    finally:
        if filler is not None:
            filler.unlink(missing_ok=True)

    # Space freed: the same uploads go through, and nothing of the failures was kept.
    dataset = upload_dataset(api, "big.csv", csv)
    assert (dataset["status"], dataset["rows"]) == ("ready", 8_000), dataset
    folder = f"data/{dataset['workspace']}/{dataset['id']}"
    stored = [f"{folder}/data.parquet", f"{folder}/original.csv"]
    assert files_under(mount) == sorted(kept + stored)
    download = api.get(f"/api/data/{dataset['id']}/download")
    assert download.status_code == 200 and download.content == csv
    model = upload_model(api, "tree.skops", tree, name="tree")
    assert model["status"] == "ready", model
    assert files_under(mount) == sorted(
        kept + stored + [f"models/{model['workspace']}/{model['id']}.skops"]
    )
    assert api.get("/api/models").json()["count"] == 1
    api.close()
