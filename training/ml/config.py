"""Training configuration, hyperparameter schema and validation.

Everything here is cheap and import-light so the web process can validate a
request before it queues a run: no torch, no data access beyond column names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS: tuple[str, ...] = (CLASSIFICATION, REGRESSION)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

#: Model type -> the tasks it supports.
MODEL_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "logistic_regression": (CLASSIFICATION,),
        "linear_regression": (REGRESSION,),
        "decision_tree": TASKS,
        "random_forest": TASKS,
        "gradient_boosting": TASKS,
        "neural_network": TASKS,
    }
)

#: A numeric target with at most this many distinct integer-like values is a class label.
MAX_CLASSIFICATION_LEVELS = 20
MIN_ROWS = 20
MIN_ROWS_PER_CLASS = 3
MAX_CLASSES = 100
MIN_CV_FOLDS, MAX_CV_FOLDS = 2, 10
#: How a binary classifier's decision threshold is chosen on out-of-fold predictions.
THRESHOLD_RULES: tuple[str, ...] = ("youden", "sensitivity>=X", "specificity>=X", "0.5")
DEFAULT_THRESHOLD_RULE = "youden"
#: Labels that name the event of a binary target (matched on the label's text).
EVENT_LABELS = frozenset({"1", "1.0", "true", "yes", "positive"})
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "gelu", "leaky_relu")


class ConfigError(ValueError):
    """A configuration or data problem that the user can fix.

    ``field`` names what is wrong (``"target"``, ``"hyperparameters.max_depth"``),
    so the web layer can answer 400 with a field error; ``str(error)`` starts with it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    """Type, range and default of one hyperparameter.

    ``default`` and ``choices`` may be a mapping task -> value where they differ
    between classification and regression.
    """

    kind: str  # "int" | "float" | "bool" | "choice" | "int_list" | "max_features"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()
    nullable: bool = False
    tasks: tuple[str, ...] = TASKS
    help: str = ""

    def default_for(self, task: str) -> Any:
        if isinstance(self.default, Mapping):
            return self.default[task]
        return self.default

    def choices_for(self, task: str | None) -> tuple[str, ...]:
        if isinstance(self.choices, Mapping):
            if task is None:  # task not inferred yet: accept what either task accepts
                return tuple(dict.fromkeys(c for cs in self.choices.values() for c in cs))
            return self.choices[task]
        return self.choices


_MAX_DEPTH = ParamSpec(
    "int",
    None,
    minimum=1,
    maximum=1000,
    nullable=True,
    help="maximum tree depth; null grows until leaves are pure",
)
_MIN_SPLIT = ParamSpec("int", 2, minimum=2, maximum=1_000_000)
_MIN_LEAF = ParamSpec("int", 1, minimum=1, maximum=1_000_000)
_CLASS_WEIGHT = ParamSpec(
    "choice",
    None,
    choices=("balanced",),
    nullable=True,
    tasks=(CLASSIFICATION,),
    help="'balanced' weights classes inversely to their frequency",
)

HYPERPARAMETERS: Mapping[str, Mapping[str, ParamSpec]] = MappingProxyType(
    {
        "logistic_regression": {
            "C": ParamSpec(
                "float",
                1.0,
                minimum=0,
                exclusive_minimum=True,
                maximum=1e6,
                help="inverse L2 regularisation strength",
            ),
            "max_iter": ParamSpec("int", 100, minimum=1, maximum=100_000),
            "class_weight": _CLASS_WEIGHT,
        },
        "linear_regression": {
            "alpha": ParamSpec(
                "float", 1.0, minimum=0, maximum=1e6, help="L2 regularisation strength (Ridge)"
            ),
        },
        "decision_tree": {
            "max_depth": _MAX_DEPTH,
            "min_samples_split": _MIN_SPLIT,
            "min_samples_leaf": _MIN_LEAF,
            "criterion": ParamSpec(
                "choice",
                {CLASSIFICATION: "gini", REGRESSION: "squared_error"},
                choices={
                    CLASSIFICATION: ("gini", "entropy", "log_loss"),
                    REGRESSION: ("squared_error", "friedman_mse", "absolute_error"),
                },
            ),
            "class_weight": _CLASS_WEIGHT,
        },
        "random_forest": {
            "n_estimators": ParamSpec("int", 100, minimum=1, maximum=5000),
            "max_depth": _MAX_DEPTH,
            "min_samples_split": _MIN_SPLIT,
            "min_samples_leaf": _MIN_LEAF,
            "max_features": ParamSpec(
                "max_features",
                {CLASSIFICATION: "sqrt", REGRESSION: 1.0},
                choices=("sqrt", "log2"),
                nullable=True,
                help="'sqrt', 'log2', a fraction in (0, 1], or null for all features",
            ),
            "class_weight": ParamSpec(
                "choice",
                None,
                choices=("balanced", "balanced_subsample"),
                nullable=True,
                tasks=(CLASSIFICATION,),
            ),
        },
        "gradient_boosting": {
            "max_iter": ParamSpec(
                "int", 100, minimum=1, maximum=10_000, help="boosting iterations"
            ),
            "learning_rate": ParamSpec(
                "float", 0.1, minimum=0, exclusive_minimum=True, maximum=10.0
            ),
            "max_depth": _MAX_DEPTH,
            "max_leaf_nodes": ParamSpec("int", 31, minimum=2, maximum=65_536),
            "min_samples_leaf": ParamSpec("int", 20, minimum=1, maximum=1_000_000),
            "l2_regularization": ParamSpec("float", 0.0, minimum=0, maximum=1e6),
            "max_bins": ParamSpec("int", 255, minimum=2, maximum=255),
            "class_weight": _CLASS_WEIGHT,
        },
        "neural_network": {
            "hidden_layers": ParamSpec(
                "int_list",
                (64, 32),
                minimum=1,
                maximum=4096,
                help="units per hidden layer, at most 16 layers",
            ),
            "activation": ParamSpec("choice", "relu", choices=ACTIVATIONS),
            "dropout": ParamSpec("float", 0.0, minimum=0, maximum=1, exclusive_maximum=True),
            "batch_norm": ParamSpec("bool", False),
            "learning_rate": ParamSpec(
                "float",
                1e-3,
                minimum=0,
                exclusive_minimum=True,
                maximum=1.0,
                help="Adam learning rate",
            ),
            "weight_decay": ParamSpec("float", 0.0, minimum=0, maximum=1.0),
            "batch_size": ParamSpec("int", 64, minimum=1, maximum=65_536),
            "epochs": ParamSpec("int", 50, minimum=1, maximum=10_000),
            "patience": ParamSpec(
                "int",
                10,
                minimum=0,
                maximum=10_000,
                help="epochs without val_loss improvement before stopping; "
                "0 disables early stopping",
            ),
            "class_weight": ParamSpec(
                "choice", "balanced", choices=("balanced",), nullable=True, tasks=(CLASSIFICATION,)
            ),
        },
    }
)
MAX_HIDDEN_LAYERS = 16


@dataclass
class TrainConfig:
    """What to train. Every field but ``target`` and ``model_type`` has a default.

    ``task`` None infers it from the target (:func:`infer_task`). ``features`` None
    uses every column but the target. ``validation_size`` is a fraction of all rows,
    carved from the training part; ``test_size`` likewise. ``positive_class`` picks
    the class that ROC / PR / sensitivity and the threshold refer to in binary problems;
    None means the label that names the event (1 / true / yes / positive), and a binary
    target without one is a :class:`ConfigError`. ``threshold_rule`` (see
    :func:`parse_threshold_rule`) picks the decision threshold on out-of-fold
    predictions over the training part. ``cv_folds`` adds a k-fold cross-validation
    report (mean and std per metric). Excluded columns: ``identifiers`` (column ->
    reason, the dataset profile's flags), ``exclude`` (the caller's), minus
    ``include``; ``include_identifiers`` keeps every flagged column (a shorthand).
    ``n_jobs`` is passed to random forests.
    """

    target: str
    model_type: str
    task: str | None = None
    features: list[str] | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.2
    validation_size: float = 0.1
    random_seed: int = 42
    group_column: str | None = None
    include_identifiers: bool = False
    identifiers: dict[str, str] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    positive_class: Any = None
    threshold_rule: str = DEFAULT_THRESHOLD_RULE
    cv_folds: int | None = None
    device: str = "auto"
    n_jobs: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build a config from JSON-like data; unknown keys raise :class:`ConfigError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in data:
            if key not in names:
                raise ConfigError(str(key), f"unknown field; known fields: {sorted(names)}")
        for key in ("target", "model_type"):
            if key not in data:
                raise ConfigError(key, "is required")
        values = dict(data)
        for key in ("hyperparameters", "identifiers", "exclude", "include"):
            if values.get(key) is None:
                values[key] = {} if key in ("hyperparameters", "identifiers") else []
        if values.get("threshold_rule") is None:
            values["threshold_rule"] = DEFAULT_THRESHOLD_RULE
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def infer_task(series: pd.Series) -> str:
    """Classification for non-numeric or boolean targets and for numeric targets with
    at most 20 distinct integer-like values (0/1, grades, counts); regression otherwise."""
    values = series.dropna()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return CLASSIFICATION
    distinct = pd.unique(values.to_numpy(dtype=float, na_value=np.nan))
    if len(distinct) <= MAX_CLASSIFICATION_LEVELS and bool(np.all(distinct == np.round(distinct))):
        return CLASSIFICATION
    return REGRESSION


def validate_config(config: TrainConfig, columns: Sequence[str] | None = None) -> None:
    """Check a config before training; raise :class:`ConfigError` naming the bad field.

    With ``columns`` (the dataset's column names) the target, features and group column
    are checked to exist. Data-dependent checks (class counts, target values) happen in
    :func:`training.ml.train`.
    """
    if not isinstance(config.target, str) or not config.target:
        raise ConfigError("target", "must be a non-empty column name")
    if config.model_type not in MODEL_TYPES:
        raise ConfigError(
            "model_type", f"must be one of {list(MODEL_TYPES)}; got {config.model_type!r}"
        )
    if config.task is not None:
        if config.task not in TASKS:
            raise ConfigError("task", f"must be one of {list(TASKS)} or null; got {config.task!r}")
        check_model_supports(config.model_type, config.task)
    _check_features(config, columns)
    _check_fraction("test_size", config.test_size)
    _check_fraction("validation_size", config.validation_size)
    if config.test_size + config.validation_size > 0.8:
        raise ConfigError(
            "validation_size",
            "test_size + validation_size must leave at least 20% of rows to train",
        )
    if not _is_int(config.random_seed) or not 0 <= config.random_seed < 2**32:
        raise ConfigError(
            "random_seed", f"must be an integer in [0, 2**32); got {_shown(config.random_seed)}"
        )
    if config.group_column is not None:
        if not isinstance(config.group_column, str) or not config.group_column:
            raise ConfigError("group_column", "must be a column name or null")
        if config.group_column == config.target:
            raise ConfigError("group_column", "must differ from the target")
        if columns is not None and config.group_column not in columns:
            raise ConfigError("group_column", f"unknown column {config.group_column!r}")
    if not isinstance(config.include_identifiers, bool):
        raise ConfigError("include_identifiers", "must be true or false")
    _check_exclusions(config, columns)
    parse_threshold_rule(config.threshold_rule)
    if config.cv_folds is not None and (
        not _is_int(config.cv_folds) or not MIN_CV_FOLDS <= config.cv_folds <= MAX_CV_FOLDS
    ):
        raise ConfigError(
            "cv_folds",
            f"must be an integer from {MIN_CV_FOLDS} to {MAX_CV_FOLDS} or null; "
            f"got {_shown(config.cv_folds)}",
        )
    if config.task == REGRESSION and config.threshold_rule != DEFAULT_THRESHOLD_RULE:
        raise ConfigError("threshold_rule", "applies only to classification")
    if config.device not in DEVICES:
        raise ConfigError("device", f"must be one of {list(DEVICES)}; got {config.device!r}")
    if config.n_jobs is not None and (not _is_int(config.n_jobs) or config.n_jobs == 0):
        raise ConfigError("n_jobs", "must be a non-zero integer (-1: all cores) or null")
    if config.positive_class is not None and config.task == REGRESSION:
        raise ConfigError("positive_class", "applies only to classification")
    check_hyperparameters(config.model_type, config.task, config.hyperparameters)


def parse_threshold_rule(rule: Any) -> tuple[str, float | None]:
    """``"youden"`` -> ("youden", None); ``"sensitivity>=0.9"`` -> ("sensitivity", 0.9);
    ``"specificity>=0.95"`` likewise; ``"0.5"`` -> ("fixed", 0.5). Else ConfigError."""
    if rule == "youden":
        return "youden", None
    if rule in ("0.5", 0.5):
        return "fixed", 0.5
    if isinstance(rule, str):
        for kind in ("sensitivity", "specificity"):
            prefix = f"{kind}>="
            if rule.replace(" ", "").startswith(prefix):
                try:
                    target = float(rule.replace(" ", "")[len(prefix) :])
                except ValueError:
                    break
                if 0 < target < 1:
                    return kind, target
                break
    raise ConfigError(
        "threshold_rule",
        "must be 'youden', 'sensitivity>=X' or 'specificity>=X' with X strictly between "
        f"0 and 1, or '0.5'; got {_shown(rule)}",
    )


def _check_exclusions(config: TrainConfig, columns: Sequence[str] | None) -> None:
    identifiers = config.identifiers
    if not isinstance(identifiers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in identifiers.items()
    ):
        raise ConfigError("identifiers", "must be an object of column -> reason")
    for name in ("exclude", "include"):
        value = getattr(config, name)
        if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
            raise ConfigError(name, "must be a list of column names")
        if columns is not None:
            missing = [c for c in value if c not in columns]
            if missing:
                raise ConfigError(name, f"unknown column(s): {missing}")
        if config.target in value:
            raise ConfigError(name, f"must not list the target {config.target!r}")
    both = sorted(set(config.exclude) & set(config.include))
    if both:
        raise ConfigError("include", f"lists column(s) that exclude also lists: {both}")


def check_model_supports(model_type: str, task: str) -> None:
    """Raise if ``model_type`` cannot do ``task`` (logistic: classification only, ...)."""
    if task not in MODEL_TYPES[model_type]:
        raise ConfigError(
            "task",
            f"{model_type} supports {' and '.join(MODEL_TYPES[model_type])} only, not {task}",
        )


def check_hyperparameters(model_type: str, task: str | None, params: Any) -> None:
    """Validate hyperparameter names, types and ranges for a model type."""
    if not isinstance(params, Mapping):
        raise ConfigError("hyperparameters", "must be an object of name -> value")
    schema = HYPERPARAMETERS[model_type]
    for name, value in params.items():
        spec = schema.get(name)
        if spec is None:
            raise ConfigError(
                f"hyperparameters.{name}",
                f"unknown hyperparameter for {model_type}; known: {', '.join(sorted(schema))}",
            )
        if task is not None and task not in spec.tasks:
            raise ConfigError(f"hyperparameters.{name}", f"applies only to {spec.tasks[0]}")
        _check_value(f"hyperparameters.{name}", value, spec, task)


def resolve_hyperparameters(model_type: str, task: str, params: Mapping[str, Any]) -> dict:
    """The full hyperparameter set for a run: validated values over the defaults."""
    check_hyperparameters(model_type, task, params)
    resolved = {
        name: spec.default_for(task)
        for name, spec in HYPERPARAMETERS[model_type].items()
        if task in spec.tasks
    }
    resolved.update(params)
    if "hidden_layers" in resolved:
        resolved["hidden_layers"] = [int(units) for units in resolved["hidden_layers"]]
    return resolved


def default_hyperparameters(model_type: str, task: str) -> dict[str, Any]:
    """Defaults for a model type and task, e.g. to prefill a form."""
    if model_type not in MODEL_TYPES:
        raise ConfigError("model_type", f"must be one of {list(MODEL_TYPES)}")
    return resolve_hyperparameters(model_type, task, {})


def _check_features(config: TrainConfig, columns: Sequence[str] | None) -> None:
    features = config.features
    if columns is not None and config.target not in columns:
        raise ConfigError("target", f"column {config.target!r} is not in the dataset")
    if features is None:
        return
    if not isinstance(features, list | tuple) or not all(
        isinstance(name, str) for name in features
    ):
        raise ConfigError("features", "must be a list of column names or null")
    if not features:
        raise ConfigError("features", "is empty: list at least one column, or null for all")
    if len(set(features)) != len(features):
        raise ConfigError("features", "lists a column twice")
    if config.target in features:
        raise ConfigError("features", f"must not include the target {config.target!r}")
    if columns is not None:
        missing = [name for name in features if name not in columns]
        if missing:
            raise ConfigError("features", f"unknown column(s): {missing}")


def _check_fraction(name: str, value: Any) -> None:
    if not _is_number(value) or not 0 < value < 1:
        raise ConfigError(name, f"must be a number strictly between 0 and 1; got {_shown(value)}")


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True as a tree depth is a client bug, not a depth of 1.
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    # An int is finite however large (math.isfinite(10**400) raises OverflowError); a
    # range check compares it exactly.
    return _is_int(value) or (isinstance(value, float | np.floating) and math.isfinite(value))


def _shown(value: Any) -> str:
    """`repr(value)`, cut short: a JSON number may have hundreds of digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def _describe(value: Any) -> str:
    return f"{_shown(value)} ({type(value).__name__})"


def _range_text(spec: ParamSpec) -> str:
    parts = []
    if spec.minimum is not None:
        parts.append(f"{'>' if spec.exclusive_minimum else '>='} {spec.minimum:g}")
    if spec.maximum is not None:
        parts.append(f"{'<' if spec.exclusive_maximum else '<='} {spec.maximum:g}")
    return " and ".join(parts)


def _in_range(value: float, spec: ParamSpec) -> bool:
    if spec.minimum is not None and (
        value < spec.minimum or (spec.exclusive_minimum and value == spec.minimum)
    ):
        return False
    return not (
        spec.maximum is not None
        and (value > spec.maximum or (spec.exclusive_maximum and value == spec.maximum))
    )


def _check_value(name: str, value: Any, spec: ParamSpec, task: str | None) -> None:
    if value is None:
        if spec.nullable:
            return
        raise ConfigError(name, "must not be null")
    kind = spec.kind
    if kind == "bool":
        if not isinstance(value, bool | np.bool_):
            raise ConfigError(name, f"must be true or false; got {_describe(value)}")
    elif kind == "int":
        if not _is_int(value):
            raise ConfigError(name, f"must be an integer; got {_describe(value)}")
        if not _in_range(value, spec):
            raise ConfigError(name, f"must be {_range_text(spec)}; got {_shown(value)}")
    elif kind == "float":
        if not _is_number(value):
            raise ConfigError(name, f"must be a finite number; got {_describe(value)}")
        if not _in_range(value, spec):
            raise ConfigError(name, f"must be {_range_text(spec)}; got {_shown(value)}")
    elif kind == "choice":
        choices = spec.choices_for(task)
        if value not in choices:
            null = " or null" if spec.nullable else ""
            raise ConfigError(name, f"must be one of {list(choices)}{null}; got {_describe(value)}")
    elif kind == "max_features":
        if isinstance(value, str):
            if value not in spec.choices_for(task):
                raise ConfigError(
                    name, f"must be 'sqrt', 'log2', a fraction in (0, 1] or null; got {value!r}"
                )
        elif not _is_number(value) or _is_int(value) or not 0 < value <= 1:
            raise ConfigError(
                name,
                f"must be 'sqrt', 'log2', a fraction in (0, 1] or null; got {_describe(value)}",
            )
    elif kind == "int_list":
        if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
            raise ConfigError(name, f"must be a list of integers; got {_describe(value)}")
        if len(value) > MAX_HIDDEN_LAYERS:
            raise ConfigError(name, f"at most {MAX_HIDDEN_LAYERS} layers; got {len(value)}")
        for units in value:
            if not _in_range(units, spec):
                raise ConfigError(
                    name, f"each layer must have {_range_text(spec)} units; got {_shown(units)}"
                )
    else:  # pragma: no cover - a schema typo, not user input
        raise AssertionError(f"unknown parameter kind {kind!r}")
