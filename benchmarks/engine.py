"""Engine overhead: ``training.ml.train`` against a bare scikit-learn / torch script.

Both arms get the same synthetic DataFrame (numeric columns with gaps, categoricals,
a binary target), make the same seeded stratified train / validation / test split,
fit the same preprocessing and model with the same hyperparameters, and score the
test rows; the engine additionally reports every stage and computes all its evaluation
artefacts (curves, threshold, permutation importance, graph). Each arm runs in a fresh
spawned process (no shared warm caches, a clean peak-RSS reading, no torch in a forking
parent), interleaved, ``--repeats`` times. Native thread pools (OpenMP, BLAS, torch) get
``--threads`` threads in both arms.

``<model>_ratio`` compares the smallest CPU time (all threads of the arm's process) of
each arm: on a shared machine other processes stretch wall time by tens of percent
from one run to the next, CPU time far less. ``<model>_wall_ratio`` is the same for wall
time. The last line printed is one JSON object.

    .venv/bin/python benchmarks/engine.py            # 200,000 rows x 30 columns
    .venv/bin/python benchmarks/engine.py --rows 20000 --repeats 1
    python benchmarks/engine.py --models neural_network --device cuda   # on a GPU machine
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = "outcome"
N_NUMERIC = 24
CATEGORY_COUNTS = (3, 4, 5, 6, 8, 12)
TEST_SIZE = 0.2
VALIDATION_SIZE = 0.1
MODELS = ("random_forest", "gradient_boosting", "neural_network")


def make_data(rows: int, seed: int = 0) -> pd.DataFrame:
    """rows x 30 features: 24 numeric (3% missing in six of them), 6 categorical
    (2% missing), and a binary target (about 30% positive) with an interaction."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, N_NUMERIC))
    logit = numeric[:, :8] @ rng.normal(size=8) + 0.8 * numeric[:, 8] * numeric[:, 9] - 1.0
    frame = {}
    for j, count in enumerate(CATEGORY_COUNTS):
        codes = rng.integers(0, count, size=rows)
        logit += rng.normal(scale=0.5, size=count)[codes]
        values = np.array([f"c{j}_{v}" for v in range(count)], dtype=object)[codes]
        values[rng.random(rows) < 0.02] = None
        frame[f"cat_{j}"] = values
    for i in range(N_NUMERIC):
        column = numeric[:, i].copy()
        if i % 4 == 0:
            column[rng.random(rows) < 0.03] = np.nan
        frame[f"num_{i}"] = column
    frame[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(frame)


def hyperparameters(model: str, args: argparse.Namespace) -> dict[str, Any]:
    if model == "random_forest":
        return {"n_estimators": args.trees, "max_depth": args.max_depth}
    if model == "gradient_boosting":
        return {"max_iter": args.iterations}
    return {
        "epochs": args.epochs,
        "hidden_layers": [64, 32],
        "batch_size": 64,
        "learning_rate": 1e-3,
        "patience": 10,
    }


# --- the bare arm: what a data scientist would write by hand -------------------------


def _bare_split(df: pd.DataFrame, seed: int) -> tuple[Any, ...]:
    from sklearn.model_selection import train_test_split

    X = df.drop(columns=[TARGET])
    y = df[TARGET].to_numpy()
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=seed, stratify=y
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest,
        y_rest,
        test_size=VALIDATION_SIZE / (1 - TEST_SIZE),
        random_state=seed,
        stratify=y_rest,
    )
    return X_train, X_val, X_test, y_train, y_val, y_test


def _bare_preprocessor(X: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in X.columns if c.startswith("num_")]
    categorical = [c for c in X.columns if c.startswith("cat_")]
    return ColumnTransformer(
        [
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            ),
            (
                "cat",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                        ),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="ignore", max_categories=30, sparse_output=False
                            ),
                        ),
                    ]
                ),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )


def _scores(
    y_test: np.ndarray, proba: np.ndarray, classes: np.ndarray, y_train: np.ndarray
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    counts = [int(np.sum(y_train == c)) for c in classes]
    positive = 0 if counts[0] < counts[1] else 1  # the engine's default: minority class
    predicted = classes[np.argmax(proba, axis=1)]
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "roc_auc": float(roc_auc_score(y_test == classes[positive], proba[:, positive])),
    }


def bare_sklearn(
    df: pd.DataFrame, model: str, params: dict[str, Any], seed: int, n_jobs: int | None
) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    X_train, _, X_test, y_train, _, y_test = _bare_split(df, seed)
    preprocess = _bare_preprocessor(X_train)
    Xt_train = preprocess.fit_transform(X_train)
    Xt_test = preprocess.transform(X_test)
    if model == "random_forest":
        estimator = RandomForestClassifier(
            n_estimators=params["n_estimators"],
            max_depth=params["max_depth"],
            max_features="sqrt",
            random_state=seed,
            n_jobs=n_jobs,
        )
    else:
        estimator = HistGradientBoostingClassifier(
            max_iter=params["max_iter"], early_stopping=False, random_state=seed
        )
    estimator.fit(Xt_train, y_train)
    return _scores(y_test, estimator.predict_proba(Xt_test), estimator.classes_, y_train)


def bare_torch(
    df: pd.DataFrame, params: dict[str, Any], seed: int, device: str = "cpu"
) -> dict[str, float]:
    import torch
    from scipy.special import softmax
    from torch import nn

    def tensor(values: np.ndarray, dtype: Any) -> Any:
        return torch.as_tensor(values, dtype=dtype, device=device)

    X_train, X_val, X_test, y_train, y_val, y_test = _bare_split(df, seed)
    preprocess = _bare_preprocessor(X_train)
    Xt_train = tensor(preprocess.fit_transform(X_train), torch.float32)
    Xt_val = tensor(preprocess.transform(X_val), torch.float32)
    Xt_test = tensor(preprocess.transform(X_test), torch.float32)
    classes, encoded = np.unique(y_train, return_inverse=True)
    y_t = tensor(encoded, torch.int64)
    y_v = tensor(np.searchsorted(classes, y_val), torch.int64)
    counts = np.bincount(encoded)
    weight = tensor(len(encoded) / (len(classes) * counts), torch.float32)

    torch.manual_seed(seed)
    hidden = params["hidden_layers"]
    layers: list[nn.Module] = []
    width = Xt_train.shape[1]
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    model = nn.Sequential(*layers, nn.Linear(width, len(classes))).to(device)
    criterion = nn.CrossEntropyLoss(weight=weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=params["learning_rate"])
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    n, batch = len(Xt_train), params["batch_size"]
    best, best_state, waited = float("inf"), None, 0
    for _ in range(params["epochs"]):
        model.train()
        order = torch.randperm(n, generator=generator, device=device)
        X_epoch, y_epoch = Xt_train[order], y_t[order]
        for start in range(0, n, batch):
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(X_epoch[start : start + batch]), y_epoch[start : start + batch])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(Xt_val), y_v).item()
        if val_loss < best:
            best, waited = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= params["patience"]:
                break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        logits = model(Xt_test).cpu().numpy()
    return _scores(y_test, softmax(logits.astype(np.float64), axis=1), classes, y_train)


# --- the engine arm ----------------------------------------------------------------


def engine_train(
    df: pd.DataFrame,
    model: str,
    params: dict[str, Any],
    seed: int,
    n_jobs: int | None,
    device: str = "cpu",
) -> dict[str, float]:
    from training.ml import TrainConfig, train

    config = TrainConfig(
        target=TARGET,
        model_type=model,
        hyperparameters=params,
        test_size=TEST_SIZE,
        validation_size=VALIDATION_SIZE,
        random_seed=seed,
        n_jobs=n_jobs,
        device=device,
    )
    result = train(df, config, on_epoch=lambda metrics: None)
    return {"accuracy": result.metrics["accuracy"], "roc_auc": result.metrics["roc_auc"]}


# --- harness ---------------------------------------------------------------------


def _rss_mb(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return None


def run_arm(arm: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    """One timed arm in this (fresh) process; data generation and imports untimed."""
    import sklearn.ensemble  # noqa: F401  (import cost is not what we measure)
    from threadpoolctl import threadpool_limits

    if model == "neural_network":
        import torch

        torch.set_num_threads(args.threads)
    import training.ml  # noqa: F401

    df = make_data(args.rows)
    params = hyperparameters(model, args)
    before = _rss_mb("VmRSS")
    with contextlib.suppress(OSError):  # reset the high-water mark: the peak is this arm's
        Path("/proc/self/clear_refs").write_text("5")
    with threadpool_limits(limits=args.threads):
        started, cpu_started = time.perf_counter(), time.process_time()
        if arm == "engine":
            metrics = engine_train(df, model, params, args.seed, args.n_jobs, args.device)
        elif model == "neural_network":
            metrics = bare_torch(df, params, args.seed, args.device)
        else:
            metrics = bare_sklearn(df, model, params, args.seed, args.n_jobs)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_before_mb": before,
        "peak_rss_mb": _rss_mb("VmHWM"),
        "metrics": metrics,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-jobs", type=int, default=1, help="random forest n_jobs, both arms")
    parser.add_argument(
        "--threads", type=int, default=1, help="OpenMP / BLAS / torch threads, both arms"
    )
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="where the neural network trains, both arms (compare wall_ratio on cuda: "
        "CPU time does not count the GPU's work)",
    )
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    context = multiprocessing.get_context("spawn")
    summary: dict[str, Any] = {
        "rows": args.rows,
        "columns": N_NUMERIC + len(CATEGORY_COUNTS),
        "repeats": args.repeats,
        "threads": args.threads,
        "n_jobs": args.n_jobs,
        "device": args.device,
        "ratio_of": "smallest CPU time per arm",
    }
    for model in models:
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "engine": []}
        for repeat in range(args.repeats):
            # Alternate which arm goes first so drift in machine load hits both.
            for arm in ("bare", "engine") if repeat % 2 == 0 else ("engine", "bare"):
                with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                    run = pool.submit(run_arm, arm, model, args).result()
                runs[arm].append(run)
                print(
                    f"{model:18s} {arm:6s} run {repeat + 1}: wall {run['seconds']:7.2f} s  "
                    f"cpu {run['cpu_seconds']:7.2f} s  peak RSS {run['peak_rss_mb']:6.0f} MiB"
                    f"  {run['metrics']}",
                    flush=True,
                )
        cpu = {arm: min(r["cpu_seconds"] for r in arm_runs) for arm, arm_runs in runs.items()}
        wall = {arm: min(r["seconds"] for r in arm_runs) for arm, arm_runs in runs.items()}
        bare_metrics, engine_metrics = runs["bare"][0]["metrics"], runs["engine"][0]["metrics"]
        equal = all(
            run["metrics"] == bare_metrics for arm_runs in runs.values() for run in arm_runs
        )
        print(
            f"{model:18s} cpu: bare {cpu['bare']:.2f} s, engine {cpu['engine']:.2f} s, "
            f"ratio {cpu['engine'] / cpu['bare']:.3f} | wall: bare {wall['bare']:.2f} s, "
            f"engine {wall['engine']:.2f} s, ratio {wall['engine'] / wall['bare']:.3f} | "
            f"metrics equal: {equal}",
            flush=True,
        )
        summary[f"{model}_ratio"] = round(cpu["engine"] / cpu["bare"], 4)
        summary[f"{model}_wall_ratio"] = round(wall["engine"] / wall["bare"], 4)
        summary[model] = {
            "bare_cpu_seconds": round(cpu["bare"], 3),
            "engine_cpu_seconds": round(cpu["engine"], 3),
            "bare_wall_seconds": round(wall["bare"], 3),
            "engine_wall_seconds": round(wall["engine"], 3),
            "bare_runs_cpu": [round(r["cpu_seconds"], 3) for r in runs["bare"]],
            "engine_runs_cpu": [round(r["cpu_seconds"], 3) for r in runs["engine"]],
            "bare_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["bare"]), 1),
            "engine_peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs["engine"]), 1),
            "bare_metrics": bare_metrics,
            "engine_metrics": engine_metrics,
            "metrics_equal": equal,
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
