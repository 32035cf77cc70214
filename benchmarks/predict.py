"""Predict latency through the API against the loaded pipeline called directly.

A throwaway database and storage are made under a temporary folder; the engine trains
a random forest and an MLP (its defaults, fewer epochs) on synthetic clinical data;
both are registered with ``model_register``. Then ``daphne`` serves the real ASGI
stack (middleware, JWT auth, throttling, JSON parsing, row validation, rendering) on
a free port, and ``POST /api/models/{id}/predict`` is timed with 1 and 1,000 rows over
one keep-alive HTTP connection. The baseline, measured in the same run on the same
machine, is the registered scikit-learn pipeline called directly in this process
(``pipeline.predict_proba`` on a ready DataFrame): no HTTP, no JSON, no validation.
The API itself does not call that pipeline's ``predict_proba`` but predict's fast path
(``mlmodels/fastpath.py``, the same numbers bit for bit); its in-process time is
printed too (``fastpath_p50_ms_*``, ``ratio_*_vs_fastpath``), so the figures show both
what the API costs against doing it yourself and what the HTTP / JSON / validation
layer costs on top of the model. ``--in-process`` uses DRF's test client instead of
daphne (no sockets; the same view code).

    .venv/bin/python benchmarks/predict.py
    .venv/bin/python benchmarks/predict.py --requests 100 --in-process

Goals: 1-row p50 under 20 ms through the API; at 1,000 rows the API within 2x of the
direct call (``ratio_1000_rows`` <= 2). The last line printed is one JSON object keyed
by model type.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-" + secrets.token_urlsafe(12)


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    """12 numeric (some gaps), 4 categorical (some gaps), a binary outcome. Numbers have
    two decimals, as lab values are reported (full 17-digit floats triple the JSON
    body; parsing 1,000 such rows alone takes about 5 ms)."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 12)).round(2)
    logit = numeric[:, :6] @ rng.normal(size=6) - 0.5
    frame: dict[str, Any] = {}
    for i in range(12):
        column = numeric[:, i].copy()
        if i % 4 == 0:
            column[rng.random(rows) < 0.03] = np.nan
        frame[f"lab_{i}"] = column
    for j, count in enumerate((2, 3, 5, 8)):
        codes = rng.integers(0, count, size=rows)
        logit += rng.normal(scale=0.5, size=count)[codes]
        values = np.array([f"c{j}_{v}" for v in range(count)], dtype=object)[codes]
        values[rng.random(rows) < 0.02] = None
        frame[f"cat_{j}"] = values
    frame["outcome"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame(frame)


def json_rows(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000, q))


def time_interleaved(calls: list, count: int) -> list[list[float]]:
    """Take turns between the calls so all see the same machine load (other processes
    on a shared machine move the absolute figures a lot more than the ratios)."""
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(count):
        for call, out in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def configure(folder: Path) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "medilytica_site.settings",
        "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "MODEL_STORAGE_PATH": str(folder / "models"),
        "DATA_STORAGE_PATH": str(folder / "data"),
        "RESULTS_STORAGE_PATH": str(folder / "results"),
        # Production settings, minus HTTPS (plain local sockets) and with a throttle
        # rate that a benchmark's burst does not hit.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "THROTTLE_USER": "10000000/minute",
        "LOG_LEVEL": "WARNING",
        "Q_SYNC": "true",
    }
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    return env


def setup_models(rows: int, epochs: int) -> tuple[Any, dict[str, Any]]:
    import django

    django.setup()
    from django.core.management import call_command

    from collaboration.selectors import personal_workspace
    from collaboration.services import user_register
    from mlmodels.services import model_register
    from training.ml.config import TrainConfig
    from training.ml.engine import train

    call_command("migrate", verbosity=0)
    user = user_register(username="bench", password=PASSWORD)
    workspace = personal_workspace(user=user)
    frame = make_data(rows)
    artifacts = {}
    for model_type, params in (
        ("random_forest", {}),
        ("neural_network", {"epochs": epochs}),
    ):
        started = time.perf_counter()
        result = train(
            frame,
            TrainConfig(target="outcome", model_type=model_type, hyperparameters=params),
        )
        summary = result.to_dict()
        artifacts[model_type] = model_register(
            workspace=workspace,
            user=user,
            name=f"bench {model_type}",
            pipeline=result.pipeline,
            framework="pytorch" if model_type == "neural_network" else "sklearn",
            task=result.task,
            feature_schema=summary["feature_schema"],
            target="outcome",
            class_labels=summary["class_labels"],
            metrics=summary["metrics"],
            hyperparameters=summary["model"]["hyperparameters"],
        )
        print(
            f"trained and registered {model_type} in {time.perf_counter() - started:.1f} s "
            f"({artifacts[model_type].size_bytes / 1e6:.1f} MB stored)",
            flush=True,
        )
    return user, artifacts


class LiveServer:
    """daphne serving medilytica_site.asgi on a free port, with an httpx client."""

    def __init__(self, env: dict[str, str]) -> None:
        import httpx

        self.port = free_port()
        daphne = Path(sys.executable).with_name("daphne")
        self.process = subprocess.Popen(
            [
                str(daphne),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "medilytica_site.asgi:application",
            ],  # fmt: skip
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.client.get("/api/health").status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"daphne did not start: {self.process.stderr.read()[-2000:]}")
            time.sleep(0.2)
        token = self.client.post(
            "/api/auth/token", json={"username": "bench", "password": PASSWORD}
        ).json()["access"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict | bytes) -> tuple[int, Any]:
        # The body is encoded once, before timing: the client's JSON encoding of
        # 1,000 rows is not the server's cost.
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.client.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        return response.status_code, response

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)


class InProcessClient:
    """DRF's test client: the same URL routing, middleware and views, no sockets."""

    def __init__(self, user: Any) -> None:
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.client.force_authenticate(user)

    def post(self, path: str, body: dict | bytes) -> tuple[int, Any]:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.client.generic("POST", path, content, "application/json")
        return response.status_code, response

    def close(self) -> None:
        pass


def measure(api: Any, artifact: Any, frame: pd.DataFrame, requests: int) -> dict[str, float]:
    from mlmodels.features import rows_to_frame
    from mlmodels.services import model_load

    loaded = model_load(artifact=artifact)
    path = f"/api/models/{artifact.pk}/predict"
    out: dict[str, float] = {}
    for n_rows, count in ((1, requests), (1000, max(10, requests // 10))):
        rows = json_rows(frame.head(n_rows))
        body = json.dumps({"rows": rows}).encode()
        ready = rows_to_frame(rows, artifact.feature_schema)
        inputs = ready[loaded.input_columns]
        calls = [
            lambda body=body: api.post(path, body),
            lambda inputs=inputs: loaded.pipeline.predict_proba(inputs),
            lambda ready=ready: loaded.predict_proba(ready),
        ]
        status, response = api.post(path, body)  # warm: loads the model
        assert status == 200, response.content[:500]
        assert np.array_equal(calls[1](), calls[2]()), "the fast path must match the pipeline"
        for _ in range(3):
            for call in calls:
                call()
        api_times, direct_times, fast_times = time_interleaved(calls, count)
        suffix = "1_row" if n_rows == 1 else "1000_rows"
        api_p50 = percentile(api_times, 50)
        out[f"p50_ms_{suffix}"] = round(api_p50, 3)
        out[f"p99_ms_{suffix}"] = round(percentile(api_times, 99), 3)
        out[f"direct_p50_ms_{suffix}"] = round(percentile(direct_times, 50), 3)
        out[f"direct_p99_ms_{suffix}"] = round(percentile(direct_times, 99), 3)
        out[f"fastpath_p50_ms_{suffix}"] = round(percentile(fast_times, 50), 3)
        out[f"ratio_{suffix}"] = round(api_p50 / max(percentile(direct_times, 50), 1e-6), 2)
        out[f"ratio_{suffix}_vs_fastpath"] = round(
            api_p50 / max(percentile(fast_times, 50), 1e-6), 2
        )
        out[f"requests_{suffix}"] = count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="1-row requests per model")
    parser.add_argument("--rows", type=int, default=5000, help="training rows")
    parser.add_argument("--epochs", type=int, default=15, help="MLP epochs")
    parser.add_argument("--in-process", action="store_true", help="DRF test client, no daphne")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="medilytica-bench-") as folder:
        env = configure(Path(folder))
        user, artifacts = setup_models(args.rows, args.epochs)
        api = InProcessClient(user) if args.in_process else LiveServer(env)
        print(f"server: {'in-process test client' if args.in_process else 'daphne'}", flush=True)
        frame = make_data(1000, seed=1).drop(columns=["outcome"])
        results = {}
        try:
            for model_type, artifact in artifacts.items():
                figures = measure(api, artifact, frame, args.requests)
                results[model_type] = figures
                print(
                    f"{model_type}: 1 row p50 {figures['p50_ms_1_row']:.2f} ms "
                    f"p99 {figures['p99_ms_1_row']:.2f} ms "
                    f"(pipeline p50 {figures['direct_p50_ms_1_row']:.2f} ms, "
                    f"fast path {figures['fastpath_p50_ms_1_row']:.2f} ms); 1,000 rows p50 "
                    f"{figures['p50_ms_1000_rows']:.1f} ms vs pipeline "
                    f"{figures['direct_p50_ms_1000_rows']:.1f} ms "
                    f"(ratio {figures['ratio_1000_rows']:.2f}x) and fast path "
                    f"{figures['fastpath_p50_ms_1000_rows']:.1f} ms "
                    f"({figures['ratio_1000_rows_vs_fastpath']:.2f}x)",
                    flush=True,
                )
        finally:
            api.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
