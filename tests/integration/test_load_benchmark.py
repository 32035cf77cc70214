"""benchmarks/load.py, small: the real stack under chat, training streams and REST at
once loses nothing and answers every request as expected. Timing goals live in the
benchmark; this only checks that its run is clean and that it measured something."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_small_load_has_no_errors_and_loses_nothing():
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "benchmarks/load.py", "--duration", "4", "--ws-clients", "20"]
        + ["--rps", "10", "--rooms", "2", "--streams", "2", "--chat-interval", "2"]
        + ["--baseline-rounds", "0", "--drain", "20", "--daphnes", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, output
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["errors"] == 0, output
    assert result["lost"] == 0, output
    # It measured something: every kind of traffic ran and was checked.
    assert result["ws_clients"] == 20 and result["duration_s"] == 4
    assert result["rest_requests"] > 0 and result["rest_p99_ms"] is not None
    assert result["chat_sent"] > 0
    assert result["chat_stored"] == result["chat_sent"]
    assert result["chat_deliveries_received"] == result["chat_deliveries_expected"] > 0
    assert result["training_metrics_received"] == result["training_metrics_expected"] > 0
