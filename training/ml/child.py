"""One ``estimator.fit`` in a forked child process, so that a stop can end it.

A decision tree, a ridge or a chunk of solver iterations is a single call into compiled
code that polls nothing: in a child process it can be killed, where a thread could not.
The child is made with ``os.fork`` and not ``multiprocessing``: a django-q2 worker may be
daemonic (which multiprocessing refuses to fork from) and ``spawn`` would re-import the
whole project. The child shares the parent's memory copy-on-write, fits, pickles the
fitted estimator into a pipe and leaves with ``os._exit``: it touches no database
connection, socket, lock, logger or atexit handler of the parent, whose other threads
(heartbeat, BLAS pools) do not exist in it. The parent reads the pipe while it waits, so
a big model cannot fill the pipe and stall, and asks ``should_stop`` between reads.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import select
import signal
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

from threadpoolctl import ThreadpoolController

#: Seconds between two ``should_stop`` polls while the child fits.
POLL_SECONDS = 0.25
OUT_OF_MEMORY = (
    "Out of memory: the process fitting the model {how}. Train a smaller model "
    "(shallower trees, fewer iterations) or on fewer rows."
)
_PR_SET_PDEATHSIG = 1
_fitting: int | None = None  # the process id of this process's child fitting now
# Resolved here, in the parent: a dlopen/dlsym in the child could wait forever on a
# loader lock that another thread of the parent held when it forked.
_prctl = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def fitting_child() -> int | None:
    """The process id of the child fitting a model for this process now, or None: its
    memory is the run's too (training.services.resident_bytes counts it)."""
    return _fitting


def fit_in_child(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    should_stop: Callable[[], bool],
    poll_seconds: float = POLL_SECONDS,
) -> Any | None:
    """``estimator.fit(X, y)`` in a child process; the fitted estimator (a copy: the
    argument stays unfitted), or None when ``should_stop()`` said yes first (the child
    is killed and reaped). An exception in the fit is raised here with its type and
    message; a child that ran out of memory, or was killed by anyone else (the kernel's
    OOM killer sends SIGKILL), raises MemoryError. If the fork itself fails (no memory
    for another process), the fit runs here: slower to stop, but the run goes on.
    """
    # Built before the fork: finding the loaded OpenMP runtimes calls the loader.
    threadpools = ThreadpoolController()
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        estimator.fit(X, y)
        return estimator
    if pid == 0:
        os.close(read_fd)
        _child(estimator, X, y, write_fd, parent, threadpools)
    global _fitting
    os.close(write_fd)
    received = None
    _fitting = pid
    try:
        received = _receive(read_fd, should_stop, poll_seconds)
    finally:  # stopped, or should_stop raised (a Ctrl-C included): end the child
        os.close(read_fd)
        if received is None:
            os.kill(pid, signal.SIGKILL)
        status = os.waitpid(pid, 0)[1]
        _fitting = None
    if received is None:
        return None
    return _outcome(received, status)


def _receive(fd: int, should_stop: Callable[[], bool], poll_seconds: float) -> bytearray | None:
    """Everything the child writes, up to its end of the pipe closing; None on a stop."""
    data = bytearray()  # a big one grows in place (realloc by mremap), not by copies
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if poller.poll(poll_seconds * 1000):
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return data
            data += chunk
        elif should_stop():
            return None


def _outcome(data: bytearray, status: int) -> Any:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGKILL:  # not ours: we only kill a child we stop waiting for
            raise MemoryError(OUT_OF_MEMORY.format(how="was killed (SIGKILL)"))
        raise RuntimeError(f"the process fitting the model died of {signal.Signals(number).name}")
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or not data:
        raise RuntimeError(f"the process fitting the model ended (code {code}) without a result")
    result = pickle.loads(data)
    if result["outcome"] == "fitted":
        for category, message in result["warnings"]:
            warnings.warn(message, category, stacklevel=3)
        return result["estimator"]
    if result["out_of_memory"]:
        raise MemoryError(OUT_OF_MEMORY.format(how=f"ran out ({result['message']})"))
    try:
        error = pickle.loads(result["exception"]) if result["exception"] else None
    except Exception:  # noqa: BLE001 - an exception whose __init__ does not round-trip
        error = None
    if not isinstance(error, BaseException):
        error = RuntimeError(f"{result['type']}: {result['message']}")
    error.add_note(f"Raised in the process fitting the model:\n{result['traceback']}")
    raise error


def _child(
    estimator: Any, X: Any, y: Any, fd: int, parent: int, threadpools: ThreadpoolController
) -> NoReturn:
    code = 1
    try:
        # No finalizers of the parent's garbage (a database connection's goodbye on a
        # socket the parent still uses) and no copy-on-write of pages gc would touch.
        gc.disable()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if _prctl is not None:  # die with the parent, e.g. a worker killed for its timeout
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
        result = _fit(estimator, X, y, threadpools)
        with open(fd, "wb") as pipe:
            pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        os._exit(code)


def _fit(estimator: Any, X: Any, y: Any, threadpools: ThreadpoolController) -> dict[str, Any]:
    try:
        # GNU OpenMP keeps the parent's thread pool, whose threads do not exist here: a
        # parallel region with more than one thread waits for them forever (seen with a
        # HistGradientBoosting fit after one in the parent). BLAS re-creates its own.
        with (
            warnings.catch_warnings(record=True) as caught,
            threadpools.limit(limits=1, user_api="openmp"),
        ):
            estimator.fit(X, y)
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        try:
            pickled = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - then its type and message go back as text
            pickled = None
        return {
            "outcome": "raised",
            "exception": pickled,
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
            "out_of_memory": isinstance(exc, MemoryError),
        }
    return {
        "outcome": "fitted",
        "estimator": estimator,
        "warnings": [(w.category, str(w.message)) for w in caught],
    }
