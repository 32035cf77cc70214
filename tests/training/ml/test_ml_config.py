"""TrainConfig, hyperparameter validation and task inference (no training)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.ml import (
    HYPERPARAMETERS,
    MODEL_TYPES,
    ConfigError,
    TrainConfig,
    default_hyperparameters,
    infer_task,
    validate_config,
)

COLUMNS = ["age", "sex", "outcome", "site"]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no", "yes"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 1, 0], "classification"),
        ([1.0, 2.0, np.nan, 3.0], "classification"),  # integer-like floats with a gap
        (list(range(21)), "regression"),  # 21 distinct integers: a count, not a label
        ([0.5, 1.5, 2.5], "regression"),
        (np.linspace(0, 1, 50), "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_model_types_and_their_tasks():
    assert set(MODEL_TYPES) == {
        "logistic_regression",
        "linear_regression",
        "decision_tree",
        "random_forest",
        "gradient_boosting",
        "neural_network",
    }
    assert MODEL_TYPES["logistic_regression"] == ("classification",)
    assert MODEL_TYPES["linear_regression"] == ("regression",)


@pytest.mark.parametrize("model_type", list(MODEL_TYPES))
def test_defaults_validate_for_every_model_and_task(model_type):
    for task in MODEL_TYPES[model_type]:
        params = default_hyperparameters(model_type, task)
        validate_config(
            TrainConfig(target="outcome", model_type=model_type, task=task, hyperparameters=params),
            COLUMNS,
        )
        assert set(params) <= set(HYPERPARAMETERS[model_type])


def test_defaults_depend_on_task():
    assert default_hyperparameters("random_forest", "classification")["max_features"] == "sqrt"
    assert default_hyperparameters("random_forest", "regression")["max_features"] == 1.0
    assert "class_weight" not in default_hyperparameters("random_forest", "regression")
    assert default_hyperparameters("neural_network", "classification")["class_weight"] == (
        "balanced"
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"model_type": "svm"}, "model_type", "svm"),
        ({"task": "ranking"}, "task", "ranking"),
        ({"model_type": "logistic_regression", "task": "regression"}, "task", "classification"),
        ({"model_type": "linear_regression", "task": "classification"}, "task", "regression"),
        ({"target": "missing"}, "target", "missing"),
        ({"features": []}, "features", "empty"),
        ({"features": ["age", "outcome"]}, "features", "target"),
        ({"features": ["age", "weight"]}, "features", "weight"),
        ({"features": ["age", "age"]}, "features", "twice"),
        ({"test_size": 1.5}, "test_size", "between 0 and 1"),
        ({"test_size": 0.5, "validation_size": 0.4}, "validation_size", "20%"),
        ({"random_seed": -1}, "random_seed", "integer"),
        ({"random_seed": 1.5}, "random_seed", "integer"),
        ({"device": "tpu"}, "device", "tpu"),
        ({"group_column": "outcome"}, "group_column", "target"),
        ({"group_column": "ward"}, "group_column", "ward"),
        ({"include_identifiers": "yes"}, "include_identifiers", "true or false"),
        ({"n_jobs": 0}, "n_jobs", "non-zero"),
        ({"task": "regression", "positive_class": "yes"}, "positive_class", "classification"),
    ],
)
def test_invalid_config_names_the_field(changes, field, words):
    config = TrainConfig(**{"target": "outcome", "model_type": "random_forest", **changes})
    with pytest.raises(ConfigError) as caught:
        validate_config(config, COLUMNS)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("model_type", "params", "field", "words"),
    [
        # unknown names
        ("random_forest", {"depth": 3}, "hyperparameters.depth", "unknown hyperparameter"),
        ("neural_network", {"lr": 0.01}, "hyperparameters.lr", "learning_rate"),
        # wrong types
        ("random_forest", {"max_depth": "deep"}, "hyperparameters.max_depth", "integer"),
        ("random_forest", {"max_depth": 2.5}, "hyperparameters.max_depth", "integer"),
        ("random_forest", {"n_estimators": True}, "hyperparameters.n_estimators", "integer"),
        ("gradient_boosting", {"learning_rate": "fast"}, "hyperparameters.learning_rate", "number"),
        ("neural_network", {"batch_norm": 1}, "hyperparameters.batch_norm", "true or false"),
        (
            "neural_network",
            {"hidden_layers": [64, "wide"]},
            "hyperparameters.hidden_layers",
            "list of integers",
        ),
        ("neural_network", {"hidden_layers": 64}, "hyperparameters.hidden_layers", "list"),
        ("neural_network", {"activation": "sigmoid"}, "hyperparameters.activation", "relu"),
        ("random_forest", {"max_features": "all"}, "hyperparameters.max_features", "sqrt"),
        ("random_forest", {"max_features": 3}, "hyperparameters.max_features", "fraction"),
        # out of range
        ("random_forest", {"max_depth": 0}, "hyperparameters.max_depth", ">= 1"),
        ("random_forest", {"n_estimators": 100_000}, "hyperparameters.n_estimators", "<= 5000"),
        ("logistic_regression", {"C": 0.0}, "hyperparameters.C", "> 0"),
        (
            "gradient_boosting",
            {"learning_rate": float("nan")},
            "hyperparameters.learning_rate",
            "finite",
        ),
        ("neural_network", {"dropout": 1.0}, "hyperparameters.dropout", "< 1"),
        ("neural_network", {"epochs": 0}, "hyperparameters.epochs", ">= 1"),
        ("neural_network", {"hidden_layers": [64, 0]}, "hyperparameters.hidden_layers", ">= 1"),
        ("neural_network", {"hidden_layers": [8] * 17}, "hyperparameters.hidden_layers", "16"),
        ("decision_tree", {"min_samples_split": 1}, "hyperparameters.min_samples_split", ">= 2"),
        (
            "random_forest",
            {"max_depth": None, "n_estimators": None},
            "hyperparameters.n_estimators",
            "null",
        ),
    ],
)
def test_invalid_hyperparameter_names_the_parameter(model_type, params, field, words):
    config = TrainConfig(target="outcome", model_type=model_type, hyperparameters=params)
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert words in caught.value.message


def test_task_specific_hyperparameters():
    # class_weight means nothing to a regressor; criterion choices differ per task.
    with pytest.raises(ConfigError, match="class_weight"):
        validate_config(
            TrainConfig(
                target="y",
                model_type="random_forest",
                task="regression",
                hyperparameters={"class_weight": "balanced"},
            )
        )
    with pytest.raises(ConfigError, match="criterion"):
        validate_config(
            TrainConfig(
                target="y",
                model_type="decision_tree",
                task="classification",
                hyperparameters={"criterion": "squared_error"},
            )
        )
    # Without a task yet, either task's criterion is acceptable until inference.
    validate_config(
        TrainConfig(
            target="y", model_type="decision_tree", hyperparameters={"criterion": "squared_error"}
        )
    )


def test_from_dict_round_trip_and_unknown_field():
    config = TrainConfig.from_dict(
        {
            "target": "outcome",
            "model_type": "neural_network",
            "hyperparameters": None,
            "test_size": 0.25,
        }
    )
    assert config.hyperparameters == {}
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"target": "outcome", "model_type": "x", "epochs": 3})
    assert caught.value.field == "epochs"
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"target": "outcome"})
    assert caught.value.field == "model_type"
