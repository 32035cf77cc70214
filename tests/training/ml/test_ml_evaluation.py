"""Evaluation helpers on hand-made predictions."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from training.ml import ConfigError
from training.ml.evaluation import (
    choose_positive_class,
    evaluate_classification,
    history_arrays,
    permutation_importance_grouped,
    subgroup_metrics,
)
from training.ml.jsonsafe import downsample_indices, json_safe


@pytest.mark.parametrize(
    ("labels", "event"),
    [
        (["no", "yes"], "yes"),
        (["FALSE", "TRUE"], "TRUE"),
        ([False, True], True),
        ([0, 1], 1),
        (["0", "1"], "1"),
        (["negative", "Positive"], "Positive"),
    ],
)
def test_positive_class_defaults_to_the_label_that_names_the_event(labels, event):
    assert choose_positive_class(np.array(labels, dtype=object), None) == event


def test_positive_class_is_asked_for_when_the_labels_do_not_say():
    labels = np.array(["no_recurrence", "recurrence"], dtype=object)
    with pytest.raises(ConfigError) as caught:
        choose_positive_class(labels, None)
    assert caught.value.field == "positive_class"
    assert "'no_recurrence'" in caught.value.message and "'recurrence'" in caught.value.message
    assert choose_positive_class(labels, "no_recurrence") == "no_recurrence"
    assert choose_positive_class(np.array([0, 1]), "0") == 0
    with pytest.raises(ConfigError, match="not a class"):
        choose_positive_class(labels, "unknown")
    with pytest.raises(ConfigError, match="binary"):
        choose_positive_class(np.array(["a", "b", "c"]), "a")
    assert choose_positive_class(np.array(["a", "b", "c"]), None) is None


def test_curves_are_bounded_and_json_safe():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000)
    score = np.clip(y * 0.3 + rng.random(5000) * 0.7, 0, 1)
    proba = np.column_stack([1 - score, score])
    out = evaluate_classification(y, proba, np.array([0, 1]), positive_class=1)
    for curve in ("roc_curve", "pr_curve"):
        lengths = {len(v) for v in out[curve].values() if isinstance(v, list)}
        assert len(lengths) == 1 and lengths.pop() <= 200
    assert out["roc_curve"]["fpr"][0] == 0.0 and out["roc_curve"]["fpr"][-1] == 1.0
    assert out["roc_curve"]["thresholds"][0] is None  # roc_curve's +inf becomes null
    assert out["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    json.dumps(out, allow_nan=False)


def test_multiclass_with_a_class_missing_from_the_test_rows():
    y = np.array(["a", "b", "a", "b", "a", "b"])
    proba = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.2, 0.7, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.8, 0.1],
            [0.5, 0.4, 0.1],
            [0.3, 0.6, 0.1],
        ]
    )
    out = evaluate_classification(y, proba, np.array(["a", "b", "c"]))
    assert out["roc_curve"]["per_class"]["c"] is None
    assert out["metrics"]["roc_auc"] == pytest.approx(1.0)  # over the classes present
    assert out["metrics"]["per_class"]["c"]["support"] == 0
    json.dumps(out, allow_nan=False)


def test_grouped_permutation_importance_equals_sklearn_for_single_columns(breast_cancer):
    X = breast_cancer.drop(columns="target").to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = breast_cancer["target"].to_numpy()
    model = LogisticRegression(max_iter=500).fit(X[:400], y[:400])
    groups = {f"c{i}": [i] for i in range(X.shape[1])}
    ours = permutation_importance_grouped(
        model.predict, X[400:], y[400:], groups, task="classification", seed=5, n_repeats=3
    )
    theirs = permutation_importance(model, X[400:], y[400:], n_repeats=3, random_state=5)
    assert list(ours.values()) == pytest.approx(theirs.importances_mean.tolist())
    # A group moves together: permuting two columns jointly is one entry.
    joint = permutation_importance_grouped(
        model.predict, X[400:], y[400:], {"ab": [0, 1]}, task="classification", seed=5
    )
    assert set(joint) == {"ab"}


def test_subgroups_include_missing_values():
    values = np.array(["x", "y", None, "x", None, "y"], dtype=object)
    y_true = np.array([1, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 0, 0])
    out = subgroup_metrics(
        "site", values, y_true, y_pred, None, task="classification", classes=np.array([0, 1])
    )
    by_value = {g["value"]: g for g in out["groups"]}
    assert set(by_value) == {"x", "y", None}
    assert by_value["x"]["accuracy"] == 0.5 and by_value[None]["accuracy"] == 1.0
    assert sum(g["n"] for g in out["groups"]) == 6


def test_json_safe_and_downsampling():
    assert json_safe({"a": np.float32(1.5), 2: [np.nan, np.inf, np.int64(3)], "b": (True,)}) == {
        "a": 1.5,
        "2": [None, None, 3],
        "b": [True],
    }
    keep = downsample_indices(1001)
    assert len(keep) <= 200 and keep[0] == 0 and keep[-1] == 1000
    assert list(downsample_indices(5)) == [0, 1, 2, 3, 4]
    history = [
        {"epoch": e, "loss": 1 / e, "val_loss": math.nan, "mae": 2.0, "val_mae": 3.0}
        for e in range(1, 501)
    ]
    arrays = history_arrays(history, "regression")
    assert set(arrays) == {"epochs", "train_loss", "val_loss", "train_mae", "val_mae"}
    assert len(arrays["epochs"]) <= 200 and arrays["epochs"][-1] == 500
    assert arrays["val_loss"][0] is None
