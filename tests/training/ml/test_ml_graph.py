"""Graph data shapes, and what the registry needs to store and rebuild a model."""

from __future__ import annotations

import numpy as np
import pytest

from training.ml import TrainConfig, graph_for, make_spec, mlp_graph, train

COLOR = "#"


def check_shape(graph):
    ids = [node["id"] for node in graph["nodes"]]
    assert len(ids) == len(set(ids))
    for node in graph["nodes"]:
        assert set(node) == {"id", "label", "type", "color"} and node["color"].startswith(COLOR)
    for edge in graph["edges"]:
        assert {"from", "to", "weight"} <= set(edge)
        assert edge["from"] in ids and edge["to"] in ids


def test_neural_network_graph_has_a_node_per_layer(clinical):
    result = train(
        clinical,
        TrainConfig(
            target="readmitted",
            model_type="neural_network",
            hyperparameters={"epochs": 1, "hidden_layers": [16, 8], "batch_norm": True},
        ),
    )
    graph = result.graph
    check_shape(graph)
    assert [n["type"] for n in graph["nodes"]] == ["input", "hidden", "hidden", "output"]
    assert graph["nodes"][1]["label"] == "Dense 16 · BatchNorm · relu"
    module = result.pipeline.named_steps["model"].module
    linear = [layer for layer in module if type(layer).__name__ == "Linear"]
    assert [e["weight"] for e in graph["edges"]] == pytest.approx(
        [layer.weight.detach().abs().mean().item() for layer in linear]
    )
    # From the spec alone (no weights yet) the registry still gets the layout.
    bare = mlp_graph(
        make_spec(
            task="regression",
            input_size=3,
            output_size=1,
            hidden_layers=[4],
            target_mean=0.0,
            target_scale=1.0,
        )
    )
    assert len(bare["nodes"]) == 3 and [e["weight"] for e in bare["edges"]] == [None, None]


def test_decision_tree_graph_shows_the_top_levels_in_raw_units(clinical):
    result = train(
        clinical,
        TrainConfig(target="length_of_stay", model_type="decision_tree", features=["age", "ward"]),
    )
    graph = result.graph
    check_shape(graph)
    splits = [n for n in graph["nodes"] if n["type"] == "split"]
    assert 1 <= len(splits) <= 7 and len(graph["nodes"]) <= 15  # depth <= 3
    assert len(graph["edges"]) == len(graph["nodes"]) - 1
    assert {e["label"] for e in graph["edges"]} == {"yes", "no"}
    root_edges = [e for e in graph["edges"] if e["from"] == "n0"]
    assert sum(e["weight"] for e in root_edges) == pytest.approx(1.0)
    for split in splits:
        if split["label"].startswith("age ≤ "):
            threshold = float(split["label"].split("≤ ")[1].split(" ")[0])
            assert clinical["age"].min() <= threshold <= clinical["age"].max()
        else:
            assert split["label"].startswith("ward is ")


def test_linear_graph_weights_are_coefficients(digits):
    result = train(
        digits,
        TrainConfig(
            target="target", model_type="logistic_regression", hyperparameters={"max_iter": 50}
        ),
    )
    graph = result.graph
    check_shape(graph)
    features = [n for n in graph["nodes"] if n["type"] == "feature"]
    outputs = [n for n in graph["nodes"] if n["type"] == "output"]
    assert len(features) == 20 and len(outputs) == 10
    assert len(graph["edges"]) == 200
    coef = result.pipeline.named_steps["model"].coef_
    weights = {abs(w) for w in coef.ravel()}
    assert all(abs(e["weight"]) in weights for e in graph["edges"])


@pytest.mark.parametrize("model_type", ["random_forest", "gradient_boosting"])
def test_ensemble_graph_weights_are_importances(breast_cancer, model_type):
    params = {"n_estimators": 5} if model_type == "random_forest" else {"max_iter": 5}
    result = train(
        breast_cancer, TrainConfig(target="target", model_type=model_type, hyperparameters=params)
    )
    graph = result.graph
    check_shape(graph)
    features = [n["label"] for n in graph["nodes"] if n["type"] == "feature"]
    assert features == result.feature_importance["features"][:20]
    weights = [e["weight"] for e in graph["edges"] if e["to"] == "ensemble"]
    assert weights == pytest.approx(result.feature_importance["scores"][:20])
    # Rebuilt from the stored pipeline (and stored importances for boosting): the same.
    importances = dict(
        zip(result.feature_importance["features"], result.feature_importance["scores"], strict=True)
    )
    assert graph_for(result.pipeline, importances=importances, target="target") == graph


@pytest.mark.parametrize(
    "model_type", ["logistic_regression", "random_forest", "gradient_boosting", "decision_tree"]
)
def test_pipelines_store_with_skops_trusting_only_the_engine_text_step(clinical, model_type):
    """The registry stores scikit-learn pipelines with skops and a trusted-type list in
    code: besides scikit-learn / numpy types, the only one to trust is the engine's
    categories_as_text (the boosting stage hook, for one, is gone)."""
    sio = pytest.importorskip("skops.io")
    params = {"random_forest": {"n_estimators": 5}, "gradient_boosting": {"max_iter": 5}}
    result = train(
        clinical,
        TrainConfig(
            target="readmitted", model_type=model_type, hyperparameters=params.get(model_type, {})
        ),
    )
    blob = sio.dumps(result.pipeline)
    untrusted = sio.get_untrusted_types(data=blob)
    assert [
        name for name in untrusted if not name.startswith(("sklearn.", "numpy.", "scipy."))
    ] == ["training.ml.preprocessing.categories_as_text"]
    loaded = sio.loads(blob, trusted=untrusted)
    rows = clinical.drop(columns="readmitted").head(20)
    assert np.array_equal(loaded.predict(rows), result.pipeline.predict(rows))
