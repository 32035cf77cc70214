"""The live stack's own parts: what a test that starts processes relies on."""

from __future__ import annotations

import subprocess
import sys

import psutil

from tests.live_stack import _stop, wait_for

# A leader that ends on SIGTERM, with a child that ignores it (as a worker busy in a
# fit, or a fit's own child, may): the child prints its pid and sleeps.
LEADER = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print(__import__('os').getpid(), flush=True); time.sleep(120)"
)])
child.wait()
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stop_ends_a_child_that_outlives_its_leader():
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(leader.stdout.readline())
    try:
        _stop(leader)
        assert leader.returncode is not None
        wait_for(lambda: _gone(child), timeout=10, what="the child to end")
    finally:
        if not _gone(child):
            psutil.Process(child).kill()
