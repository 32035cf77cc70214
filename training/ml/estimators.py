"""scikit-learn models, fitted in stages so that every model reports a training curve.

Stage sizes: random forests add trees in batches (``warm_start``, grown in chunks of
about half a second so that a stop lands inside a long stage), gradient boosting
reports every ``max_iter / 10`` iterations from inside one ``fit`` call, logistic
regression continues L-BFGS in chunks of iterations, a tree or a ridge is one stage.
A single fit (a tree, a ridge, a solver chunk) estimated to take over
:data:`CHILD_FIT_SECONDS` runs in a child process that a stop kills (``child.py``).
Per-stage loss is measured on at most :data:`STAGE_SAMPLE_ROWS` train and validation rows.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .child import fit_in_child
from .config import CLASSIFICATION
from .progress import Progress

STAGE_SAMPLE_ROWS = 1000
MAX_STAGES = 10
FOREST_CHUNK_SECONDS = 0.5  # trees grown between two stop polls, in seconds of work
#: A single fit estimated (:func:`fit_seconds`) to take longer runs in a child process that
#: a stop can kill. Forking costs 30-60 ms (a 300 MB process on two busy CPUs, more for a
#: bigger worker), a tenth of this; a stop waits for a fit below it about this long.
CHILD_FIT_SECONDS = 0.5
# Trees with these criteria take this many times longer than with gini / squared error.
_CRITERION_COST = {"absolute_error": 4.0, "entropy": 3.0, "log_loss": 3.0}
_EPS = 1e-15


@dataclass
class FitData:
    """Transformed training and validation matrices with their targets."""

    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: np.ndarray | None
    seed: int

    def train_sample(self) -> np.ndarray:
        """Seeded positions of at most STAGE_SAMPLE_ROWS training rows for stage metrics."""
        n = len(self.y_train)
        if n <= STAGE_SAMPLE_ROWS:
            return np.arange(n)
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(n, STAGE_SAMPLE_ROWS, replace=False))


class StageScorer:
    """Loss and accuracy (classification) or MSE and MAE (regression) of one stage."""

    def __init__(
        self, task: str, classes: np.ndarray | None, y_train: np.ndarray, y_val: np.ndarray
    ) -> None:
        self.task = task
        if task == CLASSIFICATION:
            index = pd.Index(classes)
            self._y_train = index.get_indexer(y_train)
            self._y_val = index.get_indexer(y_val)
        else:
            self._y_train = np.asarray(y_train, dtype=float)
            self._y_val = np.asarray(y_val, dtype=float)

    def metrics(self, train_output: np.ndarray, val_output: np.ndarray) -> dict[str, float]:
        """``*_output``: class probabilities, or predictions for regression."""
        if self.task == CLASSIFICATION:
            loss, accuracy = _log_loss_accuracy(self._y_train, train_output)
            val_loss, val_accuracy = _log_loss_accuracy(self._y_val, val_output)
            return {
                "loss": loss,
                "accuracy": accuracy,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
            }
        loss, mae = _mse_mae(self._y_train, train_output)
        val_loss, val_mae = _mse_mae(self._y_val, val_output)
        return {"loss": loss, "val_loss": val_loss, "mae": mae, "val_mae": val_mae}


def _log_loss_accuracy(y_index: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    if len(y_index) == 0:
        return math.nan, math.nan
    picked = proba[np.arange(len(y_index)), y_index]
    loss = float(-np.mean(np.log(np.clip(picked, _EPS, 1.0))))
    return loss, float(np.mean(np.argmax(proba, axis=1) == y_index))


def _mse_mae(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    if len(y) == 0:
        return math.nan, math.nan
    error = np.asarray(predicted, dtype=float).ravel() - y
    return float(np.mean(error**2)), float(np.mean(np.abs(error)))


def build_estimator(
    model_type: str, task: str, params: dict[str, Any], *, seed: int, n_jobs: int | None = None
) -> BaseEstimator:
    """The unfitted scikit-learn estimator for a classical model type.

    ``params`` are resolved hyperparameters (see ``config.resolve_hyperparameters``).
    """
    classify = task == CLASSIFICATION
    if model_type == "logistic_regression":
        return LogisticRegression(
            C=params["C"],
            max_iter=params["max_iter"],
            class_weight=params["class_weight"],
            random_state=seed,
        )
    if model_type == "linear_regression":
        return Ridge(alpha=params["alpha"])
    trees = {
        name: params[name]
        for name in ("max_depth", "min_samples_split", "min_samples_leaf")
        if name in params
    }
    if classify and "class_weight" in params:
        trees["class_weight"] = params["class_weight"]
    if model_type == "decision_tree":
        cls = DecisionTreeClassifier if classify else DecisionTreeRegressor
        return cls(criterion=params["criterion"], random_state=seed, **trees)
    if model_type == "random_forest":
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(
            n_estimators=params["n_estimators"],
            max_features=params["max_features"],
            random_state=seed,
            n_jobs=n_jobs,
            **trees,
        )
    if model_type == "gradient_boosting":
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        extra = {"class_weight": params["class_weight"]} if classify else {}
        return cls(
            max_iter=params["max_iter"],
            learning_rate=params["learning_rate"],
            max_depth=params["max_depth"],
            max_leaf_nodes=params["max_leaf_nodes"],
            min_samples_leaf=params["min_samples_leaf"],
            l2_regularization=params["l2_regularization"],
            max_bins=params["max_bins"],
            early_stopping=False,
            random_state=seed,
            **extra,
        )
    raise ValueError(f"not a scikit-learn model type: {model_type!r}")


def _output(estimator: Any, task: str, X: np.ndarray) -> np.ndarray:
    return estimator.predict_proba(X) if task == CLASSIFICATION else estimator.predict(X)


def _stage_bounds(total: int) -> list[int]:
    """Cumulative units (trees, iterations) at the end of each of <= MAX_STAGES stages."""
    stages = min(MAX_STAGES, total)
    return [math.ceil(total * (stage + 1) / stages) for stage in range(stages)]


def fit_staged(
    model_type: str,
    task: str,
    params: dict[str, Any],
    data: FitData,
    *,
    progress: Progress,
    n_jobs: int | None = None,
) -> tuple[Any, list[str]]:
    """Fit a classical model stage by stage.

    Returns the fitted estimator (None when stopped before the first stage) and
    warnings worth showing to the user.
    """
    estimator = build_estimator(model_type, task, params, seed=data.seed, n_jobs=n_jobs)
    sample = data.train_sample()
    val_rows = slice(0, STAGE_SAMPLE_ROWS)  # the validation split is already shuffled
    if model_type == "gradient_boosting":
        return _fit_boosting(estimator, data, val_rows, progress), []
    scorer = StageScorer(task, data.classes, data.y_train[sample], data.y_val[val_rows])
    if model_type == "random_forest":
        return _fit_forest(estimator, data, sample, val_rows, scorer, progress), []
    if model_type == "logistic_regression":
        return _fit_logistic(estimator, data, sample, val_rows, scorer, progress)
    if progress.stop_requested():
        return None, []
    estimator = fit_stoppable(model_type, estimator, data.X_train, data.y_train, progress=progress)
    if estimator is None:  # stopped inside the fit: a part of a tree is no model
        return None, []
    metrics = scorer.metrics(
        _output(estimator, task, data.X_train[sample]),
        _output(estimator, task, data.X_val[val_rows]),
    )
    unit = "tree" if model_type == "decision_tree" else "fit"
    progress.report(stage=1, total_stages=1, metrics=metrics, unit=unit, completed=1, total=1)
    return estimator, []


def fit_seconds(model_type: str, estimator: Any, X: np.ndarray, *, classes: int = 0) -> float:
    """Rough seconds of ``estimator.fit(X, y)`` for a single-fit model, from one-thread
    timings on two busy CPUs (scikit-learn 1.9, 10-500 features): a tree 0.15 µs per row x
    feature x level (a full-depth tree costs about 20 levels), ridge 5 ns per row x
    feature plus 0.1 ns per row x feature² (the Gram matrix), logistic regression 3 ns
    per row x feature x iteration, times ``classes`` when there are more than two."""
    rows, features = X.shape
    cells = rows * features
    if model_type == "decision_tree":
        levels = min(estimator.max_depth or 20, 20)
        return cells * levels * _CRITERION_COST.get(estimator.criterion, 1.0) * 0.15e-6
    if model_type == "linear_regression":
        return cells * (5 + 0.1 * features) * 1e-9
    if model_type == "logistic_regression":
        return cells * (classes if classes > 2 else 1) * estimator.max_iter * 3e-9
    raise ValueError(f"not a single-fit model type: {model_type!r}")


def fit_stoppable(
    model_type: str,
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    progress: Progress,
    classes: int = 0,
) -> Any | None:
    """``estimator.fit(X, y)``, in a child process that a stop kills when the fit would
    take over :data:`CHILD_FIT_SECONDS`. The fitted estimator (for a child's fit, a copy),
    or None when stopped before it ended."""
    if fit_seconds(model_type, estimator, X, classes=classes) < CHILD_FIT_SECONDS:
        estimator.fit(X, y)
        return estimator
    return fit_in_child(estimator, X, y, should_stop=progress.stop_requested)


def _fit_forest(
    estimator: Any,
    data: FitData,
    sample: np.ndarray,
    val_rows: slice,
    scorer: StageScorer,
    progress: Progress,
) -> Any:
    # Same trees as one fit: warm_start draws the same per-tree seeds, in order.
    estimator.set_params(warm_start=True)
    classify = data.task == CLASSIFICATION
    # Trees predict on float32; converting once keeps the per-stage cost to the new trees.
    X_train = np.ascontiguousarray(data.X_train, dtype=np.float32)
    X_sample = X_train[sample]
    X_val = np.ascontiguousarray(data.X_val[val_rows], dtype=np.float32)
    train_sum: np.ndarray | float = 0.0
    val_sum: np.ndarray | float = 0.0
    total = estimator.n_estimators
    bounds = _stage_bounds(total)
    grower = _ForestGrower(estimator, X_train, data.y_train, progress)
    for stage, target in enumerate(bounds, start=1):
        if progress.stop_requested():
            break
        done = grower.trees
        whole = grower.grow_to(target)  # False: stopped inside the stage
        if grower.trees == done:
            break
        # A forest averages its trees, so summing only the new trees' outputs keeps the
        # curve O(trees) instead of re-predicting the whole ensemble every stage.
        for tree in estimator.estimators_[done:]:
            if classify:
                train_sum = train_sum + tree.predict_proba(X_sample, check_input=False)
                val_sum = val_sum + tree.predict_proba(X_val, check_input=False)
            else:
                train_sum = train_sum + tree.predict(X_sample, check_input=False)
                val_sum = val_sum + tree.predict(X_val, check_input=False)
        metrics = scorer.metrics(train_sum / grower.trees, val_sum / grower.trees)
        progress.report(
            stage=stage,
            total_stages=len(bounds),
            metrics=metrics,
            unit="trees",
            completed=grower.trees,
            total=total,
        )
        if not whole:  # the trees grown before the stop are kept, and on the curve
            break
    if grower.trees == 0:
        return None
    estimator.set_params(warm_start=False, n_estimators=grower.trees)
    return estimator


class _ForestGrower:
    """Grows a ``warm_start`` forest a few trees at a time, polling for a stop between.

    A stage of a big forest (a tenth of its trees) can take minutes, so trees are added
    in chunks that take about :data:`FOREST_CHUNK_SECONDS` each (a multiple of the
    forest's parallel jobs, sized from the time the trees so far took): a stop lands
    within one chunk, or one tree where a single tree takes longer.
    """

    def __init__(self, estimator: Any, X: np.ndarray, y: np.ndarray, progress: Progress):
        self.estimator, self.X, self.y, self.progress = estimator, X, y, progress
        self.width = max(1, effective_n_jobs(estimator.n_jobs))
        self.seconds_per_tree: float | None = None

    @property
    def trees(self) -> int:
        return len(getattr(self.estimator, "estimators_", ()))

    def grow_to(self, target: int) -> bool:
        """Add trees until there are `target`; False when a stop came first."""
        while (have := self.trees) < target:
            if self.progress.stop_polled():
                return False
            chunk = self.width
            if self.seconds_per_tree:
                fits = int(FOREST_CHUNK_SECONDS / self.seconds_per_tree)
                chunk = max(self.width, fits - fits % self.width)
            started = time.perf_counter()
            self.estimator.set_params(n_estimators=min(target, have + chunk))
            self.estimator.fit(self.X, self.y)
            self.seconds_per_tree = (time.perf_counter() - started) / (self.trees - have)
        return True


class _BoostingMonitor:
    """Per-iteration hook into one HistGradientBoosting ``fit``.

    Re-fitting with ``warm_start`` re-bins the data and re-predicts every tree on the
    whole training set at each stage (4x slower than one fit, measured on 128k rows),
    so instead this object is passed as ``scoring``: early stopping calls it on a
    training subsample and on the validation rows after every iteration, with the
    estimator able to predict on those (binned) rows. It reports a stage every
    ``chunk`` iterations and answers a stop request (asked at each stage, and polled
    in between) by returning a score that does not improve, which with
    ``n_iter_no_change=1`` ends the fit after that iteration.
    """

    def __init__(
        self, *, bounds: list[int], task: str, classes: np.ndarray | None, progress: Progress
    ) -> None:
        self._bounds = bounds
        self._task = task
        self._classes = classes
        self._progress = progress
        self._calls = 0
        self._stages = 0
        self._score = 0.0
        self._train_rows: tuple[np.ndarray, np.ndarray] | None = None
        self._scorer: StageScorer | None = None

    def __call__(self, estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
        self._calls += 1
        if self._calls % 2 == 1:  # training subsample; the validation call follows
            self._train_rows = (X[:STAGE_SAMPLE_ROWS], y[:STAGE_SAMPLE_ROWS])
            return 0.0
        done = self._calls // 2 - 1  # the first pair scores the model before any tree
        # Between two stages a stop is polled every few iterations (one iteration on a
        # big dataset takes seconds); the iterations grown before it make a last stage.
        stopping = done not in self._bounds and done > 0 and self._progress.stop_polled()
        if done in self._bounds or stopping:
            self._stages += 1
            stage = self._stages
            X_train, y_train = self._train_rows
            if self._scorer is None:  # the same rows come back every iteration
                self._scorer = StageScorer(self._task, self._classes, y_train, y)
            metrics = self._scorer.metrics(
                _output(estimator, self._task, X_train), _output(estimator, self._task, X)
            )
            self._progress.report(
                stage=stage,
                total_stages=len(self._bounds),
                metrics=metrics,
                unit="iterations",
                completed=done,
                total=self._bounds[-1],
            )
            if stopping or (done < self._bounds[-1] and self._progress.stop_requested()):
                return self._score  # no improvement: the fit ends here
        self._score += 1.0
        return self._score


def _fit_boosting(estimator: Any, data: FitData, val_rows: slice, progress: Progress) -> Any:
    if progress.stop_requested():
        return None
    params = estimator.get_params()
    total = params["max_iter"]
    monitor = _BoostingMonitor(
        bounds=_stage_bounds(total), task=data.task, classes=data.classes, progress=progress
    )
    # The curve's training rows are the first rows of HGB's own seeded training subsample
    # (all training rows, in order, below 10,000), with the labels HGB passes along.
    estimator.set_params(early_stopping=True, scoring=monitor, n_iter_no_change=1, tol=0.0)
    estimator.fit(
        data.X_train, data.y_train, X_val=data.X_val[val_rows], y_val=data.y_val[val_rows]
    )
    # Leave the estimator as a plain early_stopping=False fit would be (the trees are
    # identical), so it stores and predicts without a reference to the monitor.
    estimator.set_params(
        early_stopping=False,
        scoring=params["scoring"],
        n_iter_no_change=params["n_iter_no_change"],
        tol=params["tol"],
        max_iter=estimator.n_iter_,
    )
    estimator._scorer = None
    estimator.train_score_ = np.asarray([])
    estimator.validation_score_ = np.asarray([])
    return estimator


def _fit_logistic(
    estimator: Any,
    data: FitData,
    sample: np.ndarray,
    val_rows: slice,
    scorer: StageScorer,
    progress: Progress,
) -> tuple[Any, list[str]]:
    total = estimator.max_iter
    bounds = _stage_bounds(total)
    estimator.set_params(warm_start=True)
    fitted = None
    done = 0
    converged = False
    for stage, target in enumerate(bounds, start=1):
        if progress.stop_requested():
            break
        chunk = target - done
        estimator.set_params(max_iter=chunk)
        with warnings.catch_warnings():
            # Chunks stop short of convergence by design; only the final state matters.
            warnings.simplefilter("ignore", ConvergenceWarning)
            chunk_fit = fit_stoppable(
                "logistic_regression",
                estimator,
                data.X_train,
                data.y_train,
                progress=progress,
                classes=len(data.classes),
            )
        if chunk_fit is None:  # stopped inside the chunk: the chunks before it are kept
            break
        estimator = fitted = chunk_fit  # the next chunk warm-starts from this one
        used = int(np.max(estimator.n_iter_))
        done += used
        converged = used < chunk
        metrics = scorer.metrics(
            estimator.predict_proba(data.X_train[sample]),
            estimator.predict_proba(data.X_val[val_rows]),
        )
        progress.report(
            stage=stage,
            total_stages=stage if converged else len(bounds),
            metrics=metrics,
            unit="iterations",
            completed=done,
            total=total,
        )
        if converged:
            break
    notes = []
    if fitted is not None:
        fitted.set_params(warm_start=False, max_iter=total)
        if not converged and not progress.stopped:
            notes.append(
                f"logistic_regression did not converge in max_iter={total} "
                "iterations; raise max_iter or lower C"
            )
    return fitted, notes
