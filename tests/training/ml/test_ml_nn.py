"""The PyTorch MLP: spec, module, estimator wrappers, early stopping, lazy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from training.ml import (
    ConfigError,
    TorchMLPClassifier,
    TorchMLPRegressor,
    TrainConfig,
    build_mlp,
    make_spec,
    mlp_from_state,
    train,
    validate_spec,
)

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_engine_loads_neither_torch_nor_django():
    code = (
        "import sys, training.ml; "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('django')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_build_mlp_follows_the_spec():
    spec = make_spec(
        task="classification",
        input_size=5,
        output_size=3,
        hidden_layers=[8, 4],
        activation="gelu",
        dropout=0.25,
        batch_norm=True,
    )
    module = build_mlp(spec)
    kinds = [type(layer).__name__ for layer in module]
    assert kinds == [
        "Linear",
        "BatchNorm1d",
        "GELU",
        "Dropout",
        "Linear",
        "BatchNorm1d",
        "GELU",
        "Dropout",
        "Linear",
    ]
    assert module[0].in_features == 5 and module[-1].out_features == 3
    assert module(torch.zeros(2, 5)).shape == (2, 3)
    plain = build_mlp({**spec, "dropout": 0.0, "batch_norm": False, "activation": "leaky_relu"})
    assert [type(layer).__name__ for layer in plain] == [
        "Linear",
        "LeakyReLU",
        "Linear",
        "LeakyReLU",
        "Linear",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "keras"}, "spec.format"),
        ({"input_size": 0}, "spec.input_size"),
        ({"hidden_layers": [8, -1]}, "spec.hidden_layers"),
        ({"activation": "swish"}, "spec.activation"),
        ({"dropout": 1.0}, "spec.dropout"),
        ({"batch_norm": "no"}, "spec.batch_norm"),
        ({"task": "regression", "output_size": 2}, "spec.output_size"),
    ],
)
def test_invalid_spec(change, field):
    spec = make_spec(task="classification", input_size=5, output_size=2, hidden_layers=[8])
    with pytest.raises(ConfigError) as caught:
        validate_spec({**spec, **change})
    assert caught.value.field == field


def test_rebuilt_from_spec_and_weights_predicts_the_same(clinical):
    result = train(
        clinical,
        TrainConfig(
            target="readmitted",
            model_type="neural_network",
            hyperparameters={
                "epochs": 3,
                "hidden_layers": [16, 8],
                "batch_norm": True,
                "dropout": 0.1,
            },
        ),
    )
    fitted = result.pipeline.named_steps["model"]
    assert result.model["architecture"] == fitted.spec
    assert fitted.spec["input_size"] == result.pipeline[0].transform(clinical.head(1)).shape[1]
    assert fitted.spec["output_size"] == 2 and fitted.spec["task"] == "classification"
    # What the registry stores: the JSON spec, the weights (as numpy here) and the classes.
    weights = {name: tensor.numpy() for name, tensor in fitted.module.state_dict().items()}
    rebuilt = mlp_from_state(fitted.spec, weights, result.class_labels)
    assert isinstance(rebuilt, TorchMLPClassifier)
    rows = clinical.drop(columns="readmitted").head(50)
    again = Pipeline(
        [("preprocess", result.pipeline.named_steps["preprocess"]), ("model", rebuilt)]
    )
    assert np.array_equal(again.predict(rows), result.pipeline.predict(rows))
    assert np.allclose(again.predict_proba(rows), result.pipeline.predict_proba(rows))
    with pytest.raises(ConfigError):
        mlp_from_state(fitted.spec, weights, ["only-one"])


def test_regressor_standardises_the_target_and_rebuilds(diabetes):
    X = diabetes.drop(columns="target").to_numpy()
    y = diabetes["target"].to_numpy()
    model = TorchMLPRegressor(
        hidden_layers=(16,), epochs=30, learning_rate=0.01, random_state=1
    ).fit(X[:300], y[:300])
    assert model.spec["target_mean"] == pytest.approx(y[:300].mean())
    assert model.spec["target_scale"] == pytest.approx(y[:300].std())
    predicted = model.predict(X[300:])
    assert np.corrcoef(predicted, y[300:])[0, 1] > 0.5  # it learned something
    rebuilt = mlp_from_state(model.spec, model.module.state_dict())
    assert isinstance(rebuilt, TorchMLPRegressor)
    assert np.allclose(rebuilt.predict(X[300:]), predicted)
    assert model.history_[-1]["epoch"] == 30 and "val_loss" not in model.history_[-1]


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(np.float32)
    y = rng.integers(0, 2, 300)  # pure noise: a big network overfits quickly
    model = TorchMLPClassifier(
        hidden_layers=(128, 128),
        epochs=60,
        patience=3,
        learning_rate=0.01,
        batch_size=32,
        random_state=0,
    )
    model.fit(X[:200], y[:200], X_val=X[200:], y_val=y[200:])
    history = model.history_
    val_losses = [row["val_loss"] for row in history]
    assert len(history) < 60  # stopped early
    best = int(np.argmin(val_losses))
    assert model.best_epoch_ == history[best]["epoch"]
    assert len(history) == model.best_epoch_ + 3  # patience epochs after the best
    # The kept weights are the best epoch's: their validation loss is the minimum
    # (class_weight defaults to None on the bare estimator: plain cross-entropy).
    with torch.no_grad():
        logits = model.module(torch.as_tensor(X[200:]))
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[200:])).item()
    assert loss == pytest.approx(min(val_losses), rel=1e-5)


def test_balanced_class_weights_and_sklearn_compatibility():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["a"] * 30 + ["b"] * 10)
    model = TorchMLPClassifier(hidden_layers=(4,), epochs=1, class_weight="balanced").fit(X, y)
    assert model.class_weights_ == pytest.approx([40 / (2 * 30), 40 / (2 * 10)])
    assert list(model.classes_) == ["a", "b"]
    assert set(model.predict(X)) <= {"a", "b"}
    assert clone(model).get_params()["hidden_layers"] == (4,)
    assert not hasattr(clone(model), "module")
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 4)))


def test_training_leaves_the_global_torch_rng_alone(breast_cancer):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(
        breast_cancer,
        TrainConfig(
            target="target",
            model_type="neural_network",
            hyperparameters={"epochs": 1, "hidden_layers": [4]},
        ),
    )
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_config_error(breast_cancer):
    with pytest.raises(ConfigError) as caught:
        train(
            breast_cancer,
            TrainConfig(
                target="target",
                model_type="neural_network",
                device="cuda",
                hyperparameters={"epochs": 1},
            ),
        )
    assert caught.value.field == "device"
