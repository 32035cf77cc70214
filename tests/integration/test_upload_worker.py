"""Uploads are parsed by the workers, not the web threads (issue #17): over the real
stack (daphne, a qcluster, Redis), a dataset or a model goes `processing` -> `ready`
or `rejected` with its progress on /ws/notifications, and another user's requests
stay fast while eight big uploads of either go through."""

from __future__ import annotations

import hashlib
import io
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
import pytest
from websockets.sync.client import connect

from tests.live_stack import (
    live_database,
    live_stack,
    signed_up_client,
    upload_dataset,
    upload_model,
    wait_for,
)

pytestmark = pytest.mark.integration

BIG_MB = 27
UPLOADERS = 4  # each sends two files at once: eight uploads, within UPLOADS_PER_USER


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("upload-worker")
    with (
        live_database(directory) as database_url,
        live_stack(
            directory,
            daphnes=1,
            qcluster=True,
            env={"DATABASE_URL": database_url, "UPLOADS_PER_USER": "2"},
        ) as stack,
    ):
        yield stack


@pytest.fixture(scope="module")
def big_csv() -> bytes:
    """About 27 MB of clinical-looking numbers."""
    rng = np.random.default_rng(17)
    rows = 200_000
    frame = pd.DataFrame(rng.normal(50, 15, size=(rows, 8)).round(4), columns=list("abcdefgh"))
    frame["outcome"] = rng.integers(0, 2, rows)
    content = frame.to_csv(index=False).encode()
    repeat = -(-BIG_MB * 10**6 // len(content))
    body = content + b"".join(content.split(b"\n", 1)[1] for _ in range(repeat - 1))
    return body[: body.rindex(b"\n", 0, BIG_MB * 10**6) + 1]


@pytest.fixture(scope="module")
def big_state_dict() -> tuple[bytes, dict[str, str]]:
    """About 27 MB of network weights (.pt), with the form fields a state dict needs."""
    import torch

    from training.ml.nn import build_mlp, make_spec

    spec = make_spec(task="classification", input_size=8, output_size=2, hidden_layers=[2048, 3200])
    torch.manual_seed(17)
    buffer = io.BytesIO()
    torch.save(build_mlp(spec).state_dict(), buffer)
    schema = [{"name": name, "type": "number"} for name in "abcdefgh"]
    fields = {"architecture": json.dumps(spec), "feature_schema": json.dumps(schema)}
    assert abs(len(buffer.getvalue()) - BIG_MB * 10**6) < 2 * 10**6, len(buffer.getvalue())
    return buffer.getvalue(), fields


def ticket(client: httpx.Client) -> str:
    return client.post("/api/auth/ws-ticket").json()["ticket"]


def events_until_settled(ws) -> list[dict]:
    """Notifications up to the first that is not progress."""
    events = [json.loads(ws.recv(timeout=60))]
    while events[-1]["type"].endswith(".progress"):
        events.append(json.loads(ws.recv(timeout=60)))
    return events


def test_an_upload_is_parsed_by_a_worker_and_its_progress_is_announced(stack):
    client = signed_up_client(stack.http_urls[0], "una")
    wait_for(
        lambda: client.get("/api/health").json()["workers"]["status"] == "ok",
        timeout=60,
        what="the qcluster",
    )
    url = f"{stack.ws_urls[0]}/ws/notifications?ticket={ticket(client)}"
    with connect(url, origin=stack.origin, open_timeout=20) as ws:
        answer = client.post(
            "/api/data/upload", files={"file": ("labs.csv", b"age,outcome\n54,0\n61,1\n70,1\n")}
        )
        assert answer.status_code == 202, answer.text
        dataset = answer.json()
        # The answer shows the row as it was when the response was built: a worker may
        # have taken it by then (what it did is on the socket below, stage by stage).
        assert dataset["status"] in ("processing", "ready"), dataset
        events = events_until_settled(ws)
        bad = client.post("/api/data/upload", files={"file": ("ragged.csv", b"a,b\n1,2\n3\n")})
        assert bad.status_code == 202, bad.text
        rejected = events_until_settled(ws)[-1]

    assert {e["object_id"] for e in events} == {dataset["id"]}
    assert [e["data"]["stage"] for e in events[:-1]] == [
        "reading",
        "profiling",
        "storing",
        "saving",
    ]
    assert events[-1]["type"] == "dataset.uploaded"
    ready = client.get(f"/api/data/{dataset['id']}").json()
    assert (ready["status"], ready["rows"], ready["n_columns"]) == ("ready", 3, 2)
    assert client.get(f"/api/data/preview/{dataset['id']}").json()["total_rows"] == 3

    assert rejected["type"] == "dataset.rejected" and rejected["object_id"] == bad.json()["id"]
    assert "Line 3" in rejected["data"]["error"]
    shown = client.get(f"/api/data/{bad.json()['id']}").json()
    assert (shown["status"], shown["error_code"]) == ("rejected", "ragged_rows")


def test_a_model_upload_is_checked_by_a_worker_and_its_progress_is_announced(stack):
    import pickle

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    client = signed_up_client(stack.http_urls[0], "mo")
    wait_for(
        lambda: client.get("/api/health").json()["workers"]["status"] == "ok",
        timeout=60,
        what="the qcluster",
    )
    frame = pd.DataFrame({"age": [54.0, 61.0, 70.0, 45.0], "bmi": [22.0, 31.0, 27.0, 24.0]})
    model = LogisticRegression().fit(frame, [0, 1, 1, 0])
    url = f"{stack.ws_urls[0]}/ws/notifications?ticket={ticket(client)}"
    with connect(url, origin=stack.origin, open_timeout=20) as ws:
        answer = client.post(
            "/api/models/upload",
            files={"file": ("risk.skops", sio.dumps(model))},
            data={"name": "risk"},
        )
        assert answer.status_code == 202, answer.text
        received = answer.json()
        # The answer shows the version as it was when the response was built: a worker
        # may have taken it by then (what it did is on the socket below, stage by stage).
        assert received["status"] in ("processing", "ready"), received
        assert received["version"] == 1
        row = {"age": 66, "bmi": 30}
        early = client.post(f"/api/models/{received['id']}/predict", json={"rows": [row]})
        events = events_until_settled(ws)
        # A pickle naming os.system: the worker reads its opcodes and refuses it.
        evil = pickle.dumps(__import__("os").system)
        bad = client.post(
            "/api/models/upload", files={"file": ("evil.pkl", evil)}, data={"name": "risk"}
        )
        assert bad.status_code == 202, bad.text
        refused = events_until_settled(ws)

    assert {e["object_id"] for e in events} == {received["id"]}
    assert [e["data"]["stage"] for e in events[:-1]] == ["checking", "storing"]
    assert events[-1]["type"] == "model.registered"
    assert events[-1]["data"] == {
        "name": "risk",
        "version": 1,
        "framework": "sklearn",
        "task": "classification",
    }
    if early.status_code != 200:  # asked before the worker was done
        assert (early.status_code, early.json()["code"]) == (409, "model_processing")
    ready = client.get(f"/api/models/{received['id']}").json()
    assert (ready["status"], [c["name"] for c in ready["feature_schema"]]) == (
        "ready",
        ["age", "bmi"],
    )
    predicted = client.post(f"/api/models/{received['id']}/predict", json={"rows": [row]})
    assert predicted.status_code == 200, predicted.text

    assert refused[-1]["type"] == "model.rejected"
    assert refused[-1]["object_id"] == bad.json()["id"]
    assert "posix.system" in refused[-1]["data"]["error"]
    shown = client.get(f"/api/models/{bad.json()['id']}").json()
    assert (shown["status"], shown["version"], shown["error_code"]) == (
        "rejected",
        2,
        "untrusted_type",
    )
    gone = client.post(f"/api/models/{bad.json()['id']}/predict", json={"rows": [{}]})
    assert (gone.status_code, gone.json()["code"]) == (409, "model_rejected")
    assert client.get("/api/models", params={"status": "ready"}).json()["count"] == 1


# Another user's requests, timed from a process of their own: threads beside the
# uploading ones would time this process's own GIL as well as the server.
PROBE = """
import json, os, sys, time
import httpx
base, token, stop = sys.argv[1:4]
latencies = []
with httpx.Client(base_url=base, headers={"Authorization": "Bearer " + token}) as client:
    for _ in range(20):  # warm: connection, session, caches
        client.get("/api/auth/me").raise_for_status()
    print("ready", flush=True)
    while not os.path.exists(stop):
        began = time.perf_counter()
        client.get("/api/auth/me").raise_for_status()
        latencies.append((time.perf_counter() - began) * 1000)
        time.sleep(0.02)
print(json.dumps(latencies), flush=True)
"""


# Each upload is sent at 16 MB/s, eight together about 1 Gbit/s: a network's pace.
# Unpaced, this test's own client (pure-Python HTTP, on the same two CPUs) would be
# what took the CPU time, not the server.
UPLOAD_BYTES_PER_SECOND = 16 * 10**6


class Paced(io.BytesIO):
    """File content that httpx reads no faster than UPLOAD_BYTES_PER_SECOND."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self._began: float | None = None
        self._sent = 0

    def read(self, size: int = -1) -> bytes:
        if self._began is None:
            self._began = time.monotonic()
        due = self._began + self._sent / UPLOAD_BYTES_PER_SECOND
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        chunk = super().read(size)
        self._sent += len(chunk)
        return chunk


def renice_workers(stack, nice: int = 10) -> None:
    """Workers run on machines of their own in production; on this one they share two
    CPUs with daphne, the uploading clients and the probe, so they get what the web
    leaves idle (as `make run` users on one machine would want)."""
    parent = psutil.Process(stack.qcluster.pid)
    for process in [parent, *parent.children(recursive=True)]:
        process.nice(nice)
    with suppress(OSError):  # autogroup scheduling ranks nice inside the session only
        Path(f"/proc/{parent.pid}/autogroup").write_text(str(nice))


@pytest.mark.parametrize("kind", ["data", "models"])
def test_another_users_requests_stay_fast_while_eight_big_uploads_go_through(
    stack, request, tmp_path, kind
):
    """/api/auth/me under 50 ms at the 99th percentile while eight 27 MB uploads are
    received, stored and read (datasets parsed, network weights checked; both used to
    run in the web server's threads)."""
    if kind == "data":
        filename, content, fields = "big{n}.csv", request.getfixturevalue("big_csv"), {}
        upload = upload_dataset
    else:
        filename, (content, fields) = "big{n}.pt", request.getfixturevalue("big_state_dict")
        upload = upload_model
        fields = {**fields, "name": "big"}
    base = stack.http_urls[0]
    uploaders = [signed_up_client(base, f"{kind}-uploader{i}") for i in range(UPLOADERS)]
    watcher = signed_up_client(base, f"{kind}-watcher")
    wait_for(
        lambda: watcher.get("/api/health").json()["workers"]["status"] == "ok",
        timeout=60,
        what="the qcluster",
    )
    renice_workers(stack)
    stop = tmp_path / "stop"
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, base, watcher.headers["Authorization"][7:], str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    me = psutil.Process()
    try:
        assert probe.stdout.readline().strip() == "ready"
        # The uploading clients are on other machines too: this process (pure-Python
        # HTTP, eight threads) yields the CPU to the server and the probe, as the
        # workers do. Without it, p99 here varied 50-65 ms with a median of 9-11 ms on
        # a slower VM of this kind: the server waited for the clients' CPU time.
        me.nice(10)

        def send(client: httpx.Client, n: int) -> dict:
            # Polled as the web app does (every 2 s), not 20 times a second: eight
            # pollers would be a load of their own.
            name = filename.format(n=n)
            return upload(client, name, Paced(content), timeout=300, poll=2, **fields)

        began = time.monotonic()
        with ThreadPoolExecutor(2 * UPLOADERS) as pool:
            jobs = [pool.submit(send, client, n) for client in uploaders for n in range(2)]
            # A third upload while two are processing is one too many for its user.
            wait_for(
                lambda: uploaders[0].get(f"/api/{kind}").json()["count"] == 2,
                timeout=120,
                what="the first user's two uploads",
                interval=0.25,
            )
            third = uploaders[0].post(
                f"/api/{kind}/upload",
                files={"file": (filename.format(n=3), content[:4096])},
                data=fields,
            )
            uploaded = [job.result() for job in jobs]
        elapsed = time.monotonic() - began
        stop.touch()
        latencies = json.loads(probe.communicate(timeout=60)[0])
    finally:
        with suppress(psutil.AccessDenied):  # raising priority back needs root
            me.nice(0)
        stop.touch()
        probe.kill()

    assert [u["status"] for u in uploaded] == ["ready"] * 8, uploaded
    # The bodies came through daphne's memory map (asgi._MappedBody) byte for byte.
    assert {
        u["lineage"]["original_sha256"] if kind == "models" else u["sha256"] for u in uploaded
    } == {hashlib.sha256(content).hexdigest()}
    if kind == "data":
        original = uploaders[0].get(f"/api/data/{uploaded[0]['id']}/download")
        assert original.status_code == 200 and original.content == content
    if third.status_code != 202:  # the two had finished already on a fast machine
        assert third.status_code == 429 and third.json()["code"] == "too_many_uploads"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    summary = (
        f"/api/auth/me over {len(latencies)} requests in {elapsed:.1f} s of uploads: "
        f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )
    print(summary)
    assert len(latencies) >= 50, summary
    assert p99 < 50, summary
