"""Sizes estimated before a run starts (issue #17): what a run needs, named by knob."""

from __future__ import annotations

from training.ml.config import resolve_hyperparameters
from training.ml.sizing import estimate_size, too_big

GIB, MIB = 2**30, 2**20
LIMITS = {"memory_limit": 3 * GIB, "model_limit": 256 * MIB}


def estimate(model_type, task="classification", rows=10_000, width=20, classes=2, **params):
    resolved = resolve_hyperparameters(model_type, task, params)
    return estimate_size(model_type, task, resolved, rows=rows, width=width, classes=classes)


def test_eight_layers_of_4096_units_are_a_model_too_big_to_register():
    # Measured: this network registered a 434 MB model and peaked at 3.2 GB.
    big = estimate("neural_network", hidden_layers=[4096] * 8)
    assert 400 * MIB < big.model < 500 * MIB
    assert big.memory > 5 * big.model
    field, why = too_big(big, **LIMITS)
    assert field == "hyperparameters.hidden_layers"
    assert "117,563,394 weights" in why and "MODEL_MAX_BYTES limit of 256 MiB" in why


def test_a_forest_of_deep_trees_on_many_rows_needs_more_than_a_worker_has():
    forest = estimate("random_forest", rows=500_000, n_estimators=5000)
    assert forest.memory > 100 * GIB
    field, why = too_big(forest, **LIMITS)
    assert field == "hyperparameters.n_estimators" and "5,000 tree(s)" in why
    shallow = estimate("random_forest", rows=500_000, n_estimators=200, max_depth=8)
    assert too_big(shallow, **LIMITS) is None


def test_data_too_big_for_any_model_names_the_dataset():
    wide = estimate("logistic_regression", rows=10_000_000, width=100)
    field, why = too_big(wide, **LIMITS)
    assert field == "dataset" and "fewer rows or columns" in why


def test_everyday_runs_pass():
    for model_type in ("logistic_regression", "decision_tree", "random_forest",
                       "gradient_boosting", "neural_network"):  # fmt: skip
        assert too_big(estimate(model_type, rows=100_000, width=50), **LIMITS) is None
