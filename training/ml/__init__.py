"""MediLytica's pure training engine: a DataFrame and a config in, a result out.

No Django here, and no torch at import time (it is imported inside the neural-network
code path only, because workers fork and a torch-initialised parent can deadlock them).

    from training.ml import TrainConfig, train
    result = train(df, TrainConfig(target="outcome", model_type="random_forest"),
                   on_epoch=print, should_stop=lambda: False)
    result.pipeline.predict(raw_rows_df); result.to_dict()
"""

from .config import (
    ACTIVATIONS,
    HYPERPARAMETERS,
    MODEL_TYPES,
    TASKS,
    ConfigError,
    TrainConfig,
    default_hyperparameters,
    infer_task,
    validate_config,
)
from .engine import train
from .graph import graph_for, mlp_graph
from .nn import (
    TorchMLPClassifier,
    TorchMLPRegressor,
    build_mlp,
    make_spec,
    mlp_from_state,
    validate_spec,
)
from .preprocessing import categories_as_text, feature_layout
from .result import TrainResult

__all__ = [
    "ACTIVATIONS",
    "HYPERPARAMETERS",
    "MODEL_TYPES",
    "TASKS",
    "ConfigError",
    "TorchMLPClassifier",
    "TorchMLPRegressor",
    "TrainConfig",
    "TrainResult",
    "build_mlp",
    "categories_as_text",
    "default_hyperparameters",
    "feature_layout",
    "graph_for",
    "infer_task",
    "make_spec",
    "mlp_from_state",
    "mlp_graph",
    "train",
    "validate_config",
    "validate_spec",
]
