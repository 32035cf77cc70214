"""The neural network on a GPU: trains there, comes back as a CPU model, matches the CPU run.

Skipped where torch sees no GPU (CI has none). On a GPU machine these run without
Django or this folder's fixtures, so they need nothing but the engine's own packages:

    python -m pytest -c /dev/null --rootdir . --noconftest tests/training/ml/test_ml_cuda.py
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from training.ml import TrainConfig, mlp_from_state, train

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no GPU")

HYPERPARAMETERS = {"hidden_layers": [32, 16], "epochs": 30, "batch_size": 64, "patience": 5}


def _train(frame, target: str, device: str, **extra):
    config = TrainConfig(
        target=target,
        model_type="neural_network",
        hyperparameters={**HYPERPARAMETERS, **extra},
        random_seed=7,
        device=device,
    )
    epochs: list[dict] = []
    result = train(frame, config, on_epoch=epochs.append)
    return result, epochs


def _network(result):
    return result.pipeline[-1]


def test_classifier_trains_on_the_gpu_and_comes_back_on_the_cpu():
    frame = load_breast_cancer(as_frame=True).frame
    result, epochs = _train(frame, "target", "cuda")

    network = _network(result)
    devices = {parameter.device.type for parameter in network.module.parameters()}
    assert devices == {"cpu"}, "the fitted module must be usable by a worker without a GPU"
    assert result.metrics["accuracy"] > 0.9
    assert epochs and all(
        isinstance(value, int | float) and not isinstance(value, bool)
        for value in epochs[-1].values()
    ), "metrics sent to the stream must be plain numbers, not GPU tensors"
    probabilities = result.pipeline.predict_proba(frame.drop(columns="target").head(20))
    assert probabilities.shape == (20, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_auto_picks_the_gpu_and_scores_like_the_cpu_run():
    frame = load_breast_cancer(as_frame=True).frame
    torch.cuda.reset_peak_memory_stats()
    on_gpu, _ = _train(frame, "target", "auto")
    assert torch.cuda.max_memory_allocated() > 0, "'auto' should have trained on the GPU"
    on_cpu, _ = _train(frame, "target", "cpu")
    # Kernels differ (cuBLAS vs MKL, nondeterministic reductions): same data, same seed,
    # scores within a few points, not bit-equal.
    assert abs(on_gpu.metrics["accuracy"] - on_cpu.metrics["accuracy"]) < 0.05
    assert abs(on_gpu.metrics["roc_auc"] - on_cpu.metrics["roc_auc"]) < 0.03


def test_regressor_on_the_gpu_keeps_its_best_epoch():
    frame = load_diabetes(as_frame=True).frame
    result, epochs = _train(frame, "target", "cuda", epochs=200, patience=3, learning_rate=0.01)
    network = _network(result)
    assert network.best_epoch_ is not None
    assert len(epochs) < 200, "early stopping on the GPU should end the run"
    best = min(epoch["val_loss"] for epoch in epochs)
    assert best == pytest.approx(network.history_[network.best_epoch_ - 1]["val_loss"])
    assert result.metrics["r2"] > 0.3


def test_gpu_weights_round_trip_through_safetensors_to_a_cpu_model():
    from safetensors.torch import load, save

    frame = load_breast_cancer(as_frame=True).frame
    result, _ = _train(frame, "target", "cuda")
    network = _network(result)
    restored = mlp_from_state(
        network.spec, load(save(network.module.state_dict())), network.classes_.tolist()
    )
    features = result.pipeline[:-1].transform(frame.drop(columns="target"))
    assert np.array_equal(restored.predict_proba(features), network.predict_proba(features))
    buffer = io.BytesIO()
    torch.save(network.module.state_dict(), buffer)  # what a user downloads as .pt
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True, map_location="cpu")
    assert all(tensor.device.type == "cpu" for tensor in state.values())
