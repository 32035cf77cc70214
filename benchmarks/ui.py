"""The web app's timings in Debian's Chromium, against the real stack (Redis, daphne, a
qcluster) serving the built app (`make web` first).

Figures, each with a baseline measured in the same run (the ratio says what the app
itself adds):

  epoch_to_pixel_p50_ms / _p99_ms (goal p99 < 150 ms): a neural network of `--epochs`
      epochs is queued while no worker runs; once its page's socket has the snapshot,
      the worker starts, so every epoch arrives live. The page logs each point it draws
      in `window.__medilytica_plot_log` as {epoch, timestamp, drawn_at}; latency is
      drawn_at - the worker's timestamp (one clock: the same machine).
      Baseline: the worker's timestamp to the message arriving in the page's WebSocket
      (a listener added before the app's own), so the ratio is what parsing, buffering
      to the next animation frame and drawing add to the network path.
  first_load_js_kb (goal <= 250): the gzipped bytes of every script the sign-in route
      loads (each response body gzipped here, level 9, as Vite reports sizes).
      Baseline: all the app's JavaScript (frontend/dist/assets/*.js) gzipped the same
      way, so the ratio is the share of the app a first visit downloads.
  history_render_ms (goal < 1000): a finished run with `--history-epochs` epochs,
      written straight into the database (a copy of the live run above with
      `--history-epochs` RunMetric rows, its results' history built by the engine's
      `history_arrays`); the time from navigation start to the page's
      performance mark "medilytica:curve-drawn", median of `--repeats` loads (the first
      with a cold cache, the others with the app's hashed assets cached, as on a revisit).
      A finished run draws its curve from its results' stored history.
      Baseline: fetching that history as JSON alone (GET /api/viz/metrics/{id}/ and
      parsing it) in the same page, median of as many fetches.
  history_stream_ms (no goal): the same history on a run still training, as a late
      visitor finds it: it comes over /ws/training/{id} as a snapshot and its parts.
      Same baseline.
  preview_scroll_fps (goal >= 50): a `--preview-rows`-row Parquet dataset uploaded
      through the API; on /datasets/{id} the "Data preview" region is scrolled by
      `--scroll-step` pixels every animation frame for `--scroll-seconds`, counting
      requestAnimationFrame callbacks per second.
      Baseline: the same count on the same page, not scrolling (the frame rate the
      browser gives at all), so the ratio is the share of frames that scrolling keeps.

    .venv/bin/python benchmarks/ui.py [--epochs 200] [--history-epochs 10000]
        [--preview-rows 1000000] [--quick]

Timings on a shared or small machine are noisy: read them with its load in mind. The
last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.live_stack import (  # noqa: E402
    LIVE_PASSWORD,
    live_database,
    live_stack,
    upload_dataset,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
MANIFEST = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"
ASSETS = ROOT / "frontend" / "dist" / "assets"
USERNAME = "bench-ui"

GOALS = {
    "epoch_to_pixel_p99_ms": ("<", 150),
    "first_load_js_kb": ("<=", 250),
    "history_render_ms": ("<", 1000),
    "preview_scroll_fps": (">=", 50),
}

# Before any of the app's code: the plot log the run page writes to, and a listener on
# every training socket that notes when each metrics message arrived.
INIT_SCRIPT = """
window.__medilytica_plot_log = [];
window.__bench_socket_log = [];
(() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/training/")) return;
      this.addEventListener("message", (event) => {
        const arrived = Date.now();
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data);
        if (message.type === "snapshot") window.__bench_snapshot_at = arrived;
        if (message.type === "metrics") {
          window.__bench_socket_log.push(
            {epoch: message.epoch, timestamp: message.timestamp, arrived_at: arrived});
        }
      });
    }
  };
})();
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def gzipped(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=9))


def met(name: str, value: float | None) -> bool | None:
    if value is None:
        return None
    op, goal = GOALS[name]
    return {"<": value < goal, "<=": value <= goal, ">=": value >= goal}[op]


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 2)


def breast_cancer() -> pd.DataFrame:
    """The demo table (as manage.py load_demo_data builds it)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = [str(bunch.target_names[t]) for t in bunch.target]
    return frame


def wide_table(rows: int, seed: int = 3) -> bytes:
    """A clinical-looking table of `rows` rows, as Parquet bytes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 95, rows),
            "sex": rng.choice(["female", "male"], rows),
            "systolic_bp": rng.normal(130, 18, rows).round(1),
            "cholesterol": rng.normal(5.2, 1.1, rows).round(2),
            "bmi": rng.normal(27, 5, rows).round(1),
            "smoker": rng.choice(["never", "former", "current"], rows),
            "hba1c": rng.normal(5.8, 0.9, rows).round(2),
            "outcome": rng.choice(["event", "no event"], rows, p=[0.2, 0.8]),
        }
    )
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


class Api:
    """The benchmark user's HTTP client (JWT)."""

    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, timeout=600)
        answer = self.http.post(
            "/api/auth/register", json={"username": USERNAME, "password": LIVE_PASSWORD}
        )
        answer.raise_for_status()
        self.workspace = answer.json()["workspaces"][0]["id"]
        tokens = self.http.post(
            "/api/auth/token", json={"username": USERNAME, "password": LIVE_PASSWORD}
        )
        self.http.headers["Authorization"] = f"Bearer {tokens.json()['access']}"

    def upload(self, name: str, filename: str, body: bytes) -> str:
        """The dataset's id, once a worker has parsed it (start_qcluster first)."""
        dataset = upload_dataset(self.http, filename, body, name=name, workspace=self.workspace)
        assert dataset["status"] == "ready", dataset
        return dataset["id"]

    def start(self, dataset_id: str, epochs: int, name: str) -> str:
        answer = self.http.post(
            "/api/train/start",
            json={
                "dataset": dataset_id,
                "target": "diagnosis",
                "positive_class": "malignant",
                "model_type": "neural_network",
                "name": name,
                "hyperparameters": {"hidden_layers": [16], "epochs": epochs, "patience": 0},
            },
        )
        answer.raise_for_status()
        return answer.json()["id"]

    def wait_finished(self, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.http.get(f"/api/train/status/{run_id}").json()["status"]
            if status in ("succeeded", "failed", "stopped"):
                return status
            time.sleep(0.25)
        raise TimeoutError(f"run {run_id} not finished within {timeout} s")


def signed_in_context(browser, base: str):
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    context.request.get("/api/auth/login/")  # the CSRF cookie
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    answer = context.request.post(
        "/api/auth/login/",
        data={"username": USERNAME, "password": LIVE_PASSWORD},
        headers={"X-CSRFToken": csrf, "Referer": base + "/"},
    )
    if not answer.ok:
        raise RuntimeError(f"browser sign-in refused: {answer.status} {answer.text()}")
    context.set_default_timeout(120_000)
    return context


# --- the figures --------------------------------------------------------------------


def start_qcluster(stack) -> None:
    """The stack's worker, started now (live_stack stops it with the rest)."""
    log = (stack.directory / "qcluster.log").open("a")
    stack.qcluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child holds its own copy


def stop_qcluster(stack) -> None:
    stack.qcluster.send_signal(signal.SIGTERM)
    stack.qcluster.wait(timeout=30)
    stack.qcluster = None


def epoch_to_pixel(browser, base: str, api: Api, stack, dataset_id: str, epochs: int) -> dict:
    """The run is queued while no worker runs; the worker starts once the page's socket
    has its snapshot, so every epoch arrives live."""
    context = signed_in_context(browser, base)
    try:
        page = context.new_page()
        page.add_init_script(INIT_SCRIPT)
        run_id = api.start(dataset_id, epochs, "Epoch to pixel")
        page.goto(f"/runs/{run_id}")
        page.get_by_role("img", name="Loss").wait_for()
        page.wait_for_function("() => window.__bench_snapshot_at !== undefined")
        start_qcluster(stack)
        status = api.wait_finished(run_id)
        if status != "succeeded":
            raise RuntimeError(f"the benchmark's run ended {status}")
        # Every epoch that arrived live has been drawn (the log only grows).
        page.wait_for_function(
            """() => {
                const drawn = new Set(window.__medilytica_plot_log.map((p) => p.epoch));
                return window.__bench_socket_log.length > 0
                    && window.__bench_socket_log.every((m) => drawn.has(m.epoch));
            }"""
        )
        plotted = page.evaluate("() => window.__medilytica_plot_log")
        arrived = page.evaluate("() => window.__bench_socket_log")
    finally:
        context.close()
    live = {m["epoch"]: m for m in arrived}
    drawn, socket = [], []
    for point in plotted:
        message = live.get(point["epoch"])
        if message is None:
            continue  # not live (none should be): its wait says nothing about drawing
        sent = pd.Timestamp(point["timestamp"]).value / 1e6  # ns -> ms since the epoch
        drawn.append(point["drawn_at"] - sent)
        socket.append(message["arrived_at"] - sent)
    if len(drawn) != epochs:
        raise RuntimeError(f"{len(drawn)} of {epochs} epochs were drawn as they arrived")
    return {
        "run_id": run_id,
        "epoch_to_pixel_p50_ms": round(percentile(drawn, 50), 1),
        "epoch_to_pixel_p99_ms": round(percentile(drawn, 99), 1),
        "epoch_to_pixel_baseline_p50_ms": round(percentile(socket, 50), 1),
        "epoch_to_pixel_baseline_p99_ms": round(percentile(socket, 99), 1),
        "epochs_measured": len(drawn),
    }


def first_load(browser, base: str) -> dict:
    context = browser.new_context(base_url=base)
    scripts: dict[str, int] = {}

    def on_response(response) -> None:
        url = response.url.split("?")[0]
        if response.request.resource_type == "script" or url.endswith((".js", ".mjs")):
            # A redirect or an aborted load has no body.
            with contextlib.suppress(Exception):
                scripts[url] = gzipped(response.body())

    try:
        page = context.new_page()
        page.on("response", on_response)
        page.goto("/login", wait_until="networkidle")
        page.get_by_role("button", name="Sign in").wait_for()
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    total = sum(gzipped(path.read_bytes()) for path in ASSETS.glob("*.js"))
    return {
        "first_load_js_kb": round(sum(scripts.values()) / 1024, 1),
        "first_load_js_files": len(scripts),
        "first_load_baseline_kb": round(total / 1024, 1),
    }


HISTORY_RUN = """
import json, math
from datetime import timedelta
from django.utils import timezone
from training.models import RunMetric, TrainingRun
from training.ml.evaluation import history_arrays

template = TrainingRun.objects.get(pk={template!r})
n = {epochs}
start = timezone.now() - timedelta(seconds=n * 0.05)
rows = []
for epoch in range(1, n + 1):
    t = epoch / n
    rows.append({{
        "epoch": epoch,
        "loss": 0.7 * math.exp(-4 * t) + 0.05 + 0.01 * math.sin(epoch),
        "val_loss": 0.7 * math.exp(-3.5 * t) + 0.07 + 0.01 * math.cos(epoch),
        "accuracy": 0.98 - 0.3 * math.exp(-5 * t),
        "val_accuracy": 0.96 - 0.3 * math.exp(-4 * t),
    }})
results = dict(template.results or {{}})
results["training_history"] = history_arrays(rows, "classification")
if {running}:  # still training, as a late visitor finds it: the curve comes over the socket
    ending = dict(status="running", progress={{"epoch": n, "total_epochs": 2 * n, "fraction": 0.5}},
                  worker="bench:0", heartbeat_at=timezone.now() + timedelta(hours=1))
else:
    ending = dict(status="succeeded", progress={{"epoch": n, "total_epochs": n, "fraction": 1.0}},
                  results=results, model=template.model, finished_at=timezone.now())
run = TrainingRun.objects.create(
    workspace=template.workspace, dataset=template.dataset, created_by=template.created_by,
    name=f"History of {{n}} epochs", model_type=template.model_type, task=template.task,
    target=template.target, hyperparameters={{**template.hyperparameters, "epochs": n}},
    config=template.config, latest_metrics={{k: v for k, v in rows[-1].items() if k != "epoch"}},
    last_seq=n, started_at=start, **ending,
)
RunMetric.objects.bulk_create(
    [
        RunMetric(run=run, seq=row["epoch"], epoch=row["epoch"],
                  values={{k: v for k, v in row.items() if k != "epoch"}},
                  created_at=start + timedelta(seconds=row["epoch"] * 0.05))
        for row in rows
    ],
    batch_size=2000,
)
print(json.dumps({{"id": str(run.pk)}}))
"""


def history_render(
    browser,
    base: str,
    stack,
    template_run: str,
    epochs: int,
    repeats: int,
    timeout_s: float,
    running: bool = False,
) -> dict:
    """Page loads until the whole curve is drawn, median; `running`: the run is still
    training, so its history comes over the socket (snapshot and parts), not the results."""
    script = HISTORY_RUN.format(template=template_run, epochs=epochs, running=running)
    run_id = json.loads(stack.shell(script, timeout=600).strip().splitlines()[-1])["id"]
    context = signed_in_context(browser, base)
    renders, fetches, failure = [], [], None
    try:
        page = context.new_page()
        for _ in range(repeats):
            page.goto(f"/runs/{run_id}")
            try:
                page.wait_for_function(
                    "() => performance.getEntriesByName('medilytica:curve-drawn').length > 0",
                    timeout=timeout_s * 1000,
                )
            except PlaywrightTimeout:
                failure = f"the curve was not drawn within {timeout_s:g} s" + server_error(stack)
                break
            renders.append(page.evaluate(MARK_TIME))
        fetches = [page.evaluate(FETCH_HISTORY, run_id) for _ in range(repeats)]
    finally:
        context.close()
    name = "history_stream" if running else "history_render"
    return {
        f"{name}_ms": round(statistics.median(renders), 1) if not failure else None,
        f"{name}_baseline_ms": round(statistics.median(fetches), 1),
        "history_epochs": epochs,
        **({f"{name}_error": failure} if failure else {}),
    }


MARK_TIME = "() => performance.getEntriesByName('medilytica:curve-drawn')[0].startTime"
FETCH_HISTORY = """async (id) => {
    const start = performance.now();
    const answer = await fetch(`/api/viz/metrics/${id}/`);
    await answer.json();
    if (!answer.ok) throw new Error(`history: ${answer.status}`);
    return performance.now() - start;
}"""


def server_error(stack) -> str:
    """The servers' last exception line, if any: why a page waited in vain."""
    errors = [line for line in stack.logs(20_000).splitlines() if "Error:" in line]
    return f" (server: {errors[-1].strip()})" if errors else ""


SCROLL = """async ([seconds, step]) => {
    const region = document.querySelector('[role="region"][aria-label="Data preview"]');
    const frames = (scroll) => new Promise((resolve) => {
        let count = 0;
        const start = performance.now();
        const tick = (now) => {
            count += 1;
            if (scroll) {
                region.scrollTop += step;
                if (region.scrollTop + region.clientHeight >= region.scrollHeight - 1) {
                    region.scrollTop = 0;
                }
            }
            if (now - start < seconds * 1000) requestAnimationFrame(tick);
            else resolve(count / ((now - start) / 1000));
        };
        requestAnimationFrame(tick);
    });
    const idle = await frames(false);
    const scrolling = await frames(true);
    return {idle, scrolling, scrollHeight: region.scrollHeight};
}"""


def preview_scroll(browser, base: str, api: Api, rows: int, seconds: float, step: int) -> dict:
    dataset_id = api.upload("Preview benchmark", "preview.parquet", wide_table(rows))
    context = signed_in_context(browser, base)
    try:
        page = context.new_page()
        page.goto(f"/datasets/{dataset_id}")
        region = page.get_by_role("region", name="Data preview")
        region.get_by_role("cell").first.wait_for()
        region.scroll_into_view_if_needed()
        measured = page.evaluate(SCROLL, [seconds, step])
    finally:
        context.close()
    return {
        "preview_scroll_fps": round(measured["scrolling"], 1),
        "preview_scroll_baseline_fps": round(measured["idle"], 1),
        "preview_rows": rows,
    }


def describe(r: dict) -> list[str]:
    """The figures in words, each with its baseline, then each goal and whether it is met."""
    lines = [
        f"first load (sign-in route): {r['first_load_js_kb']} KiB of JS gzipped in "
        f"{r['first_load_js_files']} files; baseline, the whole app: "
        f"{r['first_load_baseline_kb']} KiB (x{r['first_load_ratio']})",
        f"epoch to pixel ({r['epochs_measured']} live epochs): p50 "
        f"{r['epoch_to_pixel_p50_ms']} ms, p99 {r['epoch_to_pixel_p99_ms']} ms; baseline, to "
        f"the page's socket: p50 {r['epoch_to_pixel_baseline_p50_ms']} ms, p99 "
        f"{r['epoch_to_pixel_baseline_p99_ms']} ms (p99 x{r['epoch_to_pixel_ratio']})",
        f"history of {r['history_epochs']} epochs drawn "
        + (
            f"{r['history_render_ms']} ms after navigation"
            if r["history_render_ms"] is not None
            else f"NEVER: {r['history_render_error']}"
        )
        + f"; baseline, the history JSON alone: {r['history_render_baseline_ms']} ms "
        f"(x{r['history_render_ratio']})",
        "the same history of a run still training (over the socket) drawn "
        + (
            f"{r['history_stream_ms']} ms after navigation"
            if r["history_stream_ms"] is not None
            else f"NEVER: {r['history_stream_error']}"
        )
        + f"; baseline, the history JSON alone: {r['history_stream_baseline_ms']} ms "
        f"(x{r['history_stream_ratio']})",
        f"preview of {r['preview_rows']:,} rows scrolled at {r['preview_scroll_fps']} frames/s; "
        f"baseline, the same page idle: {r['preview_scroll_baseline_fps']} frames/s "
        f"(x{r['preview_scroll_ratio']})",
        "",
    ]
    for name, (op, goal) in GOALS.items():
        verdict = "met" if r["goals_met"][name] else "NOT met"
        lines.append(f"{name} = {r[name]} (goal {op} {goal}): {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=200, help="epochs of the live run")
    parser.add_argument("--history-epochs", type=int, default=10_000)
    parser.add_argument("--preview-rows", type=int, default=1_000_000)
    parser.add_argument("--scroll-seconds", type=float, default=3.0)
    parser.add_argument("--scroll-step", type=int, default=600, help="pixels per frame")
    parser.add_argument("--repeats", type=int, default=3, help="page loads for history_render")
    parser.add_argument("--history-timeout", type=float, default=30, help="seconds per load")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks it runs")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.history_epochs, args.preview_rows = 20, 300, 20_000
        args.scroll_seconds, args.repeats = 0.5, 1
    if not MANIFEST.exists():
        sys.exit("The web app is not built: run `make web` first.")

    result: dict = {"quick": args.quick}
    with (
        tempfile.TemporaryDirectory(prefix="medilytica-ui-bench-") as directory,
        live_database(Path(directory)) as database_url,
        live_stack(Path(directory), daphnes=1, env={"DATABASE_URL": database_url}) as stack,
        sync_playwright() as playwright,
    ):
        base = stack.http_urls[0]
        api = Api(base)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # A worker parses the upload, then goes until the run below is queued.
            start_qcluster(stack)
            cancer = api.upload(
                "Breast cancer", "breast_cancer.csv", breast_cancer().to_csv(index=False).encode()
            )
            stop_qcluster(stack)
            result.update(first_load(browser, base))
            result.update(epoch_to_pixel(browser, base, api, stack, cancer, args.epochs))
            # The live run, finished, is the template of the long history.
            template = result.pop("run_id")
            for running in (False, True):  # finished (from its results), then over the socket
                result.update(
                    history_render(
                        browser,
                        base,
                        stack,
                        template,
                        args.history_epochs,
                        args.repeats,
                        args.history_timeout,
                        running=running,
                    )
                )
            result.update(
                preview_scroll(
                    browser, base, api, args.preview_rows, args.scroll_seconds, args.scroll_step
                )
            )
        finally:
            browser.close()

    result["epoch_to_pixel_ratio"] = ratio(
        result["epoch_to_pixel_p99_ms"], result["epoch_to_pixel_baseline_p99_ms"]
    )
    result["first_load_ratio"] = ratio(result["first_load_js_kb"], result["first_load_baseline_kb"])
    result["history_render_ratio"] = ratio(
        result["history_render_ms"], result["history_render_baseline_ms"]
    )
    result["history_stream_ratio"] = ratio(
        result["history_stream_ms"], result["history_stream_baseline_ms"]
    )
    result["preview_scroll_ratio"] = ratio(
        result["preview_scroll_fps"], result["preview_scroll_baseline_fps"]
    )
    result["goals_met"] = {name: met(name, result[name]) for name in GOALS}
    for line in describe(result):
        print(line)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
