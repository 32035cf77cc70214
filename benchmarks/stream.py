"""Live training stream against the real stack (Redis, daphne, a qcluster).

Measures, in one run:
  (a) latency from the worker's `on_epoch` (the metric's timestamp) to receipt by
      1, 10 and 100 connected WebSocket clients: p50 and p99;
  (b) five ~10-second training jobs through `POST /api/train/start` until
      `succeeded`, each against the engine alone on the same data and config in
      this process (one thread, as a worker trains), taken in turn: the whole-job
      overhead is the median of the five ratios, with their spread, and the job's
      time split by phase (queue pick-up, data load, engine, per-epoch writes and
      broadcasts, model registration, the rest: claim, results, hand-offs);
  (c) the time from `POST /api/train/start` to the first metric message.

    .venv/bin/python benchmarks/stream.py [--epochs 300] [--job-epochs N] [--jobs 5]

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.live_stack import live_stack, upload_dataset, wait_for  # noqa: E402

PASSWORD = "a-long-enough-pass-42"


def dataset(rows: int = 4000, cols: int = 12, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols))
    logits = x[:, 0] - 0.5 * x[:, 1] + 0.25 * x[:, 2] * x[:, 3]
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(cols)])
    frame["label"] = np.where(logits + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    return frame


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Client:
    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, timeout=60)
        self.http.post("/api/auth/register", json={"username": "bench", "password": PASSWORD})
        token = self.http.post("/api/auth/token", json={"username": "bench", "password": PASSWORD})
        self.http.headers["Authorization"] = f"Bearer {token.json()['access']}"

    def upload(self, frame: pd.DataFrame) -> str:
        dataset = upload_dataset(
            self.http, "bench.csv", frame.to_csv(index=False).encode(), name="bench"
        )
        assert dataset["status"] == "ready", dataset
        return dataset["id"]

    def start(self, dataset_id: str, hyper: dict) -> str:
        response = self.http.post(
            "/api/train/start",
            json={
                "dataset": dataset_id,
                "target": "label",
                "model_type": "neural_network",
                "hyperparameters": hyper,
                "random_seed": 1,
            },
        )
        response.raise_for_status()
        return response.json()["id"]

    def status(self, run_id: str) -> str:
        return self.http.get(f"/api/train/status/{run_id}").json()["status"]

    def ticket(self) -> str:
        return self.http.post("/api/auth/ws-ticket").json()["ticket"]


async def watch(
    url: str,
    origin: str,
    opened: asyncio.Event,
    enough: asyncio.Event,
    wanted: int,
    latencies: list[float],
) -> int:
    """One client: record receive time minus the metric's own timestamp, until the end."""
    received = 0
    async with connect(url, origin=origin, max_size=None, open_timeout=30) as ws:
        snapshot = json.loads(await ws.recv())
        opened.set()
        if snapshot["status"] in ("succeeded", "failed", "stopped"):
            enough.set()
            return received
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message["type"] == "metrics":
                sent = datetime.fromisoformat(message["timestamp"]).timestamp()
                latencies.append((now - sent) * 1000)
                received += 1
                if received >= wanted:
                    enough.set()
            elif message["type"] in ("completed", "error"):
                enough.set()
                return received
    return received


async def fan_out(stack, client: Client, dataset_id: str, clients: int, wanted: int) -> dict:
    """A long run watched by `clients` sockets; stopped once each saw `wanted` epochs
    live (epochs before a client connected reach it in its snapshot, not counted)."""
    # Mini-batches of 32 make an epoch take ~0.1 s here: a fast but real training pace.
    hyper = {"hidden_layers": [16], "epochs": 10_000, "batch_size": 32, "patience": 0}
    run_id = client.start(dataset_id, hyper)
    latencies: list[float] = []
    urls = stack.ws_urls
    tasks, opened, enough = [], [], []
    for i in range(clients):
        opened.append(asyncio.Event())
        enough.append(asyncio.Event())
        url = f"{urls[i % len(urls)]}/ws/training/{run_id}?ticket={client.ticket()}"
        tasks.append(
            asyncio.create_task(watch(url, stack.origin, opened[-1], enough[-1], wanted, latencies))
        )
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 60)
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in enough)), 300)
    client.http.post(f"/api/train/stop/{run_id}")
    counts = await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return {
        "clients": clients,
        "messages": len(latencies),
        "min_per_client": min(counts),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


def engine_alone(frame: pd.DataFrame, hyper: dict) -> float:
    """The same training in this process, one thread, as a worker does it."""
    import torch
    from threadpoolctl import threadpool_limits

    from training.ml import TrainConfig, train

    torch.set_num_threads(1)
    warm = TrainConfig(
        target="label",
        model_type="neural_network",
        hyperparameters={"hidden_layers": [8], "epochs": 1},
    )
    train(frame, warm)  # first use of torch initialises lazily; a running worker has done it
    config = TrainConfig(
        target="label", model_type="neural_network", hyperparameters=hyper, random_seed=1
    )
    with threadpool_limits(1):
        began = time.perf_counter()
        train(frame, config)
        return time.perf_counter() - began


async def first_metric(
    stack, client: Client, dataset_id: str, hyper: dict
) -> tuple[float, float, str]:
    """Seconds from POST start to the first metric seen, and to `succeeded`; the run."""
    began = time.perf_counter()
    run_id = client.start(dataset_id, hyper)
    first = None
    url = f"{stack.ws_urls[0]}/ws/training/{run_id}?ticket={client.ticket()}"
    async with connect(url, origin=stack.origin, max_size=None) as ws:
        snapshot = json.loads(await ws.recv())
        if snapshot["history"]:
            first = time.perf_counter() - began
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "metrics" and first is None:
                first = time.perf_counter() - began
            if message["type"] in ("completed", "error"):
                break
    done = time.perf_counter() - began
    assert client.status(run_id) == "succeeded"
    return first, done, run_id


def worker_phases(stack, run_id: str) -> dict[str, float]:
    """The phases the worker timed for a run (training.services.RunRecorder)."""
    code = (
        "import json; from training.models import TrainingRun; "
        f"print(json.dumps(TrainingRun.objects.get(pk='{run_id}').results['timings']['worker']))"
    )
    return json.loads(stack.shell(code).strip().splitlines()[-1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100, help="live epochs each client sees")
    parser.add_argument("--job-epochs", type=int, default=0, help="0: sized to ~10 s")
    parser.add_argument("--jobs", type=int, default=5, help="jobs whose overhead is the median")
    args = parser.parse_args()

    frame = dataset()
    with live_stack(daphnes=2, qcluster=True, env={"Q_WORKERS": "1"}) as stack:
        client = Client(stack.http_urls[0])
        dataset_id = client.upload(frame)
        wait_for(
            lambda: client.http.get("/api/health").json()["workers"]["status"] == "ok",
            timeout=60,
            what="qcluster",
        )
        # Warm the worker: the first neural network a worker trains imports torch (~1 s).
        warm = {"hidden_layers": [16], "epochs": 2, "patience": 0}
        cold_first, _, _ = await first_metric(stack, client, dataset_id, warm)

        fan = {}
        for n in (1, 10, 100):
            fan[n] = await fan_out(stack, client, dataset_id, n, args.epochs)
            print(f"clients={n:3d}  {fan[n]}", flush=True)

        job_epochs = args.job_epochs
        if not job_epochs:  # size the job to about ten seconds of engine time
            # Two probes: a run's fixed cost (the out-of-fold threshold, evaluation)
            # would otherwise count as epochs and leave the job short.
            probe = {"hidden_layers": [64, 32], "batch_size": 32, "patience": 0}
            short = engine_alone(frame, {**probe, "epochs": 5})
            per_epoch = max((engine_alone(frame, {**probe, "epochs": 15}) - short) / 10, 1e-3)
            job_epochs = max(5, 5 + round((10 - short) / per_epoch))
        hyper = {"hidden_layers": [64, 32], "epochs": job_epochs, "batch_size": 32, "patience": 0}
        jobs = []
        for _ in range(args.jobs):  # in turn, so that a slow spell touches both sides
            engine_s = engine_alone(frame, hyper)
            first_s, job_s, run_id = await first_metric(stack, client, dataset_id, hyper)
            phases = worker_phases(stack, run_id)
            phases["rest"] = job_s - sum(phases.values())
            jobs.append({"engine_s": engine_s, "job_s": job_s, "first_s": first_s, **phases})
            print(
                f"job: {job_epochs} epochs, engine alone {engine_s:.2f} s, through the stack "
                f"{job_s:.2f} s ({job_s / engine_s:.3f}x), first metric after {first_s:.3f} s; "
                + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()),
                flush=True,
            )
        ratios = sorted(j["job_s"] / j["engine_s"] for j in jobs)
        middle = sorted(jobs, key=lambda j: j["job_s"] / j["engine_s"])[len(jobs) // 2]

    result = {
        **{f"p50_ms_{n}": fan[n]["p50_ms"] for n in fan},
        **{f"p99_ms_{n}": fan[n]["p99_ms"] for n in fan},
        "messages_100": fan[100]["messages"],
        "job_epochs": job_epochs,
        "engine_s": round(middle["engine_s"], 3),
        "job_s": round(middle["job_s"], 3),
        "job_overhead_ratio": round(statistics.median(ratios), 3),
        "job_overhead_ratios": [round(r, 3) for r in ratios],
        "job_phases_s": {
            k: round(statistics.median(j[k] for j in jobs), 3)
            for k in ("queue_wait", "load", "engine", "epoch_writes", "register", "rest")
        },
        "first_metric_s": round(statistics.median(j["first_s"] for j in jobs), 3),
        "first_metric_cold_worker_s": round(cold_first, 3),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
