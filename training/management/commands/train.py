"""`manage.py train`: batch training through the same services as the API."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
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
        "hyperparameters, test_size, random_seed, group_column, include_identifiers, "
        "name). Runs are queued for the workers, or trained in this process with --sync "
        "(also when there is no task queue: no REDIS_URL and no running `make run`). "
        "Ctrl-C stops the runs it is training or waiting for; a second Ctrl-C quits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", help="dataset id or name")
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
        parser.add_argument(
            "--include-identifiers", action="store_true", help="keep every flagged column"
        )
        parser.add_argument("--group-column", help="column for the per-subgroup metrics")
        parser.add_argument("--config", type=Path, help="JSON file with a list of runs")
        parser.add_argument(
            "--user", help="who the runs are recorded as (default: the dataset's uploader)"
        )
        parser.add_argument("--sync", action="store_true", help="train here, not in a worker")
        parser.add_argument("--wait", action="store_true", help="wait for queued runs to end")
        parser.add_argument(
            "--json", action="store_true", help="one JSON object per run on stdout, no bars"
        )

    def handle(self, *args, **options):
        self.quiet = options["verbosity"] == 0 or options["json"]
        self.as_json = options["json"]
        specs = self._specs(options)
        sync = options["sync"]
        if not sync and settings.Q_CLUSTER.get("sync"):
            # django-q2 would run the task inside async_task, out of reach of Ctrl-C's
            # stop and with no workers or browsers told as it goes: say so, train here.
            self.stderr.write(
                "No task queue (REDIS_URL is not set and no `make run` Redis answers at "
                "var/redis-url): training in this process, as with --sync. Browsers see "
                "its epochs only if they share a Redis with it."
            )
            sync = True
        with _StopOnInterrupt(self.stderr) as interrupt:
            runs = []
            for spec in specs:
                runs.append(self._start(spec, options, sync=sync))
                interrupt.runs.append(runs[-1])
            for run in runs:
                self._follow(run, sync=sync, wait=options["wait"] or sync)
        failed = [r for r in runs if TrainingRun.objects.get(pk=r.pk).status == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} run(s) failed.")

    def say(self, line: str) -> None:
        if not self.quiet:
            self.stdout.write(line)

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
        for name in ("positive_class", "threshold_rule", "cv_folds", "group_column"):
            if options[name] is not None:
                spec[name] = options[name]
        if options["include_identifiers"]:
            spec["include_identifiers"] = True
        if options["test_size"] is not None:
            spec["test_size"] = options["test_size"]
        if options["random_seed"] is not None:
            spec["random_seed"] = options["random_seed"]
        return [spec]

    def _start(self, spec: dict, options, *, sync: bool) -> TrainingRun:
        spec = dict(spec)
        dataset = _dataset(spec.pop("dataset", None))
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
        try:
            run = services.run_start(
                user=user, dataset=dataset, config=config, name=name, enqueue=not sync
            )
        except services.RunLimit as exc:
            raise CommandError(str(exc)) from None
        self.say(f"Run {run.pk}: {run.name} ({run.status})")
        return run

    def _follow(self, run: TrainingRun, *, sync: bool, wait: bool) -> None:
        bar = tqdm(total=100, desc=run.name[:40], unit="%", disable=self.quiet)
        with bar:
            if sync:
                services.run_execute(run_id=run.pk, on_progress=_ProgressBar(bar))
            elif wait:
                while True:
                    run.refresh_from_db()
                    fraction = (run.progress or {}).get("fraction") or 0
                    bar.update(round(fraction * 100) - bar.n)
                    if run.status in TERMINAL_STATUSES:
                        break
                    time.sleep(0.5)
        run.refresh_from_db()
        metrics = (run.results or {}).get("metrics") or {}
        headline = {k: metrics[k] for k in HEADLINE if k in metrics}
        if self.as_json:
            row = {
                "id": str(run.pk),
                "name": run.name,
                "status": run.status,
                "error": run.error or None,
                "metrics": headline,
                "model": str(run.model_id) if run.model_id else None,
            }
            self.stdout.write(json.dumps(row))
            return
        line = f"Run {run.pk}: {run.status}"
        if run.error:
            line += f" - {run.error}"
        if headline:
            line += f" {json.dumps(headline)}"
        self.say(line)


HEADLINE = ("accuracy", "roc_auc", "f1_macro", "r2", "rmse", "mae")


def _dataset(key):
    """A dataset by id, or by name where exactly one has it."""
    from datasets.models import Dataset

    if not key:
        raise CommandError("dataset: give a dataset id or name.")
    try:
        return Dataset.objects.get(pk=key)
    except (Dataset.DoesNotExist, ValueError, ValidationError):
        pass
    named = list(Dataset.objects.filter(name=key).order_by("created_at")[:10])
    if len(named) == 1:
        return named[0]
    if not named:
        raise CommandError(f"dataset: no dataset with the id or name {key!r}.")
    ids = ", ".join(str(d.pk) for d in named)
    raise CommandError(f"dataset: {len(named)} datasets are named {key!r}; give an id: {ids}.")


class _StopOnInterrupt:
    """Ctrl-C asks the command's unfinished runs to stop, as the API's stop does: they
    end `stopped` within about 2 s with what they had, and the command reports them.
    A second Ctrl-C quits at once. The stop is written from a thread of its own: the
    signal may come in the middle of the main thread's own database work."""

    def __init__(self, stderr) -> None:
        self.stderr = stderr
        self.runs: list[TrainingRun] = []
        self.interrupted = False
        self.previous = None

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum, frame) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        self.stderr.write("Stopping (Ctrl-C again to quit at once)...")
        threading.Thread(target=self._stop_all, name="train-stop", daemon=True).start()

    def _stop_all(self) -> None:
        try:
            for run in self.runs:
                with contextlib.suppress(services.RunConflict):  # it had finished already
                    services.run_stop(run=run, user=run.created_by)
        finally:
            connection.close()


class _ProgressBar:
    def __init__(self, bar):
        self.bar = bar

    def __call__(self, progress: dict) -> None:
        fraction = progress.get("fraction") or 0
        self.bar.update(max(0, round(fraction * 100) - self.bar.n))
