"""benchmarks/ui.py, tiny: it still runs against the real stack and the built app and
measures every figure. Its timing goals live in the benchmark, not here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.live_stack import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.browser]

MANIFEST = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"
FIGURES = {
    "epoch_to_pixel_p50_ms",
    "epoch_to_pixel_p99_ms",
    "epoch_to_pixel_baseline_p50_ms",
    "epoch_to_pixel_baseline_p99_ms",
    "first_load_js_kb",
    "first_load_baseline_kb",
    "history_render_ms",
    "history_render_baseline_ms",
    "history_stream_ms",
    "history_stream_baseline_ms",
    "preview_scroll_fps",
    "preview_scroll_baseline_fps",
}


def test_quick_ui_benchmark_measures_every_figure():
    if not MANIFEST.exists():
        pytest.fail("The web app is not built: run `make web` first (`make test` does).")
    done = subprocess.run(
        [sys.executable, "benchmarks/ui.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, output
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result.keys() >= FIGURES, output
    for name in FIGURES:
        assert isinstance(result[name], (int, float)) and result[name] > 0, (name, output)
    assert result["epochs_measured"] == 20  # every epoch of the run, drawn as it came
    assert result["history_epochs"] == 300 and result["preview_rows"] == 20_000
    assert set(result["goals_met"]) == {
        "epoch_to_pixel_p99_ms",
        "first_load_js_kb",
        "history_render_ms",
        "preview_scroll_fps",
    }
    # The first visit loads part of the app, not all of it.
    assert result["first_load_js_kb"] < result["first_load_baseline_kb"]
