"""PyTorch multilayer perceptrons built from a JSON spec, wrapped as scikit-learn estimators.

torch is imported inside functions only: importing ``training.ml`` must not load it,
because workers fork and a torch-initialised parent can deadlock its children.

A spec is plain JSON, so the model registry can rebuild the module and load
safetensors weights into it::

    {"format": "medilytica.mlp", "version": 1, "task": "classification",
     "input_size": 30, "output_size": 2, "hidden_layers": [64, 32],
     "activation": "relu", "dropout": 0.1, "batch_norm": false,
     "target_mean": null, "target_scale": null}

``target_mean`` / ``target_scale`` undo the target standardisation of regressors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from .config import ACTIVATIONS, CLASSIFICATION, REGRESSION, TASKS, ConfigError
from .estimators import STAGE_SAMPLE_ROWS

if TYPE_CHECKING:
    import torch

    from .progress import Progress

SPEC_FORMAT = "medilytica.mlp"
SPEC_VERSION = 1
_PREDICT_CHUNK = 65_536


def make_spec(
    *,
    task: str,
    input_size: int,
    output_size: int,
    hidden_layers: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    target_mean: float | None = None,
    target_scale: float | None = None,
) -> dict[str, Any]:
    """A validated architecture spec (see the module docstring)."""
    spec = {
        "format": SPEC_FORMAT,
        "version": SPEC_VERSION,
        "task": task,
        "input_size": int(input_size),
        "output_size": int(output_size),
        "hidden_layers": [int(units) for units in hidden_layers],
        "activation": activation,
        "dropout": float(dropout),
        "batch_norm": bool(batch_norm),
        "target_mean": None if target_mean is None else float(target_mean),
        "target_scale": None if target_scale is None else float(target_scale),
    }
    validate_spec(spec)
    return spec


def validate_spec(spec: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` (field ``spec.<key>``) unless ``spec`` describes an MLP."""
    if not isinstance(spec, Mapping):
        raise ConfigError("spec", "must be an object")
    if spec.get("format") != SPEC_FORMAT or spec.get("version") != SPEC_VERSION:
        raise ConfigError("spec.format", f"expected {SPEC_FORMAT!r} version {SPEC_VERSION}")
    if spec.get("task") not in TASKS:
        raise ConfigError("spec.task", f"must be one of {list(TASKS)}")
    for key in ("input_size", "output_size"):
        value = spec.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"spec.{key}", "must be a positive integer")
    layers = spec.get("hidden_layers")
    if not isinstance(layers, list | tuple) or not all(
        isinstance(units, int) and not isinstance(units, bool) and units >= 1 for units in layers
    ):
        raise ConfigError("spec.hidden_layers", "must be a list of positive integers")
    if spec.get("activation") not in ACTIVATIONS:
        raise ConfigError("spec.activation", f"must be one of {list(ACTIVATIONS)}")
    dropout = spec.get("dropout")
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise ConfigError("spec.dropout", "must be a number in [0, 1)")
    if not isinstance(spec.get("batch_norm"), bool):
        raise ConfigError("spec.batch_norm", "must be true or false")
    if spec["task"] == REGRESSION:
        if spec["output_size"] != 1:
            raise ConfigError("spec.output_size", "must be 1 for regression")
        scale = spec.get("target_scale")
        if (
            not isinstance(spec.get("target_mean"), int | float)
            or not isinstance(scale, int | float)
            or not scale > 0
        ):
            raise ConfigError(
                "spec.target_scale", "regression needs target_mean and a positive target_scale"
            )


def build_mlp(spec: Mapping[str, Any]) -> torch.nn.Sequential:
    """The untrained module for a spec: per hidden layer Linear, [BatchNorm1d],
    activation, [Dropout]; then a Linear output (logits, or the standardised target)."""
    from torch import nn

    validate_spec(spec)
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}
    layers: list[nn.Module] = []
    width = spec["input_size"]
    for units in spec["hidden_layers"]:
        layers.append(nn.Linear(width, units))
        if spec["batch_norm"]:
            layers.append(nn.BatchNorm1d(units))
        layers.append(activations[spec["activation"]]())
        if spec["dropout"] > 0:
            layers.append(nn.Dropout(spec["dropout"]))
        width = units
    layers.append(nn.Linear(width, spec["output_size"]))
    return nn.Sequential(*layers)


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without a GPU raises."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "cuda was requested but torch sees no GPU")
    return device


#: The network hyperparameters the estimators take (the engine passes these through).
NN_PARAMS = (
    "hidden_layers",
    "activation",
    "dropout",
    "batch_norm",
    "learning_rate",
    "weight_decay",
    "batch_size",
    "epochs",
    "patience",
    "class_weight",
)


class _TorchMLP(BaseEstimator):
    """Shared fit / forward of :class:`TorchMLPClassifier` and :class:`TorchMLPRegressor`.

    After ``fit`` (or :meth:`from_state`): ``module`` (the torch module, on CPU, in
    eval mode), ``spec`` (its JSON architecture), ``history_`` (per-epoch metrics),
    ``best_epoch_`` and ``n_features_in_``.
    """

    _task: ClassVar[str]

    def __init__(
        self,
        hidden_layers: Sequence[int] = (64, 32),
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        epochs: int = 50,
        patience: int = 10,
        class_weight: str | None = None,
        random_state: int | None = 0,
        device: str = "cpu",
    ) -> None:
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.class_weight = class_weight
        self.random_state = random_state
        self.device = device

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "module", None) is not None

    @classmethod
    def from_state(
        cls,
        spec: Mapping[str, Any],
        state_dict: Mapping[str, Any],
        classes: Sequence[Any] | None = None,
    ) -> _TorchMLP:
        """A fitted estimator from a spec, its weights (tensors or arrays) and, for
        classifiers, the class labels in output order."""
        import torch

        validate_spec(spec)
        if spec["task"] != cls._task:
            raise ConfigError("spec.task", f"{cls.__name__} needs a {cls._task} spec")
        estimator = cls(
            hidden_layers=tuple(spec["hidden_layers"]),
            activation=spec["activation"],
            dropout=spec["dropout"],
            batch_norm=spec["batch_norm"],
        )
        module = build_mlp(spec)
        module.load_state_dict(
            {
                name: value
                if isinstance(value, torch.Tensor)
                else torch.as_tensor(np.asarray(value))
                for name, value in state_dict.items()
            }
        )
        estimator._set_fitted(module.eval(), dict(spec), history=[], best_epoch=None)
        estimator._restore_targets(spec, classes)
        return estimator

    def _set_fitted(
        self, module: Any, spec: dict[str, Any], *, history: list[dict], best_epoch: int | None
    ) -> None:
        self.module = module
        self.spec = spec
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_features_in_ = spec["input_size"]

    # Subclasses encode targets, define the loss and decode outputs.
    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _encode_with_fitted(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _restore_targets(self, spec: Mapping[str, Any], classes: Sequence[Any] | None) -> None:
        raise NotImplementedError

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        X_val: Any = None,
        y_val: Any = None,
        progress: Progress | None = None,
    ) -> _TorchMLP:
        """Train with Adam on in-memory tensors.

        With ``X_val`` / ``y_val``: metrics per epoch, early stopping after ``patience``
        epochs without a lower validation loss, and the best epoch's weights kept.
        ``progress`` (engine use) receives each epoch and is polled for a stop.
        """
        import torch

        X = np.asarray(X, dtype=np.float32)
        targets, spec_extra = self._encode_targets(np.asarray(y))
        spec = make_spec(
            task=self._task,
            input_size=X.shape[1],
            hidden_layers=self.hidden_layers,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            **spec_extra,
        )
        has_val = X_val is not None and y_val is not None and len(y_val) > 0
        device = resolve_device(self.device)
        seed = 0 if self.random_state is None else int(self.random_state)
        fork_devices = [torch.cuda.current_device()] if device.startswith("cuda") else []
        # fork_rng: seeding must not leak into the caller's global torch RNG state.
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            module = build_mlp(spec).to(device)
            train = _tensors(X, targets, device)
            val = None
            if has_val:
                val = _tensors(
                    np.asarray(X_val, dtype=np.float32),
                    self._encode_with_fitted(np.asarray(y_val)),
                    device,
                )
            rows = np.arange(len(X))
            if len(X) > STAGE_SAMPLE_ROWS:
                rows = np.sort(
                    np.random.default_rng(seed).choice(len(X), STAGE_SAMPLE_ROWS, replace=False)
                )
            sample = (
                train[0][torch.as_tensor(rows, device=device)],
                train[1][torch.as_tensor(rows, device=device)],
            )
            history, best_epoch = self._train_loop(
                module, train, val, sample, device, seed, progress
            )
        self._set_fitted(module.cpu().eval(), spec, history=history, best_epoch=best_epoch)
        return self

    def _criterion(self, device: str) -> Any:
        raise NotImplementedError

    def _epoch_metrics(
        self, criterion: Any, outputs: Any, targets: Any, prefix: str
    ) -> dict[str, float]:
        raise NotImplementedError

    def _train_loop(
        self,
        module: Any,
        train: tuple[Any, Any],
        val: tuple[Any, Any] | None,
        sample: tuple[Any, Any],
        device: str,
        seed: int,
        progress: Progress | None,
    ) -> tuple[list[dict], int | None]:
        import torch

        X_train, y_train = train
        n = len(X_train)
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        optimizer = torch.optim.Adam(
            module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        criterion = self._criterion(device)
        batch_size = self.batch_size
        history: list[dict] = []
        best_loss, best_epoch, best_state, waited = math.inf, None, None, 0
        for epoch in range(1, self.epochs + 1):
            if progress is not None and progress.stop_requested():
                break
            module.train()
            order = torch.randperm(n, generator=generator, device=device)
            X_epoch, y_epoch = X_train[order], y_train[order]
            stopped = False  # inside the epoch: its batches so far make the last stage
            for start in range(0, n, batch_size):
                if start and progress is not None and progress.stop_polled():
                    stopped = True
                    break
                X_batch = X_epoch[start : start + batch_size]
                if self.batch_norm and len(X_batch) == 1:
                    continue  # BatchNorm cannot normalise a single row
                optimizer.zero_grad(set_to_none=True)
                loss = criterion(module(X_batch), y_epoch[start : start + batch_size])
                loss.backward()
                optimizer.step()
            module.eval()
            with torch.no_grad():
                metrics = self._epoch_metrics(criterion, _forward(module, sample[0]), sample[1], "")
                if val is not None:
                    metrics.update(
                        self._epoch_metrics(criterion, _forward(module, val[0]), val[1], "val_")
                    )
            early_stop = False
            if val is not None:
                # Keep the weights of the epoch with the lowest validation loss.
                if metrics["val_loss"] < best_loss:
                    best_loss, best_epoch, waited = metrics["val_loss"], epoch, 0
                    best_state = {
                        name: tensor.detach().clone()
                        for name, tensor in module.state_dict().items()
                    }
                else:
                    waited += 1
                    early_stop = 0 < self.patience <= waited
            history.append({"epoch": epoch, **metrics})
            if progress is not None:
                progress.report(
                    stage=epoch,
                    total_stages=epoch if early_stop else self.epochs,
                    metrics=metrics,
                    unit="epochs",
                    completed=epoch,
                    total=self.epochs,
                )
            if early_stop or stopped:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        return history, best_epoch

    def _outputs(self, X: Any) -> np.ndarray:
        import torch

        if not self.__sklearn_is_fitted__():
            raise ValueError(f"this {type(self).__name__} is not fitted yet")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.spec["input_size"]:
            raise ValueError(f"expected {self.spec['input_size']} features, got shape {X.shape}")
        with torch.no_grad():
            return _forward(self.module, torch.from_numpy(X)).numpy()


def _tensors(X: np.ndarray, targets: np.ndarray, device: str) -> tuple[Any, Any]:
    import torch

    return torch.as_tensor(X, device=device), torch.as_tensor(targets, device=device)


def _forward(module: Any, X: Any) -> Any:
    import torch

    if len(X) <= _PREDICT_CHUNK:
        return module(X)
    return torch.cat(
        [module(X[start : start + _PREDICT_CHUNK]) for start in range(0, len(X), _PREDICT_CHUNK)]
    )


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    """MLP classifier: softmax over one logit per class, (class-weighted) cross-entropy.

    ``class_weight='balanced'`` weights each class by n / (n_classes * count).
    """

    _task = CLASSIFICATION

    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("a classifier needs at least two classes")
        counts = np.bincount(encoded, minlength=len(self.classes_))
        self.class_weights_ = (
            len(y) / (len(self.classes_) * counts) if self.class_weight == "balanced" else None
        )
        return encoded.astype(np.int64), {"output_size": len(self.classes_)}

    def _encode_with_fitted(self, y: np.ndarray) -> np.ndarray:
        encoded = np.searchsorted(self.classes_, y)
        encoded = np.clip(encoded, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[encoded] == y):
            raise ValueError("validation labels include a class absent from training")
        return encoded.astype(np.int64)

    def _restore_targets(self, spec: Mapping[str, Any], classes: Sequence[Any] | None) -> None:
        if classes is None or len(classes) != spec["output_size"]:
            raise ConfigError(
                "classes", f"a classifier needs {spec['output_size']} class labels in output order"
            )
        self.classes_ = np.asarray(classes)
        self.class_weights_ = None

    def _criterion(self, device: str) -> Any:
        import torch

        weight = None
        if self.class_weights_ is not None:
            weight = torch.as_tensor(self.class_weights_, dtype=torch.float32, device=device)
        return torch.nn.CrossEntropyLoss(weight=weight)

    def _epoch_metrics(
        self, criterion: Any, outputs: Any, targets: Any, prefix: str
    ) -> dict[str, float]:
        accuracy = (outputs.argmax(dim=1) == targets).float().mean().item()
        return {f"{prefix}loss": criterion(outputs, targets).item(), f"{prefix}accuracy": accuracy}

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        return softmax(self._outputs(X).astype(np.float64), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label per row."""
        return self.classes_[np.argmax(self._outputs(X), axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    """MLP regressor trained with MSE on the standardised target.

    Reported ``loss`` / ``val_loss`` are MSE and ``mae`` / ``val_mae`` MAE, in target units.
    """

    _task = REGRESSION

    def _encode_targets(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        y = y.astype(np.float64)
        mean = float(np.mean(y))
        scale = float(np.std(y)) or 1.0
        self.target_mean_, self.target_scale_ = mean, scale
        encoded = ((y - mean) / scale).astype(np.float32).reshape(-1, 1)
        return encoded, {"output_size": 1, "target_mean": mean, "target_scale": scale}

    def _encode_with_fitted(self, y: np.ndarray) -> np.ndarray:
        scaled = (y.astype(np.float64) - self.target_mean_) / self.target_scale_
        return scaled.astype(np.float32).reshape(-1, 1)

    def _restore_targets(self, spec: Mapping[str, Any], classes: Sequence[Any] | None) -> None:
        self.target_mean_ = float(spec["target_mean"])
        self.target_scale_ = float(spec["target_scale"])

    def _criterion(self, device: str) -> Any:
        import torch

        return torch.nn.MSELoss()

    def _epoch_metrics(
        self, criterion: Any, outputs: Any, targets: Any, prefix: str
    ) -> dict[str, float]:
        error = (outputs - targets) * self.target_scale_
        return {
            f"{prefix}loss": (error**2).mean().item(),
            f"{prefix}mae": error.abs().mean().item(),
        }

    def predict(self, X: Any) -> np.ndarray:
        """Predictions in target units."""
        return self._outputs(X)[:, 0].astype(np.float64) * self.target_scale_ + self.target_mean_


def mlp_from_state(
    spec: Mapping[str, Any], state_dict: Mapping[str, Any], classes: Sequence[Any] | None = None
) -> TorchMLPClassifier | TorchMLPRegressor:
    """Rebuild a fitted MLP estimator from a stored spec, weights and class labels."""
    validate_spec(spec)
    cls = TorchMLPClassifier if spec["task"] == CLASSIFICATION else TorchMLPRegressor
    return cls.from_state(spec, state_dict, classes)
