"""Graph data for the model view: ``{"nodes": [{id, label, type, color}],
"edges": [{from, to, weight}]}``.

* neural network: one node per layer, edge weight = mean absolute weight between layers;
* decision tree: the top levels (depth <= 3), edge weight = share of training rows;
  tree edges also carry ``label`` ("yes" / "no": does the row meet the parent's test);
* linear models: features -> output, edge weight = coefficient (signed);
* forests and boosting: features -> ensemble -> output, edge weight = importance.

:func:`graph_for` rebuilds the graph from a stored pipeline, estimator or MLP spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .jsonsafe import json_safe, label_value
from .preprocessing import FeatureLayout, feature_layout

COLORS = {
    "input": "#4C78A8",
    "feature": "#4C78A8",
    "hidden": "#F58518",
    "output": "#54A24B",
    "split": "#4C78A8",
    "leaf": "#54A24B",
    "subtree": "#9D9D9D",
    "ensemble": "#B279A2",
}
TREE_DEPTH = 3
MAX_FEATURE_NODES = 20


def _node(node_id: str, label: str, node_type: str) -> dict[str, str]:
    return {"id": node_id, "label": label, "type": node_type, "color": COLORS[node_type]}


def _edge(source: str, target: str, weight: float | None, **extra: Any) -> dict[str, Any]:
    return {"from": source, "to": target, "weight": weight, **extra}


def _graph(nodes: list[dict], edges: list[dict]) -> dict[str, Any]:
    return json_safe({"nodes": nodes, "edges": edges})


def mlp_graph(
    spec: Mapping[str, Any],
    state_dict: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Layers of an MLP spec; with weights, edges carry the mean |weight| of each Linear."""
    # Linear weights are the 2-D tensors, in layer order (BatchNorm weights are 1-D).
    weights = [
        float(np.abs(np.asarray(value)).mean())
        for value in (state_dict or {}).values()
        if np.ndim(value) == 2
    ]
    nodes = [_node("input", f"Input ({spec['input_size']} features)", "input")]
    for index, units in enumerate(spec["hidden_layers"], start=1):
        parts = [f"Dense {units}"]
        if spec["batch_norm"]:
            parts.append("BatchNorm")
        parts.append(spec["activation"])
        if spec["dropout"]:
            parts.append(f"dropout {spec['dropout']:g}")
        nodes.append(_node(f"hidden_{index}", " · ".join(parts), "hidden"))
    if spec["task"] == "classification":
        output = f"Output ({spec['output_size']} classes, softmax)"
    else:
        output = "Output (1, linear)"
    nodes.append(_node("output", output, "output"))
    edges = [
        _edge(a["id"], b["id"], weights[i] if i < len(weights) else None)
        for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False))
    ]
    return _graph(nodes, edges)


def _split_label(
    layout: FeatureLayout | None, feature: int, threshold: float, names: Sequence[str] | None
) -> tuple[str, bool]:
    """Text of a split test, and whether the left branch (x <= threshold) means "no"."""
    if layout is not None:
        if layout.categories[feature] is not None:
            # One-hot column: x <= 0.5 is "not this category".
            return f"{layout.sources[feature]} is {layout.categories[feature]}", True
        raw = threshold * layout.scales[feature] + layout.means[feature]
        return f"{layout.sources[feature]} ≤ {raw:.4g}", False
    name = names[feature] if names is not None else f"x{feature}"
    return f"{name} ≤ {threshold:.4g}", False


def tree_graph(
    tree: DecisionTreeClassifier | DecisionTreeRegressor,
    *,
    layout: FeatureLayout | None = None,
    feature_names: Sequence[str] | None = None,
    max_depth: int = TREE_DEPTH,
) -> dict[str, Any]:
    """The top ``max_depth`` levels of a fitted tree; deeper parts become "subtree" nodes.

    With a ``layout`` thresholds are shown in raw units and one-hot tests as
    "column is value".
    """
    structure = tree.tree_
    total = float(structure.n_node_samples[0])
    classes = getattr(tree, "classes_", None)
    nodes, edges = [], []
    stack = [(0, 0)]
    while stack:
        node, depth = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        n = int(structure.n_node_samples[node])
        is_leaf = left == right
        if is_leaf or depth >= max_depth:
            value = structure.value[node][0]
            outcome = (
                label_value(classes[int(np.argmax(value))])
                if classes is not None
                else f"{float(value[0]):.4g}"
            )
            kind = "leaf" if is_leaf else "subtree"
            text = f"{outcome} (n={n})" if is_leaf else f"… {outcome} (n={n})"
            nodes.append(_node(f"n{node}", text, kind))
            continue
        label, left_is_no = _split_label(
            layout, int(structure.feature[node]), float(structure.threshold[node]), feature_names
        )
        nodes.append(_node(f"n{node}", f"{label} (n={n})", "split"))
        for child, is_left in ((right, False), (left, True)):
            answer = "no" if is_left == left_is_no else "yes"
            edges.append(
                _edge(
                    f"n{node}", f"n{child}", structure.n_node_samples[child] / total, label=answer
                )
            )
            stack.append((child, depth + 1))
    nodes.sort(key=lambda item: int(item["id"][1:]))
    return _graph(nodes, edges)


def linear_graph(
    estimator: LogisticRegression | Ridge,
    feature_labels: Sequence[str],
    *,
    target: str | None = None,
    max_features: int = MAX_FEATURE_NODES,
) -> dict[str, Any]:
    """Features -> output(s), edge weight = coefficient; the ``max_features`` features with
    the largest absolute coefficient are drawn. Multi-class logistic: one output per class."""
    coef = np.atleast_2d(estimator.coef_)
    order = np.argsort(-np.abs(coef).max(axis=0), kind="stable")[:max_features]
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        outputs = [f"{target or 'prediction'}"]
    elif len(classes) == 2:  # binary coefficients push towards classes_[1]
        outputs = [f"log-odds of {label_value(classes[1])}"]
    else:
        outputs = [f"{label_value(label)}" for label in classes]
    nodes = [_node(f"f{i}", str(feature_labels[i]), "feature") for i in order]
    nodes += [_node(f"out{k}", label, "output") for k, label in enumerate(outputs)]
    edges = [
        _edge(f"f{i}", f"out{k}", float(coef[k, i])) for k in range(len(outputs)) for i in order
    ]
    return _graph(nodes, edges)


def ensemble_graph(
    label: str,
    importances: Mapping[str, float] | Sequence[str],
    *,
    target: str | None = None,
    max_features: int = MAX_FEATURE_NODES,
) -> dict[str, Any]:
    """Features -> ensemble -> output, edge weight = the feature's importance
    (None when only feature names are known)."""
    if isinstance(importances, Mapping):
        ranked = sorted(importances.items(), key=lambda item: item[1], reverse=True)
    else:
        ranked = [(name, None) for name in importances]
    ranked = ranked[:max_features]
    nodes = [_node(f"f{i}", str(name), "feature") for i, (name, _) in enumerate(ranked)]
    nodes += [
        _node("ensemble", label, "ensemble"),
        _node("output", target or "prediction", "output"),
    ]
    edges = [_edge(f"f{i}", "ensemble", weight) for i, (_, weight) in enumerate(ranked)]
    edges.append(_edge("ensemble", "output", 1.0))
    return _graph(nodes, edges)


def graph_for(
    model: Any,
    *,
    importances: Mapping[str, float] | None = None,
    state_dict: Mapping[str, Any] | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """Graph data for a fitted engine pipeline, a bare estimator or an MLP spec.

    ``model``: a ``Pipeline(preprocess, estimator)`` from :func:`training.ml.train`,
    an estimator, or an MLP spec dict (with ``state_dict`` for edge weights).
    ``importances`` (raw column -> score, e.g. the stored feature importance) weight
    the edges of gradient boosting, which has no native importances.
    """
    if isinstance(model, Mapping):
        return mlp_graph(model, state_dict)
    layout = None
    estimator = model
    if isinstance(model, Pipeline):
        preprocess = model.steps[0][1]
        if isinstance(preprocess, ColumnTransformer):
            layout = feature_layout(preprocess)
        estimator = model.steps[-1][1]
    if hasattr(estimator, "spec") and hasattr(estimator, "module"):
        return mlp_graph(estimator.spec, estimator.module.state_dict())
    labels = (
        layout.labels
        if layout is not None
        else [f"x{i}" for i in range(getattr(estimator, "n_features_in_", 0))]
    )
    if isinstance(estimator, DecisionTreeClassifier | DecisionTreeRegressor):
        return tree_graph(estimator, layout=layout, feature_names=labels)
    if isinstance(estimator, LogisticRegression | Ridge):
        return linear_graph(estimator, labels, target=target)
    if isinstance(estimator, RandomForestClassifier | RandomForestRegressor):
        scores = np.asarray(estimator.feature_importances_, dtype=float)
        grouped = (
            layout.sum_by_column(scores)
            if layout is not None
            else dict(zip(labels, scores, strict=True))
        )
        return ensemble_graph(
            f"Random forest ({len(estimator.estimators_)} trees)",
            importances or grouped,
            target=target,
        )
    if isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return ensemble_graph(
            f"Gradient boosting ({estimator.n_iter_} iterations)",
            importances or (layout.columns if layout else labels),
            target=target,
        )
    raise TypeError(f"no graph for {type(estimator).__name__}")
