"""Metrics and evaluation artefacts on the held-out test split.

All outputs are JSON-safe and curves hold at most :data:`jsonsafe.MAX_POINTS` points.
Classification probabilities are columns in ``classes`` order (sorted labels, as
scikit-learn's ``classes_``); the positive class is always passed explicitly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_curve,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from .config import CLASSIFICATION, EVENT_LABELS, ConfigError
from .jsonsafe import MAX_POINTS, downsample, downsample_indices, json_safe, label_value

CALIBRATION_BINS = 10
PERMUTATION_REPEATS = 3
#: Rows predicted in total by permutation importance (groups x repeats x sample).
PERMUTATION_ROW_BUDGET = 20_000
MAX_PERMUTATION_SAMPLE = 1000
MAX_SUBGROUPS = 20
PER_CLASS_MIN_POINTS = 50


def event_label(classes: np.ndarray) -> Any:
    """The one label of a binary target whose text names the event (1, true, yes,
    positive; case-insensitive), or None."""
    matches = [label for label in classes if str(label).strip().lower() in EVENT_LABELS]
    return matches[0] if len(matches) == 1 else None


def choose_positive_class(classes: np.ndarray, requested: Any) -> Any:
    """The positive class of a binary problem: a decision, never sort order or counts.

    ``requested`` (matched as is, or by its text: ``"1"`` finds ``1``) wins; otherwise
    the label that names the event (:func:`event_label`); otherwise ConfigError asking
    for ``positive_class`` and listing the labels. Multi-class: None.
    """
    if len(classes) != 2:
        if requested is not None:
            raise ConfigError("positive_class", "applies only to binary classification")
        return None
    if requested is not None:
        for label in classes:
            if label == requested or str(label) == str(requested):
                return label
        raise ConfigError(
            "positive_class",
            f"{requested!r} is not a class of the target; classes: {json_safe(list(classes))}",
        )
    label = event_label(classes)
    if label is None:
        raise ConfigError(
            "positive_class",
            "name the class that means the event (sensitivity, ROC and the threshold "
            f"refer to it); the target's labels are {json_safe(list(classes))}",
        )
    return label


def _binary_scores(
    y_true: np.ndarray, y_pred: np.ndarray, positive: Any, negative: Any
) -> dict[str, float]:
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[positive, negative], zero_division=0
    )
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "sensitivity": recall[0],
        "specificity": recall[1],
        "precision": precision[0],
        "npv": precision[1],
        "recall": recall[0],
        "f1": f1[0],
        "mcc": matthews_corrcoef(y_true, y_pred),
    }


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    support = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(matrix, support, out=np.zeros(matrix.shape), where=support > 0)
    return {
        "labels": [label_value(c) for c in classes],
        "matrix": matrix.tolist(),
        "normalized": normalized.tolist(),
    }


def _roc(y_binary: np.ndarray, score: np.ndarray, points: int = MAX_POINTS) -> dict[str, Any]:
    fpr, tpr, thresholds = roc_curve(y_binary, score)
    return {**downsample(points, fpr=fpr, tpr=tpr, thresholds=thresholds), "auc": auc(fpr, tpr)}


def _pr(y_binary: np.ndarray, score: np.ndarray, points: int = MAX_POINTS) -> dict[str, Any]:
    precision, recall, thresholds = precision_recall_curve(y_binary, score, drop_intermediate=True)
    # precision / recall have one more point than thresholds (recall 0, precision 1).
    thresholds = np.append(thresholds, np.nan)
    return {
        **downsample(points, precision=precision, recall=recall, thresholds=thresholds),
        "average_precision": average_precision_score(y_binary, score),
    }


def _calibration(y_binary: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    prob_true, prob_pred = calibration_curve(y_binary, score, n_bins=CALIBRATION_BINS)
    return {
        "prob_true": prob_true,
        "prob_pred": prob_pred,
        "n_bins": CALIBRATION_BINS,
        "strategy": "uniform",
    }


def youden_threshold(y_binary: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """The probability cut-off maximising Youden's J = sensitivity + specificity - 1
    (predict positive when ``score >= threshold``), and J there."""
    if y_binary.min() == y_binary.max():
        return 0.5, 0.0  # one class in the validation rows: nothing to tune on
    fpr, tpr, thresholds = roc_curve(y_binary, score)
    j = tpr - fpr
    best = int(np.argmax(j))
    if not np.isfinite(thresholds[best]):  # J peaks before any cut: keep the default rule
        return 0.5, float(j[best])
    return float(thresholds[best]), float(j[best])


def evaluate_classification(
    y_true: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    *,
    positive_class: Any = None,
    threshold: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics and artefacts of a classifier on the test rows.

    ``metrics`` and ``confusion_matrix`` use the most probable class (probability 0.5
    for binary problems). For binary problems ``threshold`` is the operating point
    chosen on out-of-fold predictions (:func:`validation.choose_threshold` plus rule,
    folds...): the ``threshold`` artefact repeats it with the test metrics and the
    confusion matrix at that cut-off, the one the registered model predicts with.
    Returns the keys metrics, confusion_matrix, roc_curve, pr_curve, calibration, threshold.
    """
    y_true = np.asarray(y_true)
    y_pred = classes[np.argmax(proba, axis=1)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    metrics: dict[str, Any] = {
        "n_test": len(y_true),
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "precision_macro": float(np.mean(precision)),
        "recall_macro": float(np.mean(recall)),
        "f1_macro": float(np.mean(f1)),
        "mcc": matthews_corrcoef(y_true, y_pred),
        "log_loss": log_loss(y_true, proba, labels=classes),
        "per_class": {
            str(label_value(label)): {
                "precision": precision[k],
                "recall": recall[k],
                "f1": f1[k],
                "support": support[k],
            }
            for k, label in enumerate(classes)
        },
    }
    out: dict[str, Any] = {
        "metrics": metrics,
        "confusion_matrix": _confusion(y_true, y_pred, classes),
    }
    if len(classes) == 2:
        _binary_artefacts(out, y_true, y_pred, proba, classes, positive_class, threshold)
    else:
        _multiclass_artefacts(out, y_true, proba, classes)
    return json_safe(out)


def _binary_artefacts(
    out: dict[str, Any],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    positive: Any,
    threshold: dict[str, Any] | None,
) -> None:
    pos_index = int(np.flatnonzero(classes == positive)[0])
    negative = classes[1 - pos_index]
    score = proba[:, pos_index]
    y_binary = (y_true == positive).astype(int)
    metrics = out["metrics"]
    metrics.update(_binary_scores(y_true, y_pred, positive, negative))
    both = y_binary.min() != y_binary.max()
    metrics["roc_auc"] = roc_auc_score(y_binary, score) if both else None
    metrics["average_precision"] = average_precision_score(y_binary, score) if both else None
    metrics["brier_score"] = brier_score_loss(y_binary, score)
    label = label_value(positive)
    metrics["positive_class"] = label
    out["roc_curve"] = {**_roc(y_binary, score), "positive_class": label} if both else None
    out["pr_curve"] = {**_pr(y_binary, score), "positive_class": label} if both else None
    out["calibration"] = {**_calibration(y_binary, score), "positive_class": label}
    out["threshold"] = None
    if threshold is not None:
        tuned = np.where(score >= threshold["value"], positive, negative)
        at_threshold = _binary_scores(y_true, tuned, positive, negative)
        out["threshold"] = {
            **threshold,
            "positive_class": label,
            "metrics": at_threshold,
            "confusion_matrix": _confusion(y_true, tuned, classes),
        }
        # The operating point inside the metrics too: a registered model's card and
        # list show its metrics, and they must say where predict cuts.
        metrics["threshold"] = threshold["value"]
        metrics["threshold_rule"] = threshold["rule"]
        metrics["at_threshold"] = at_threshold


def _multiclass_artefacts(
    out: dict[str, Any], y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> None:
    indicator = label_binarize(y_true, classes=classes)
    present = [k for k in range(len(classes)) if 0 < indicator[:, k].sum() < len(y_true)]
    roc_per_class: dict[str, Any] = {}
    pr_per_class: dict[str, Any] = {}
    calibration: dict[str, Any] = {}
    grid = np.linspace(0.0, 1.0, MAX_POINTS)
    # Per-class curves share the point budget, so ten classes do not mean ten times the JSON.
    points = max(PER_CLASS_MIN_POINTS, MAX_POINTS // len(classes))
    mean_tpr = np.zeros_like(grid)
    aucs, average_precisions = [], []
    for k, label in enumerate(classes):
        key = str(label_value(label))
        if k not in present:
            roc_per_class[key] = pr_per_class[key] = calibration[key] = None
            continue
        fpr, tpr, _ = roc_curve(indicator[:, k], proba[:, k])
        mean_tpr += np.interp(grid, fpr, tpr)
        roc_per_class[key] = _roc(indicator[:, k], proba[:, k], points)
        pr_per_class[key] = _pr(indicator[:, k], proba[:, k], points)
        calibration[key] = _calibration(indicator[:, k], proba[:, k])
        aucs.append(roc_per_class[key]["auc"])
        average_precisions.append(pr_per_class[key]["average_precision"])
    micro_roc = _roc(indicator.ravel(), proba.ravel())
    micro_pr = _pr(indicator.ravel(), proba.ravel())
    macro_auc = float(np.mean(aucs)) if aucs else None
    mean_tpr = mean_tpr / max(len(present), 1)
    out["metrics"].update(
        {
            "roc_auc": macro_auc,
            "roc_auc_micro": micro_roc["auc"],
            "average_precision": float(np.mean(average_precisions)) if average_precisions else None,
            "average_precision_micro": micro_pr["average_precision"],
            "brier_score": brier_score_loss(y_true, proba, labels=classes),
        }
    )
    # Top level: the macro-average curve (mean TPR of the one-vs-rest curves).
    out["roc_curve"] = {
        "average": "macro",
        "fpr": grid,
        "tpr": mean_tpr,
        "auc": macro_auc,
        "micro": micro_roc,
        "per_class": roc_per_class,
    }
    out["pr_curve"] = {"average": "micro", **micro_pr, "per_class": pr_per_class}
    out["calibration"] = {"per_class": calibration, "n_bins": CALIBRATION_BINS}
    out["threshold"] = None


def evaluate_regression(y_true: np.ndarray, y_pred: np.ndarray, *, seed: int) -> dict[str, Any]:
    """mae, mse, rmse, r2, a residual summary (residual = actual - predicted) and at most
    200 (actual, predicted) pairs. Returns the keys metrics, residuals, predictions_sample."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    mse = mean_squared_error(y_true, y_pred)
    residuals = y_true - y_pred
    quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)
    keep = np.arange(len(y_true))
    if len(keep) > MAX_POINTS:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), MAX_POINTS, replace=False))
    return json_safe(
        {
            "metrics": {
                "n_test": len(y_true),
                "mae": mean_absolute_error(y_true, y_pred),
                "mse": mse,
                "rmse": float(np.sqrt(mse)),
                "r2": r2_score(y_true, y_pred) if len(y_true) > 1 else None,
            },
            "residuals": {
                "mean": residuals.mean(),
                "std": residuals.std(),
                "min": residuals.min(),
                "max": residuals.max(),
                "quantiles": dict(
                    zip([str(q) for q in quantiles], np.quantile(residuals, quantiles), strict=True)
                ),
            },
            "predictions_sample": {"actual": y_true[keep], "predicted": y_pred[keep]},
        }
    )


def native_importance(estimator: Any) -> tuple[np.ndarray, str] | None:
    """Per transformed feature: impurity importances of trees / forests, or mean absolute
    coefficients of linear models (features are standardised, so comparable)."""
    if hasattr(estimator, "feature_importances_"):
        return np.asarray(estimator.feature_importances_, dtype=float), "impurity"
    if hasattr(estimator, "coef_"):
        coef = np.abs(np.atleast_2d(estimator.coef_))
        return coef.mean(axis=0), "coefficient"
    return None


def permutation_importance_grouped(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    *,
    task: str,
    seed: int,
    n_repeats: int = PERMUTATION_REPEATS,
) -> dict[str, float]:
    """Drop in accuracy (classification) or R² (regression) when the columns of a group
    (one raw column: a numeric feature or its whole one-hot block) are shuffled together.

    Shuffles follow ``sklearn.inspection.permutation_importance`` exactly, so with one
    column per group the numbers equal it; all repeats of a group go through one
    ``predict`` call.
    """
    # Plain numpy scores: sklearn's metric functions re-validate their inputs on every
    # call, which costs more than the predictions here.
    score = _accuracy if task == CLASSIFICATION else _r2
    baseline = score(y, predict(X))
    group_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    n = len(X)
    importances = {}
    for name, columns in groups.items():
        rng = np.random.RandomState(group_seed)
        permuted = X.copy()
        order = np.arange(n)
        stacked = np.empty((n_repeats * n, X.shape[1]), dtype=X.dtype)
        for repeat in range(n_repeats):
            rng.shuffle(order)
            permuted[:, columns] = permuted[np.ix_(order, columns)]
            stacked[repeat * n : (repeat + 1) * n] = permuted
        predictions = predict(stacked)
        drops = [
            baseline - score(y, predictions[repeat * n : (repeat + 1) * n])
            for repeat in range(n_repeats)
        ]
        importances[name] = float(np.mean(drops))
    return importances


def _accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(predicted == y))


def _r2(y: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((y - np.mean(y)) ** 2))
    residual = float(np.sum((y - predicted) ** 2))
    return 1.0 - residual / total if total > 0 else 0.0


def permutation_sample_size(n_rows: int, n_groups: int) -> int:
    """Rows to permute so that the whole computation predicts about
    PERMUTATION_ROW_BUDGET rows: bounded cost however wide or long the data."""
    per_group = PERMUTATION_ROW_BUDGET // max(1, n_groups * PERMUTATION_REPEATS)
    return int(min(n_rows, MAX_PERMUTATION_SAMPLE, max(100, per_group)))


def ranked_importance(scores: Mapping[str, float], method: str, **extra: Any) -> dict[str, Any]:
    """{features, scores} sorted by decreasing score, plus how they were measured."""
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return json_safe(
        {
            "features": [name for name, _ in ranked],
            "scores": [value for _, value in ranked],
            "method": method,
            **extra,
        }
    )


def subgroup_metrics(
    column: str,
    values: Sequence[Any],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    *,
    task: str,
    classes: np.ndarray | None = None,
    positive_class: Any = None,
) -> dict[str, Any]:
    """The main test metrics for each value of ``column`` (the most frequent
    MAX_SUBGROUPS values; missing values form their own group)."""
    keys = pd.Series(values, dtype=object).reset_index(drop=True)
    counts = keys.value_counts(dropna=False)
    groups = []
    with warnings.catch_warnings():
        # Small groups often miss a class; the metrics below cope, the warnings are noise.
        warnings.simplefilter("ignore")
        for value in counts.index[:MAX_SUBGROUPS]:
            missing = pd.isna(value)
            mask = (keys.isna() if missing else keys == value).to_numpy()
            entry: dict[str, Any] = {
                "value": None if missing else label_value(value),
                "n": int(mask.sum()),
            }
            truth, predicted = y_true[mask], y_pred[mask]
            if task == CLASSIFICATION:
                entry.update(
                    {
                        "accuracy": accuracy_score(truth, predicted),
                        "balanced_accuracy": balanced_accuracy_score(truth, predicted),
                        "f1_macro": f1_score(
                            truth, predicted, labels=classes, average="macro", zero_division=0
                        ),
                    }
                )
                if positive_class is not None and proba is not None:
                    pos_index = int(np.flatnonzero(classes == positive_class)[0])
                    negative = classes[1 - pos_index]
                    binary = _binary_scores(truth, predicted, positive_class, negative)
                    entry.update(
                        {"sensitivity": binary["sensitivity"], "specificity": binary["specificity"]}
                    )
                    y_binary = (truth == positive_class).astype(int)
                    entry["roc_auc"] = (
                        roc_auc_score(y_binary, proba[mask, pos_index])
                        if 0 < y_binary.sum() < len(y_binary)
                        else None
                    )
            else:
                mse = mean_squared_error(truth, predicted)
                entry.update(
                    {
                        "mae": mean_absolute_error(truth, predicted),
                        "rmse": float(np.sqrt(mse)),
                        "r2": r2_score(truth, predicted) if len(truth) > 1 else None,
                    }
                )
            groups.append(entry)
    return json_safe(
        {"column": column, "groups": groups, "omitted_groups": max(0, len(counts) - MAX_SUBGROUPS)}
    )


def history_arrays(history: Sequence[Mapping[str, Any]], task: str) -> dict[str, Any]:
    """Per-epoch metrics as parallel arrays, at most MAX_POINTS epochs (evenly thinned).

    Classification: epochs, train_loss, val_loss, train_accuracy, val_accuracy.
    Regression: epochs, train_loss, val_loss (MSE), train_mae, val_mae (no accuracy).
    """
    keep = downsample_indices(len(history))
    rows = [history[i] for i in keep]
    second = ("accuracy", "val_accuracy") if task == CLASSIFICATION else ("mae", "val_mae")
    return json_safe(
        {
            "epochs": [row["epoch"] for row in rows],
            "train_loss": [row.get("loss") for row in rows],
            "val_loss": [row.get("val_loss") for row in rows],
            f"train_{second[0]}": [row.get(second[0]) for row in rows],
            f"val_{second[0]}": [row.get(second[1]) for row in rows],
        }
    )
