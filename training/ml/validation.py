"""Cross-validation over the training part: out-of-fold predictions, the decision
threshold chosen on them, and the optional k-fold report (``cv_folds``).

The training part is every row that is not in the test split (train + validation).
Each fold refits a fresh copy of the run's pipeline (preprocessing included, so no
fold sees its held-out rows' statistics) and predicts its held-out rows. Classical
models refit with the run's hyperparameters in one ``fit``; a neural network trains
for the number of epochs the main fit kept (its best epoch), without early stopping,
so the folds cost at most what the main fit did each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import KFold, StratifiedKFold

from .config import CLASSIFICATION, parse_threshold_rule
from .estimators import build_estimator
from .jsonsafe import json_safe
from .preprocessing import ColumnPlan, build_preprocessor

#: Folds for the threshold when the run asks for no cross-validation report.
THRESHOLD_FOLDS = 5
#: At most this many training-part rows feed the folds (a stratified, seeded sample):
#: a threshold is a quantile of the scores, stable long before a million rows, and the
#: folds then cost a bounded multiple of the main fit.
MAX_CV_ROWS = 20_000


def _estimator_for_fold(
    model_type: str, task: str, params: dict[str, Any], seed: int, nn_epochs: int | None, device
) -> Any:
    if model_type != "neural_network":
        return build_estimator(model_type, task, params, seed=seed, n_jobs=None)
    from .nn import NN_PARAMS, TorchMLPClassifier, TorchMLPRegressor

    cls = TorchMLPClassifier if task == CLASSIFICATION else TorchMLPRegressor
    nn_params = {name: params[name] for name in NN_PARAMS if name in params}
    if nn_epochs:
        nn_params["epochs"] = nn_epochs
    return cls(**nn_params, random_state=seed, device=device)


def out_of_fold(
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    plan: ColumnPlan,
    model_type: str,
    task: str,
    params: dict[str, Any],
    classes: np.ndarray | None,
    folds: int,
    seed: int,
    nn_epochs: int | None = None,
    device: str = "cpu",
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any] | None:
    """Out-of-fold outputs over ``X`` (the training part): {rows (positions into X),
    output (probabilities in ``classes`` order, or predictions), fold (per row),
    folds}. None when a stop was requested between folds."""
    rows = np.arange(len(y))
    if len(rows) > MAX_CV_ROWS:
        rng = np.random.default_rng(seed)
        if task == CLASSIFICATION:
            from sklearn.model_selection import train_test_split

            rows, _ = train_test_split(rows, train_size=MAX_CV_ROWS, random_state=seed, stratify=y)
            rows = np.sort(rows)
        else:
            rows = np.sort(rng.choice(rows, MAX_CV_ROWS, replace=False))
    y_rows = y[rows]
    if task == CLASSIFICATION:
        smallest = int(pd.Series(y_rows).value_counts().min())
        folds = max(2, min(folds, smallest))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    width = len(classes) if task == CLASSIFICATION else None
    output = np.zeros((len(rows), width)) if width else np.zeros(len(rows))
    fold_of = np.zeros(len(rows), dtype=int)
    frame = X.iloc[rows]
    for k, (fit_rows, held_rows) in enumerate(splitter.split(rows, y_rows)):
        if should_stop():
            return None
        preprocess = build_preprocessor(plan.numeric, plan.categorical)
        X_fit = preprocess.fit_transform(frame.iloc[fit_rows])
        X_held = preprocess.transform(frame.iloc[held_rows])
        estimator = _estimator_for_fold(model_type, task, params, seed, nn_epochs, device)
        estimator.fit(X_fit, y_rows[fit_rows])
        if task == CLASSIFICATION:
            proba = estimator.predict_proba(X_held)
            # A fold whose training rows lack a class has fewer columns: align by label.
            fitted = list(estimator.classes_)
            for j, label in enumerate(classes):
                if label in fitted:
                    output[held_rows, j] = proba[:, fitted.index(label)]
        else:
            output[held_rows] = estimator.predict(X_held)
        fold_of[held_rows] = k
    return {"rows": rows, "output": output, "fold": fold_of, "folds": folds}


def choose_threshold(y_binary: np.ndarray, score: np.ndarray, rule: str) -> dict[str, Any]:
    """The cut-off (predict positive when ``score >= value``) that ``rule`` picks on
    out-of-fold scores, with the sensitivity, specificity and Youden's J there.

    youden: the largest J (the middle of a tie); sensitivity>=X: the highest cut-off
    whose sensitivity reaches X (so the best specificity that keeps it);
    specificity>=X: the lowest cut-off whose specificity reaches X; 0.5: fixed.
    """
    kind, target = parse_threshold_rule(rule)
    notes: list[str] = []
    if kind == "fixed":
        value = 0.5
    elif y_binary.min() == y_binary.max():
        value = 0.5
        notes.append("the out-of-fold rows hold one class: the threshold stays at 0.5")
    else:
        fpr, tpr, cuts = roc_curve(y_binary, score, drop_intermediate=False)
        finite = np.isfinite(cuts)
        if kind == "youden":
            j = np.where(finite, tpr - fpr, -np.inf)
            # Several cut-offs often share the best J (a gap between the classes'
            # scores): the middle one, not the gap's edge, so it moves least with the seed.
            best = np.flatnonzero(j >= j.max() - 1e-12)
            value = float(cuts[best[len(best) // 2]])
        elif kind == "sensitivity":
            value = float(cuts[int(np.flatnonzero((tpr >= target) & finite)[0])])
        else:
            ok = np.flatnonzero((1 - fpr >= target) & finite)
            if len(ok):
                value = float(cuts[ok[-1]])
            else:  # only "never positive" reaches it
                value = 1.0
                notes.append(f"no cut-off below 1 reaches specificity {target}")
    positive = score >= value
    n_pos = int(y_binary.sum())
    n_neg = len(y_binary) - n_pos
    sensitivity = float((positive & (y_binary == 1)).sum() / n_pos) if n_pos else None
    specificity = float((~positive & (y_binary == 0)).sum() / n_neg) if n_neg else None
    j = None if sensitivity is None or specificity is None else sensitivity + specificity - 1
    return {
        "value": value,
        "method": {"youden": "youden_j", "fixed": "fixed"}.get(kind, kind),
        "oof_sensitivity": sensitivity,
        "oof_specificity": specificity,
        "oof_youden_j": j,
        "notes": notes,
    }


def fold_report(
    y: np.ndarray,
    oof: dict[str, Any],
    *,
    task: str,
    classes: np.ndarray | None,
    positive: Any = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Per-fold metrics on each fold's held-out rows, as {folds, n_rows, metrics:
    {name: {mean, std, values}}} (std with ddof=1). Binary: sensitivity, specificity,
    ppv, npv and accuracy at ``threshold``, roc_auc and brier_score; multi-class:
    accuracy and balanced_accuracy; regression: mae, rmse, r2."""
    y_rows = y[oof["rows"]]
    per_metric: dict[str, list[float | None]] = {}
    for k in range(oof["folds"]):
        mask = oof["fold"] == k
        truth, output = y_rows[mask], oof["output"][mask]
        for name, value in _fold_metrics(truth, output, task, classes, positive, threshold).items():
            per_metric.setdefault(name, []).append(value)
    summary = {}
    for name, values in per_metric.items():
        present = np.asarray([v for v in values if v is not None], dtype=float)
        summary[name] = {
            "mean": float(present.mean()) if len(present) else None,
            "std": float(present.std(ddof=1)) if len(present) > 1 else None,
            "values": values,
        }
    return json_safe({"folds": oof["folds"], "n_rows": len(y_rows), "metrics": summary})


def _fold_metrics(truth, output, task, classes, positive, threshold) -> dict[str, float | None]:
    if task != CLASSIFICATION:
        error = truth - output
        total = float(np.sum((truth - truth.mean()) ** 2))
        return {
            "mae": float(np.mean(np.abs(error))),
            "rmse": float(np.sqrt(np.mean(error**2))),
            "r2": 1 - float(np.sum(error**2)) / total if total > 0 else None,
        }
    predicted = classes[np.argmax(output, axis=1)]
    if positive is None:
        recalls = [np.mean(predicted[truth == c] == c) for c in classes if np.any(truth == c)]
        return {
            "accuracy": float(np.mean(predicted == truth)),
            "balanced_accuracy": float(np.mean(recalls)),
        }
    score = output[:, int(np.flatnonzero(classes == positive)[0])]
    y_binary = (truth == positive).astype(int)
    flagged = score >= threshold
    counts = _counts(y_binary, flagged)
    both = 0 < y_binary.sum() < len(y_binary)
    return {
        "roc_auc": float(roc_auc_score(y_binary, score)) if both else None,
        "sensitivity": _ratio(counts["tp"], counts["tp"] + counts["fn"]),
        "specificity": _ratio(counts["tn"], counts["tn"] + counts["fp"]),
        "ppv": _ratio(counts["tp"], counts["tp"] + counts["fp"]),
        "npv": _ratio(counts["tn"], counts["tn"] + counts["fn"]),
        "accuracy": float(np.mean(flagged == (y_binary == 1))),
        "brier_score": float(brier_score_loss(y_binary, score)),
    }


def _counts(y_binary: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    event = y_binary == 1
    return {
        "tp": int(np.sum(flagged & event)),
        "fp": int(np.sum(flagged & ~event)),
        "tn": int(np.sum(~flagged & ~event)),
        "fn": int(np.sum(~flagged & event)),
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
