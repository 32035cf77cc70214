"""How much memory a run will need, and how big its model will be, before it starts.

An estimate from the config and the data's shape (rows, encoded width, classes), on
the safe side, so that a start request can be refused with the knob to turn instead
of a worker running out of memory an hour later. The figures: a float64 copy of the
data in each of the frame, its encoding and the three splits; a network's weights,
gradients, Adam's two moments and the best epoch's copy (5 x 4 bytes a parameter)
plus one batch's activations; a tree's nodes (sklearn keeps 64 bytes and a value
row of 8 bytes a class per node), at most one leaf per `min_samples_leaf` distinct
training rows and 2**max_depth.

A network's size is exact. Trees are sized for the worst case, which counts against
the memory limit only; their real file is checked against MODEL_MAX_BYTES when the
model is registered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import CLASSIFICATION

DATA_COPIES = 5  # frame, encoded matrix, train / validation / test splits
BYTES_PER_NODE = 64
TREE_TRAIN_FRACTION = 0.6  # the engine's train split, before the bootstrap sample
BOOTSTRAP_UNIQUE = 0.632  # the distinct rows of a bootstrap sample, 1 - 1/e


@dataclass(frozen=True)
class SizeEstimate:
    """Bytes a run needs at its peak (`memory`) and its model's size (`model`); `knob`
    is the field to change when either is too much, `why` says what dominates."""

    memory: int
    model: int
    data: int
    knob: str
    why: str
    model_exact: bool = False  # a network's or a linear model's size is known exactly


def estimate_size(
    model_type: str,
    task: str,
    params: Mapping[str, Any],
    *,
    rows: int,
    width: int,
    classes: int,
) -> SizeEstimate:
    """The estimate for `model_type` with resolved hyperparameters `params` on `rows`
    rows whose features encode to `width` columns, `classes` classes (1: regression)."""
    data = rows * max(width, 1) * 8 * DATA_COPIES
    outputs = classes if task == CLASSIFICATION and classes > 2 else 1
    if model_type == "neural_network":
        widths = [width, *params["hidden_layers"], classes if task == CLASSIFICATION else 1]
        weights = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
        activations = params["batch_size"] * sum(widths) * 4 * 3
        model = weights * 4
        return SizeEstimate(
            memory=data + weights * 4 * 5 + activations,
            model=model,
            data=data,
            knob="hyperparameters.hidden_layers",
            why=f"{weights:,} weights",
            model_exact=True,
        )
    if model_type in ("random_forest", "decision_tree"):
        trees = params.get("n_estimators", 1)
        train_rows = max(1, int(rows * TREE_TRAIN_FRACTION))
        if model_type == "random_forest" and params.get("bootstrap", True):
            train_rows = max(1, int(train_rows * BOOTSTRAP_UNIQUE))
        leaves = train_rows // max(1, int(params.get("min_samples_leaf", 1)))
        depth = params.get("max_depth")
        if depth is not None:
            leaves = min(leaves, 2 ** min(int(depth), 62))
        nodes = 2 * max(leaves, 1) - 1
        per_node = BYTES_PER_NODE + 8 * max(classes if task == CLASSIFICATION else 1, 1)
        model = trees * nodes * per_node
        knob = "hyperparameters.n_estimators" if trees > 1 else "hyperparameters.max_depth"
        return SizeEstimate(
            memory=data + model,
            model=model,
            data=data,
            knob=knob,
            why=f"{trees:,} tree(s) of up to {nodes:,} nodes",
        )
    if model_type == "gradient_boosting":
        nodes = 2 * int(params["max_leaf_nodes"]) - 1
        model = int(params["max_iter"]) * outputs * nodes * BYTES_PER_NODE
        # Binned data (1 byte a value) and per-row gradients beside the model.
        return SizeEstimate(
            memory=data + rows * width + rows * outputs * 8 * 3 + model,
            model=model,
            data=data,
            knob="hyperparameters.max_iter",
            why=f"{int(params['max_iter']) * outputs:,} trees of {nodes:,} nodes",
        )
    # Linear models: one coefficient per column and class.
    model = (width + 1) * outputs * 8
    return SizeEstimate(memory=data + model, model=model, data=data, knob="dataset", why="the data")


def too_big(
    estimate: SizeEstimate, *, memory_limit: int, model_limit: int
) -> tuple[str, str] | None:
    """(the field to change, why) when a run of this estimate cannot run, else None."""
    if estimate.data > memory_limit:
        return "dataset", (
            f"its data alone would take about {_mib(estimate.data)} of a worker's memory, "
            f"over the WORKER_MEMORY_LIMIT of {_mib(memory_limit)}; use fewer rows or columns"
        )
    # A tree's size depends on the data: it is checked on the real file at registration.
    if estimate.model_exact and estimate.model > model_limit:
        return estimate.knob, (
            f"the model would be about {_mib(estimate.model)} ({estimate.why}), over the "
            f"MODEL_MAX_BYTES limit of {_mib(model_limit)}"
        )
    if estimate.memory > memory_limit:
        return estimate.knob, (
            f"training would need about {_mib(estimate.memory)} of memory "
            f"({estimate.why}), over the WORKER_MEMORY_LIMIT of {_mib(memory_limit)}"
        )
    return None


def _mib(count: int) -> str:
    mib = count / 2**20
    return f"{mib:,.0f} MiB" if mib >= 10 else f"{math.ceil(mib * 10) / 10:g} MiB"
