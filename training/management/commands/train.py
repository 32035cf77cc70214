"""`manage.py train`: batch training through the same services as the API."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from training import services
from training.models import TERMINAL_STATUSES, TrainingRun

MODEL_TYPES = [
    "neural_network",
    "logistic_regression",
    "linear_regression",
    "decision_tree",
    "random_forest",
    "gradient_boosting",
]


class Command(BaseCommand):
    help = (
        "Train models: one run from the flags, or a list of runs from --config runs.json "
        "(a JSON list of objects with dataset, target, model_type and optional task, "
        "features, exclude, include, positive_class, threshold_rule, cv_folds, "
        "hyperparameters, test_size, random_seed, name). Runs are queued for "
        "the workers, or trained in this process with --sync."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", help="dataset id")
        parser.add_argument("--target")
        parser.add_argument("--model-type", choices=MODEL_TYPES)
        parser.add_argument("--task", choices=["classification", "regression"])
        parser.add_argument("--hyperparameters", default="{}", help="JSON object")
        parser.add_argument("--features", help="comma-separated column names")
        parser.add_argument("--test-size", type=float)
        parser.add_argument("--random-seed", type=int)
        parser.add_argument("--name", default="")
        parser.add_argument("--positive-class", help="the class meaning the event (binary)")
        parser.add_argument(
            "--threshold-rule", help="youden (default), sensitivity>=X, specificity>=X or 0.5"
        )
        parser.add_argument("--cv-folds", type=int, help="k-fold cross-validation report, 2..10")
        parser.add_argument("--exclude", help="comma-separated columns to leave out")
        parser.add_argument("--include", help="comma-separated flagged columns to keep")
        parser.add_argument("--config", type=Path, help="JSON file with a list of runs")
        parser.add_argument(
            "--user", help="who the runs are recorded as (default: the dataset's uploader)"
        )
        parser.add_argument("--sync", action="store_true", help="train here, not in a worker")
        parser.add_argument("--wait", action="store_true", help="wait for queued runs to end")

    def handle(self, *args, **options):
        specs = self._specs(options)
        runs = [self._start(spec, options) for spec in specs]
        for run in runs:
            self._follow(run, sync=options["sync"], wait=options["wait"] or options["sync"])
        failed = [r for r in runs if TrainingRun.objects.get(pk=r.pk).status == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} run(s) failed.")

    def _specs(self, options) -> list[dict]:
        if options["config"]:
            try:
                specs = json.loads(options["config"].read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise CommandError(f"--config: cannot read {options['config']}: {exc}") from None
            if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
                raise CommandError("--config must hold a JSON list of objects.")
            return specs
        for flag in ("dataset", "target", "model_type"):
            if not options[flag]:
                raise CommandError(f"--{flag.replace('_', '-')} is required (or use --config).")
        try:
            hyperparameters = json.loads(options["hyperparameters"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--hyperparameters is not JSON: {exc}") from None
        spec = {
            "dataset": options["dataset"],
            "target": options["target"],
            "model_type": options["model_type"],
            "task": options["task"],
            "hyperparameters": hyperparameters,
            "name": options["name"],
        }
        for name in ("features", "exclude", "include"):
            if options[name]:
                spec[name] = [f.strip() for f in options[name].split(",") if f.strip()]
        for name in ("positive_class", "threshold_rule", "cv_folds"):
            if options[name] is not None:
                spec[name] = options[name]
        if options["test_size"] is not None:
            spec["test_size"] = options["test_size"]
        if options["random_seed"] is not None:
            spec["random_seed"] = options["random_seed"]
        return [spec]

    def _start(self, spec: dict, options) -> TrainingRun:
        from datasets.models import Dataset

        spec = dict(spec)
        try:
            dataset = Dataset.objects.get(pk=spec.pop("dataset"))
        except (Dataset.DoesNotExist, ValueError, KeyError, ValidationError):
            raise CommandError("dataset: no dataset with that id.") from None
        user = dataset.created_by
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no user named {options['user']!r}.")
        name = spec.pop("name", "") or ""
        try:
            config = services.run_config_build(dataset=dataset, data=spec, user=user)
        except services.RunConfigError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        run = services.run_start(
            user=user, dataset=dataset, config=config, name=name, enqueue=not options["sync"]
        )
        self.stdout.write(f"Run {run.pk}: {run.name} ({run.status})")
        return run

    def _follow(self, run: TrainingRun, *, sync: bool, wait: bool) -> None:
        if sync:
            with tqdm(total=100, desc=run.name[:40], unit="%") as bar:
                services.run_execute(run_id=run.pk, on_progress=_ProgressBar(bar))
        elif wait:
            with tqdm(total=100, desc=run.name[:40], unit="%") as bar:
                while True:
                    run.refresh_from_db()
                    fraction = (run.progress or {}).get("fraction") or 0
                    bar.update(round(fraction * 100) - bar.n)
                    if run.status in TERMINAL_STATUSES:
                        break
                    time.sleep(1)
        run.refresh_from_db()
        line = f"Run {run.pk}: {run.status}"
        if run.error:
            line += f" - {run.error}"
        if run.results:
            metrics = run.results.get("metrics") or {}
            headline = ("accuracy", "roc_auc", "f1_macro", "r2", "rmse", "mae")
            line += f" {json.dumps({k: metrics[k] for k in headline if k in metrics})}"
        self.stdout.write(line)


class _ProgressBar:
    def __init__(self, bar):
        self.bar = bar

    def __call__(self, progress: dict) -> None:
        fraction = progress.get("fraction") or 0
        self.bar.update(max(0, round(fraction * 100) - self.bar.n))
