"""A single long fit (a decision tree, a ridge, a logistic regression solver chunk) runs
in a child process that a stop kills: the stop lands within 2 s, the child is reaped,
and a fit through the child is the fit in process, exactly."""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
import warnings

import numpy as np
import pandas as pd
import psutil
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from training.ml import TrainConfig, estimators, train
from training.ml.child import fit_in_child
from training.ml.estimators import FitData, fit_staged
from training.ml.progress import Progress


@pytest.fixture(autouse=True)
def _one_thread():
    """One BLAS / OpenMP thread, as in tests/training/ml: two threads on two busy CPUs
    make these fits 3-20x slower and their timing erratic."""
    with threadpool_limits(limits=1):
        yield


class Forks:
    """Counts the forks made in this process and wakes whoever waits for the n-th."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pids: list[int] = []
        self._changed = threading.Condition()
        real_fork = os.fork

        def fork() -> int:
            pid = real_fork()
            if pid:
                with self._changed:
                    self.pids.append(pid)
                    self._changed.notify_all()
            return pid

        monkeypatch.setattr(os, "fork", fork)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.pids) >= count, timeout)


class StopAfterFork:
    """should_stop() says yes `after` seconds after the `fork`-th child process started."""

    def __init__(self, forks: Forks, *, after: float, fork: int = 1) -> None:
        self.requested: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(forks, after, fork))
        self._thread.start()

    def _watch(self, forks: Forks, after: float, fork: int) -> None:
        forks.wait_for(fork)
        time.sleep(after)
        self.requested = time.monotonic()
        self._stop.set()

    def __call__(self) -> bool:
        return self._stop.is_set()


def assert_no_child_left(forks: Forks) -> None:
    # Not running, no zombie either (other children of this process, a live stack's
    # servers in the whole suite, are not the engine's).
    ours = {child.pid for child in psutil.Process().children(recursive=True)}
    assert ours.isdisjoint(forks.pids), ours
    for pid in forks.pids:
        with pytest.raises(ChildProcessError):  # already reaped by the engine
            os.waitpid(pid, os.WNOHANG)


def table(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    return X, X[:, 0] + rng.normal(size=rows)


def frame(X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["y"] = y
    return df


def test_a_stop_inside_a_big_tree_fit_lands_within_two_seconds(monkeypatch):
    """MAX_TRAINING_TIME reaches the engine through the same ``should_stop`` (the run
    recorder answers yes past its deadline, training/services.py), so this test covers it."""
    # 280,000 training rows x 20: the tree alone takes 16 s in process here.
    df = frame(*table(400_000, 20))
    forks = Forks(monkeypatch)
    stop = StopAfterFork(forks, after=1.1)  # off the 0.25 s poll grid, so a poll is awaited
    result = train(
        df, TrainConfig(target="y", model_type="decision_tree", task="regression"), should_stop=stop
    )
    returned = time.monotonic()
    assert result.status == "stopped"
    assert result.pipeline is None and result.training_history["epochs"] == []
    assert len(forks.pids) == 1
    assert returned - stop.requested < 2.0, f"{returned - stop.requested:.2f} s after the stop"
    assert_no_child_left(forks)


@pytest.fixture
def diabetes() -> pd.DataFrame:
    """442 rows, 10 numeric features, continuous target."""
    return load_diabetes(as_frame=True).frame


@pytest.mark.parametrize("model_type", ["decision_tree", "linear_regression"])
def test_a_small_fit_stays_in_process_and_the_child_fits_it_the_same(
    monkeypatch, diabetes, model_type
):
    config = TrainConfig(target="target", model_type=model_type, random_seed=3)

    def fork():
        raise AssertionError("a small fit forked")

    with monkeypatch.context() as patched:
        patched.setattr(os, "fork", fork)
        in_process = train(diabetes, config)
    monkeypatch.setattr(estimators, "CHILD_FIT_SECONDS", 0.0)  # every fit forks
    forks = Forks(monkeypatch)
    through_child = train(diabetes, config)
    assert in_process.status == through_child.status == "succeeded"
    assert len(forks.pids) == 1
    assert through_child.metrics == in_process.metrics
    features = diabetes.drop(columns="target")
    np.testing.assert_array_equal(
        through_child.pipeline.predict(features), in_process.pipeline.predict(features)
    )


# Sizes whose fit is estimated over CHILD_FIT_SECONDS, so that it forks unasked.
BIG = {
    "decision_tree": (40_000, 10, {}),  # 0.5-1 s in process
    "linear_regression": (30_000, 500, {}),  # Gram matrix of 500 features: 0.2-0.4 s
    # Chunks of 100 iterations; it converges within the first (in 0.1-0.2 s).
    "logistic_regression": (100_000, 30, {"max_iter": 1000}),
}


@pytest.mark.parametrize("model_type", list(BIG))
def test_a_big_fit_through_the_child_predicts_exactly_as_in_process(monkeypatch, model_type):
    rows, features, hyperparameters = BIG[model_type]
    X, y = table(rows, features)
    if model_type == "logistic_regression":
        y = np.where(y > 0, "event", "none")
    df = frame(X, y)
    classify = model_type == "logistic_regression"
    config = TrainConfig(
        target="y",
        model_type=model_type,
        hyperparameters=hyperparameters,
        positive_class="event" if classify else None,
        threshold_rule="0.5",
    )
    forks = Forks(monkeypatch)
    through_child = train(df, config)
    stages = through_child.model["stages_completed"]
    assert through_child.status == "succeeded"
    assert len(forks.pids) == stages  # one child per stage: the tree, the ridge, each chunk
    monkeypatch.setattr(estimators, "CHILD_FIT_SECONDS", float("inf"))
    in_process = train(df, config)
    assert len(forks.pids) == stages  # no new fork
    rows = df.drop(columns="y")
    method = "predict_proba" if classify else "predict"
    np.testing.assert_array_equal(
        getattr(through_child.pipeline, method)(rows), getattr(in_process.pipeline, method)(rows)
    )
    assert through_child.training_history == in_process.training_history
    assert_no_child_left(forks)


def test_a_stop_inside_a_logistic_chunk_keeps_the_chunks_before_it(monkeypatch):
    # Features on scales from 0.01 to 100, left unscaled (fit_staged takes the matrix as
    # it is): L-BFGS needs thousands of iterations, so each chunk of 1,000 runs in full,
    # 2-4 s on 100,000 rows x 20 here.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(101_000, 20))
    y = np.where(X @ np.linspace(1, 2, 20) + 3 * rng.normal(size=len(X)) > 0, "event", "none")
    X *= np.logspace(-2, 2, 20)
    data = FitData(
        task="classification",
        X_train=X[:100_000],
        y_train=y[:100_000],
        X_val=X[100_000:],
        y_val=y[100_000:],
        classes=np.array(["event", "none"]),
        seed=0,
    )
    params = {"C": 1.0, "max_iter": 10_000, "class_weight": None}
    forks = Forks(monkeypatch)
    stop = StopAfterFork(forks, after=1.1, fork=2)  # a second into the second chunk
    reported: list[float] = []
    progress = Progress(
        model_type="logistic_regression",
        on_epoch=lambda metrics: reported.append(time.monotonic()),
        should_stop=stop,
    )
    estimator, notes = fit_staged(
        "logistic_regression", "classification", params, data, progress=progress
    )
    returned = time.monotonic()
    assert progress.stopped and len(reported) == 1 and notes == []
    assert returned - stop.requested < 2.0, f"{returned - stop.requested:.2f} s after the stop"
    assert_no_child_left(forks)
    with pytest.warns(ConvergenceWarning):  # as this test means: 1,000 are not enough
        first_chunk = LogisticRegression(C=1.0, max_iter=1000, random_state=0)
        first_chunk.fit(data.X_train, data.y_train)
    np.testing.assert_array_equal(estimator.coef_, first_chunk.coef_)
    assert estimator.max_iter == 10_000 and not estimator.warm_start


class Refused(Exception):
    """An exception that does not survive pickling: its __init__ wants two arguments."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def raise_in_child(monkeypatch, error: BaseException) -> None:
    """DecisionTreeRegressor.fit raises `error` in a child process, and fits here."""
    parent = os.getpid()
    fit = DecisionTreeRegressor.fit

    def failing_fit(self, X, y, *args, **kwargs):
        if os.getpid() != parent:
            raise error
        return fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(DecisionTreeRegressor, "fit", failing_fit)


@pytest.mark.parametrize(
    ("error", "raised", "message"),
    [
        (ValueError("Input contains NaN"), ValueError, "Input contains NaN"),
        (Refused("max_depth", "too deep"), RuntimeError, "Refused: max_depth: too deep"),
        (
            MemoryError("Unable to allocate 7.45 GiB"),
            MemoryError,
            "Out of memory: the process fitting the model ran out (Unable to allocate "
            "7.45 GiB). Train a smaller model (shallower trees, fewer iterations) or on "
            "fewer rows.",
        ),
    ],
)
def test_an_error_in_the_child_is_raised_here(monkeypatch, error, raised, message):
    raise_in_child(monkeypatch, error)
    X, y = table(100, 3)
    with pytest.raises(raised) as caught:
        fit_in_child(DecisionTreeRegressor(), X, y, should_stop=lambda: False)
    assert type(caught.value) is raised and str(caught.value) == message
    if raised is not MemoryError:  # with where it was raised, in the child
        assert "in failing_fit" in caught.value.__notes__[0]
    assert DecisionTreeRegressor().fit(X, y).tree_.node_count > 1  # here it still fits


def test_warnings_in_the_child_are_warned_here(monkeypatch):
    parent = os.getpid()
    fit = DecisionTreeRegressor.fit

    def warning_fit(self, X, y):
        if os.getpid() != parent:
            warnings.warn("few rows for a tree", UserWarning, stacklevel=1)
        return fit(self, X, y)

    monkeypatch.setattr(DecisionTreeRegressor, "fit", warning_fit)
    X, y = table(100, 3)
    with pytest.warns(UserWarning, match="^few rows for a tree$"):
        fitted = fit_in_child(DecisionTreeRegressor(), X, y, should_stop=lambda: False)
    assert fitted.tree_.node_count > 1


def test_when_the_fork_fails_the_fit_runs_here(monkeypatch):
    def fork():
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(os, "fork", fork)
    X, y = table(100, 3)
    fitted = fit_in_child(DecisionTreeRegressor(random_state=0), X, y, should_stop=lambda: True)
    expected = DecisionTreeRegressor(random_state=0).fit(X, y)
    np.testing.assert_array_equal(fitted.predict(X), expected.predict(X))


def slow_fit_in_child(monkeypatch, cls) -> None:
    """`cls.fit` takes 60 s more in a child process: a fit long enough to interrupt."""
    parent = os.getpid()
    fit = cls.fit

    def slow_fit(self, X, y, *args, **kwargs):
        if os.getpid() != parent:
            time.sleep(60)
        return fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", slow_fit)


def test_a_child_killed_by_someone_else_is_out_of_memory(monkeypatch):
    """The kernel's out-of-memory killer ends a process with SIGKILL, as this test does."""
    slow_fit_in_child(monkeypatch, DecisionTreeRegressor)
    forks = Forks(monkeypatch)
    killer = threading.Thread(
        target=lambda: (forks.wait_for(1), os.kill(forks.pids[0], signal.SIGKILL))
    )
    killer.start()
    X, y = table(100, 3)
    with pytest.raises(MemoryError, match="^Out of memory: .*killed"):
        fit_in_child(DecisionTreeRegressor(), X, y, should_stop=lambda: False)
    killer.join()
    assert_no_child_left(forks)


def test_a_stop_inside_a_ridge_fit_lands_within_two_seconds(monkeypatch):
    """A ridge slow enough to stop inside would need a matrix of ~10 GB here (a 30,000 x
    500 one takes 0.3 s; the time grows with rows x features²): the fit is made slow in
    the child instead, and the big ridge's trip through the child is tested above."""
    slow_fit_in_child(monkeypatch, Ridge)
    monkeypatch.setattr(estimators, "CHILD_FIT_SECONDS", 0.0)
    forks = Forks(monkeypatch)
    stop = StopAfterFork(forks, after=1.1)  # off the 0.25 s poll grid, so a poll is awaited
    X, y = table(1000, 5)
    config = TrainConfig(target="y", model_type="linear_regression")
    result = train(frame(X, y), config, should_stop=stop)
    returned = time.monotonic()
    assert result.status == "stopped" and result.pipeline is None
    assert returned - stop.requested < 2.0, f"{returned - stop.requested:.2f} s after the stop"
    assert_no_child_left(forks)
