"""The one entry point: :func:`train` a DataFrame with a :class:`TrainConfig`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .config import (
    CLASSIFICATION,
    MAX_CLASSES,
    MIN_ROWS,
    MIN_ROWS_PER_CLASS,
    MODEL_TYPES,
    REGRESSION,
    ConfigError,
    TrainConfig,
    check_model_supports,
    infer_task,
    resolve_hyperparameters,
    validate_config,
)
from .estimators import FitData, fit_staged
from .evaluation import (
    choose_positive_class,
    evaluate_classification,
    evaluate_regression,
    history_arrays,
    native_importance,
    permutation_importance_grouped,
    permutation_sample_size,
    ranked_importance,
    subgroup_metrics,
)
from .graph import graph_for
from .jsonsafe import json_safe, label_value
from .nn import NN_PARAMS, TorchMLPClassifier, TorchMLPRegressor
from .preprocessing import (
    ColumnPlan,
    Split,
    build_preprocessor,
    feature_layout,
    plan_columns,
    split_rows,
)
from .progress import EpochCallback, Progress, StageCallback, StopCallback
from .result import STOPPED, SUCCEEDED, TrainResult
from .uncertainty import bootstrap_intervals
from .validation import THRESHOLD_FOLDS, choose_threshold, fold_report, out_of_fold


@dataclass
class _Prepared:
    task: str
    data: pd.DataFrame
    y: np.ndarray
    classes: np.ndarray | None
    plan: ColumnPlan
    n_without_target: int
    positive: Any


def class_labels(target: pd.Series) -> np.ndarray:
    """Target values as labels: integer-like numbers become ints, mixed cells text."""
    if pd.api.types.is_bool_dtype(target):
        return target.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(target):
        values = target.to_numpy(dtype=float)
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    values = target.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False).startswith("mixed"):
        return values.astype(str).astype(object)
    return values


def _prepare(df: pd.DataFrame, config: TrainConfig) -> _Prepared:
    """Data checks that need the rows, task inference and column selection."""
    target = df[config.target]
    present = target.notna().to_numpy()
    n_without_target = int(len(present) - present.sum())
    if not present.any():
        raise ConfigError("target", f"every value of {config.target!r} is missing")
    data = df if n_without_target == 0 else df.loc[present]
    target = data[config.target]
    task = config.task or infer_task(target)
    if config.task is None and task not in MODEL_TYPES[config.model_type]:
        raise ConfigError(
            "task",
            f"{config.model_type} cannot do {task}, which was inferred "
            f"from target {config.target!r} ({target.nunique()} distinct "
            f"values, dtype {target.dtype}); choose another model type",
        )
    check_model_supports(config.model_type, task)
    if len(data) < MIN_ROWS:
        raise ConfigError(
            "dataset", f"only {len(data)} rows have a target value; at least {MIN_ROWS} are needed"
        )
    classes = None
    if task == REGRESSION:
        if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
            raise ConfigError(
                "target",
                f"regression needs a numeric target; {config.target!r} has dtype {target.dtype}",
            )
        if config.positive_class is not None:
            raise ConfigError("positive_class", "applies only to classification")
        y = target.to_numpy(dtype=float)
    else:
        y = class_labels(target)
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ConfigError(
                "target",
                f"has a single class ({json_safe(classes[0])!r}); "
                "classification needs at least two",
            )
        if len(classes) > MAX_CLASSES:
            raise ConfigError(
                "target",
                f"has {len(classes)} classes (at most {MAX_CLASSES}); "
                "for a continuous target choose task 'regression'",
            )
        if counts.min() < MIN_ROWS_PER_CLASS:
            rare = classes[int(np.argmin(counts))]
            raise ConfigError(
                "target",
                f"class {json_safe(rare)!r} has {counts.min()} row(s); "
                f"each class needs at least {MIN_ROWS_PER_CLASS} so "
                "train, validation and test all see it",
            )
    positive = None if classes is None else choose_positive_class(classes, config.positive_class)
    candidates = config.features or [name for name in df.columns if name != config.target]
    plan = plan_columns(
        data,
        candidates,
        identifiers=config.identifiers,
        exclude=config.exclude,
        include=config.include,
        include_identifiers=config.include_identifiers,
    )
    if not plan.features:
        reasons = "; ".join(f"{d['name']}: {d['reason']}" for d in plan.dropped) or "none given"
        raise ConfigError("features", f"no usable feature column is left ({reasons})")
    return _Prepared(task, data, y, classes, plan, n_without_target, positive)


def _fit(
    config: TrainConfig, task: str, params: dict[str, Any], fit_data: FitData, progress: Progress
) -> tuple[Any, list[str]]:
    if config.model_type != "neural_network":
        return fit_staged(
            config.model_type, task, params, fit_data, progress=progress, n_jobs=config.n_jobs
        )
    cls = TorchMLPClassifier if task == CLASSIFICATION else TorchMLPRegressor
    nn_params = {name: params[name] for name in NN_PARAMS if name in params}
    estimator = cls(**nn_params, random_state=config.random_seed, device=config.device)
    estimator.fit(
        fit_data.X_train,
        fit_data.y_train,
        X_val=fit_data.X_val,
        y_val=fit_data.y_val,
        progress=progress,
    )
    return (estimator if estimator.history_ else None), []


def train(
    df: pd.DataFrame,
    config: TrainConfig,
    *,
    on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None,
    should_stop: StopCallback | None = None,
) -> TrainResult:
    """Train ``config.model_type`` on ``df`` and evaluate it on a held-out test split.

    ``on_epoch(metrics)`` and ``on_stage(progress)`` are called once per epoch or stage;
    ``should_stop()`` is polled before each one, and a True answer returns the partial
    result with ``status="stopped"``. Problems the user can fix raise
    :class:`ConfigError`. The same seed gives the same metrics.
    """
    started = time.perf_counter()
    if any(not isinstance(name, str) for name in df.columns):
        df = df.set_axis([str(name) for name in df.columns], axis=1)
    if df.columns.has_duplicates:
        raise ConfigError("dataset", "column names must be unique")
    validate_config(config, list(df.columns))
    prepared = _prepare(df, config)
    task, plan, y, classes = prepared.task, prepared.plan, prepared.y, prepared.classes
    params = resolve_hyperparameters(config.model_type, task, config.hyperparameters)
    seed = config.random_seed
    split = split_rows(
        y, task=task, test_size=config.test_size, validation_size=config.validation_size, seed=seed
    )
    positive = prepared.positive
    timings = {"prepare": time.perf_counter() - started}

    mark = time.perf_counter()
    X = prepared.data[plan.features]
    preprocess = build_preprocessor(plan.numeric, plan.categorical)
    X_train = preprocess.fit_transform(X.iloc[split.train])
    X_val = preprocess.transform(X.iloc[split.val])
    X_test = preprocess.transform(X.iloc[split.test])
    timings["preprocess"] = time.perf_counter() - mark

    mark = time.perf_counter()
    progress = Progress(
        model_type=config.model_type, on_epoch=on_epoch, on_stage=on_stage, should_stop=should_stop
    )
    fit_data = FitData(task, X_train, y[split.train], X_val, y[split.val], classes, seed)
    estimator, notes = _fit(config, task, params, fit_data, progress)
    timings["fit"] = time.perf_counter() - mark

    index = prepared.data.index
    used = set(plan.features)
    result = TrainResult(
        status=STOPPED if progress.stopped else SUCCEEDED,
        task=task,
        model_type=config.model_type,
        training_history=history_arrays(progress.history, task),
        feature_schema=[
            {
                "name": name,
                "dtype": str(df[name].dtype),
                "kind": "numeric" if name in plan.numeric else "categorical",
            }
            for name in df.columns
            if name in used
        ],
        class_labels=None if classes is None else [label_value(c) for c in classes],
        positive_class=label_value(positive),
        excluded_columns=plan.dropped,
        n_train=len(split.train),
        n_val=len(split.val),
        n_test=len(split.test),
        n_rows_without_target=prepared.n_without_target,
        warnings=notes,
        config=replace(config, task=task, hyperparameters=params).to_dict(),
        model={
            "model_type": config.model_type,
            "hyperparameters": params,
            "stages_completed": len(progress.history),
            "total_stages": progress.total_stages,
        },
        split_index={
            "train": index[split.train].to_numpy(),
            "val": index[split.val].to_numpy(),
            "test": index[split.test].to_numpy(),
        },
    )
    if prepared.n_without_target:
        result.warnings.append(
            f"{prepared.n_without_target} rows without a target value were left out"
        )
    if estimator is not None:
        mark = time.perf_counter()
        pipeline = Pipeline([("preprocess", preprocess), ("model", estimator)])
        cross = _cross_validate(config, prepared, split, params, estimator, progress)
        timings["cross_validate"] = time.perf_counter() - mark
        if progress.stopped:
            result.status = STOPPED
        mark = time.perf_counter()
        _evaluate(result, pipeline, config, prepared, split, X_test, cross)
        timings["evaluate"] = time.perf_counter() - mark
    result.timings = json_safe(timings)
    result.duration = time.perf_counter() - started
    return result


@dataclass
class _CrossValidation:
    threshold: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    notes: list[str] | None = None


def _cross_validate(
    config: TrainConfig,
    prepared: _Prepared,
    split: Split,
    params: dict[str, Any],
    estimator: Any,
    progress: Progress,
) -> _CrossValidation:
    """Out-of-fold predictions over the training part (train + validation rows): the
    binary operating point by ``threshold_rule``, and the ``cv_folds`` report."""
    task, classes, positive = prepared.task, prepared.classes, prepared.positive
    binary = positive is not None
    fixed = config.threshold_rule == "0.5"
    if config.cv_folds is None and (not binary or fixed):
        threshold = _fixed_threshold(config) if binary else None
        return _CrossValidation(threshold=threshold)
    part = np.sort(np.concatenate([split.train, split.val]))
    y_part = prepared.y[part]
    # A network refits for the epochs the main fit kept, without early stopping.
    nn_epochs = None
    if config.model_type == "neural_network":
        nn_epochs = estimator.best_epoch_ or len(estimator.history_) or None
    oof = out_of_fold(
        prepared.data[prepared.plan.features].iloc[part],
        y_part,
        plan=prepared.plan,
        model_type=config.model_type,
        task=task,
        params=params,
        classes=classes,
        folds=config.cv_folds or THRESHOLD_FOLDS,
        seed=config.random_seed,
        nn_epochs=nn_epochs,
        device=config.device,
        should_stop=progress.stop_requested,
    )
    if oof is None:
        return _CrossValidation(threshold=_fixed_threshold(config) if binary else None)
    cross = _CrossValidation(notes=[])
    value = None
    if binary:
        if fixed:
            cross.threshold = _fixed_threshold(config)
        else:
            score = oof["output"][:, int(np.flatnonzero(classes == positive)[0])]
            chosen = choose_threshold(
                (y_part[oof["rows"]] == positive).astype(int), score, config.threshold_rule
            )
            cross.notes.extend(chosen.pop("notes"))
            cross.threshold = {
                **chosen,
                "rule": config.threshold_rule,
                "chosen_on": "out_of_fold",
                "cv_folds": oof["folds"],
                "n_rows": len(oof["rows"]),
                "validation_youden_j": chosen["oof_youden_j"],
            }
        value = cross.threshold["value"]
    if config.cv_folds is not None:
        cross.report = fold_report(
            y_part, oof, task=task, classes=classes, positive=positive, threshold=value
        )
    return cross


def _fixed_threshold(config: TrainConfig) -> dict[str, Any]:
    return {
        "value": 0.5,
        "rule": "0.5",
        "method": "fixed",
        "chosen_on": "fixed",
        "cv_folds": None,
        "n_rows": None,
        "validation_youden_j": None,
        "oof_youden_j": None,
        "oof_sensitivity": None,
        "oof_specificity": None,
    }


def _evaluate(
    result: TrainResult,
    pipeline: Pipeline,
    config: TrainConfig,
    prepared: _Prepared,
    split: Split,
    X_test: np.ndarray,
    cross: _CrossValidation,
) -> None:
    """Fill the result's metrics and artefacts from the held-out test rows."""
    task, y, classes, positive = prepared.task, prepared.y, prepared.classes, prepared.positive
    estimator = pipeline.named_steps["model"]
    y_test = y[split.test]
    seed = config.random_seed
    result.pipeline = pipeline
    proba = None
    if task == CLASSIFICATION:
        proba = estimator.predict_proba(X_test)
        evaluation = evaluate_classification(
            y_test, proba, classes, positive_class=positive, threshold=cross.threshold
        )
        y_pred = classes[np.argmax(proba, axis=1)]
        for name in ("confusion_matrix", "roc_curve", "pr_curve", "calibration", "threshold"):
            setattr(result, name, evaluation[name])
        if positive is not None:
            pos_index = int(np.flatnonzero(classes == positive)[0])
            evaluation["metrics"]["confidence_intervals"] = bootstrap_intervals(
                (y_test == positive).astype(int),
                proba[:, pos_index],
                cross.threshold["value"],
                seed=seed,
            )
    else:
        y_pred = estimator.predict(X_test)
        evaluation = evaluate_regression(y_test, y_pred, seed=seed)
        result.residuals = evaluation["residuals"]
        result.predictions_sample = evaluation["predictions_sample"]
    if cross.report is not None:
        evaluation["metrics"]["cross_validation"] = cross.report
    result.warnings.extend(cross.notes or [])
    result.metrics = evaluation["metrics"]

    layout = feature_layout(pipeline.named_steps["preprocess"])
    native = native_importance(estimator)
    if native is not None:
        scores, method = native
        result.feature_importance = ranked_importance(layout.sum_by_column(scores), method)
    else:
        groups = layout.groups()
        n_rows = permutation_sample_size(len(y_test), len(groups))
        rows = np.sort(np.random.default_rng(seed).choice(len(y_test), n_rows, replace=False))
        scores = permutation_importance_grouped(
            estimator.predict, X_test[rows], y_test[rows], groups, task=task, seed=seed
        )
        result.feature_importance = ranked_importance(
            scores,
            "permutation",
            scoring="accuracy" if task == CLASSIFICATION else "r2",
            n_rows=n_rows,
        )

    if config.group_column is not None:
        values = prepared.data[config.group_column].to_numpy()[split.test]
        result.subgroup_metrics = subgroup_metrics(
            config.group_column,
            values,
            y_test,
            y_pred,
            proba,
            task=task,
            classes=classes,
            positive_class=positive,
        )
    importance = result.feature_importance
    result.graph = graph_for(
        pipeline,
        target=config.target,
        importances=dict(zip(importance["features"], importance["scores"], strict=True)),
    )
    if hasattr(estimator, "spec"):
        result.model["architecture"] = estimator.spec
        result.model["best_epoch"] = estimator.best_epoch_
