"""Training runs: start, stop, execute in a worker, watch over.

Every write to a run goes through here, whether it comes from a view, the
worker task, the watchdog schedule, the admin or `manage.py train`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
import traceback as tb
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import psutil
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from collaboration.models import AuditEvent, Workspace
from collaboration.services import audit_record, notify_workspace

from .events import metrics_message, training_group
from .models import ACTIVE_STATUSES, TERMINAL_STATUSES, RunMetric, RunStatus, TrainingRun
from .streaming import active_sender

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 5.0  # seconds between a running worker's heartbeats
# Who audit rows written outside a request are for (DESIGN.md section 7): the worker
# acts for the run's creator; the watchdog and the queue hand-off for no person.
WORKER = "worker"
SYSTEM = "system"


class RunConflict(Exception):
    """The run is in a state that does not allow the action (409)."""


class RunLimit(Exception):
    """The user or the workspace has as many runs queued or running as allowed."""


class RunConfigError(Exception):
    """The training config is invalid; `field` names the offending input (400)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- broadcasting --------------------------------------------------------------------


def run_broadcast(*, run_id, message: dict) -> None:
    """Send a stream message to the run's watchers once the current transaction commits."""

    # Encoded once here, not once per watching socket in every server process.
    event = {
        "type": "training.message",
        "kind": message["type"],
        "seq": message.get("seq"),
        "text": json.dumps(message),
    }
    group = training_group(run_id)

    def send() -> None:
        sender = active_sender()
        if sender is not None:  # a worker process: hand over and keep training
            sender.send(group, event)
            return
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:  # the database already has it; clients catch up from the snapshot
            logger.warning("training: broadcast to run %s failed", run_id, exc_info=True)

    transaction.on_commit(send)


def _status_message(run: TrainingRun) -> dict:
    message = {"type": "status", "status": run.status}
    if run.error:
        message["error"] = run.error
    return message


# --- start and stop -------------------------------------------------------------------


def run_config_build(*, dataset, data: dict[str, Any], user, request=None) -> dict[str, Any]:
    """Validate a start request against the engine and return the engine config as JSON.

    Raises RunConfigError naming the field (target, model_type, hyperparameters.x, ...).
    Deciding the task reads the target column, an audited read by `user`.
    """
    from datasets.selectors import dataset_columns
    from datasets.services import dataset_load_dataframe
    from training.ml import ConfigError, TrainConfig, infer_task, validate_config
    from training.ml.config import CLASSIFICATION
    from training.ml.engine import class_labels
    from training.ml.evaluation import choose_positive_class
    from training.ml.jsonsafe import label_value

    if not dataset.is_ready:
        raise RunConfigError(
            "dataset",
            "The dataset is still being processed; start the run once it is ready."
            if dataset.status == dataset.Status.PROCESSING
            else f"The dataset's upload was rejected: {dataset.error}",
        )
    columns = dataset_columns(dataset=dataset)
    fields = {k: v for k, v in data.items() if v is not None}
    # The profile's identifier flags decide which columns leave the features as
    # identifiers; the engine has no list of its own.
    fields["identifiers"] = {
        column["name"]: column.get("identifier_reason") or "likely identifier"
        for column in dataset.columns
        if column.get("likely_identifier")
    }
    try:
        config = TrainConfig.from_dict(fields)
        validate_config(config, columns=columns)
        # Read the target now, so the run shows its task from the start, and a wrong
        # model or an unnamed positive class fails before the run is queued.
        target = dataset_load_dataframe(
            dataset=dataset,
            user=user,
            request=request,
            purpose="training",
            columns=[config.target],
        )[config.target]
        if config.task is None:
            config.task = infer_task(target)
            validate_config(config, columns=columns)
        if config.task == CLASSIFICATION:
            labels = np.unique(class_labels(target.dropna()))
            positive = choose_positive_class(labels, config.positive_class)
            if positive is not None:
                config.positive_class = label_value(positive)
        _check_size(config, dataset, classes=len(labels) if config.task == CLASSIFICATION else 1)
    except ConfigError as exc:
        raise RunConfigError(exc.field, exc.message) from None
    except TypeError as exc:  # a field of the wrong JSON type reached the dataclass
        raise RunConfigError("config", str(exc)) from None
    return config.to_dict()


def _check_size(config, dataset, *, classes: int) -> None:
    """Refuse, naming the knob, a run whose estimated memory or model size is over
    WORKER_MEMORY_LIMIT or MODEL_MAX_BYTES (training.ml.sizing)."""
    from training.ml import ConfigError
    from training.ml.config import resolve_hyperparameters
    from training.ml.preprocessing import MAX_CATEGORIES
    from training.ml.sizing import estimate_size, too_big

    profile = {column["name"]: column for column in dataset.columns}
    left_out = {config.target, config.group_column, *(config.exclude or ())}
    names = [n for n in (config.features or profile) if n not in left_out]
    width = 0
    for name in names:  # one-hot columns for categories, one for anything else
        column = profile.get(name) or {}
        categorical = column.get("kind") in ("categorical", "text")
        width += min(int(column.get("unique") or 1), MAX_CATEGORIES) + 1 if categorical else 1
    params = resolve_hyperparameters(config.model_type, config.task, config.hyperparameters)
    estimate = estimate_size(
        config.model_type, config.task, params, rows=dataset.rows, width=width, classes=classes
    )
    problem = too_big(
        estimate,
        memory_limit=settings.WORKER_MEMORY_LIMIT,
        model_limit=settings.MODEL_MAX_BYTES,
    )
    if problem is not None:
        field, why = problem
        raise ConfigError(field, f"too big for the workers: {why}.")


@transaction.atomic
def run_start(
    *,
    user,
    dataset,
    config: dict[str, Any],
    name: str = "",
    request=None,
    enqueue: bool = True,
) -> TrainingRun:
    """Record a queued run and hand it to the workers after the transaction commits.

    `config` is an engine config built by `run_config_build` (its task is decided).
    `enqueue=False` leaves the run for the caller to execute in-process. Raises
    RunLimit when the user or the workspace has as many runs queued or running as
    RUNS_ACTIVE_PER_USER / RUNS_ACTIVE_PER_WORKSPACE allow.
    """
    with transaction.atomic():
        # One start at a time per workspace, so that two cannot both take the last place.
        Workspace.objects.select_for_update().filter(pk=dataset.workspace_id).first()
        _check_run_limits(user=user, workspace_id=dataset.workspace_id)
        return _run_create(
            user=user, dataset=dataset, config=config, name=name, request=request, enqueue=enqueue
        )


def _check_run_limits(*, user, workspace_id) -> None:
    active = TrainingRun.objects.filter(status__in=[RunStatus.QUEUED, *ACTIVE_STATUSES])
    for whose, runs, limit in (
        ("You have", active.filter(created_by=user), settings.RUNS_ACTIVE_PER_USER),
        (
            "This workspace has",
            active.filter(workspace_id=workspace_id),
            settings.RUNS_ACTIVE_PER_WORKSPACE,
        ),
    ):
        counts = dict(runs.order_by().values_list("status").annotate(n=Count("pk")))
        total = sum(counts.values())
        if total >= limit:
            waiting, noun = counts.get(RunStatus.QUEUED, 0), "run" if total == 1 else "runs"
            raise RunLimit(
                f"{whose} {total} {noun} queued or running ({waiting} waiting, "
                f"{total - waiting} running); the limit is {limit}. Stop one, or start "
                "this one when one has finished."
            )


def _run_create(*, user, dataset, config, name, request, enqueue) -> TrainingRun:
    run = TrainingRun.objects.create(
        workspace_id=dataset.workspace_id,
        dataset=dataset,
        created_by=user,
        name=name or f"{config['model_type']} on {dataset.name}",
        model_type=config["model_type"],
        task=config["task"],
        target=config["target"],
        features=config.get("features"),
        hyperparameters=config.get("hyperparameters") or {},
        config=config,
        random_seed=config.get("random_seed", 42),
        test_size=config.get("test_size", 0.2),
    )
    audit_record(
        action="run.start",
        user=user,
        object_type="training_run",
        object_id=run.pk,
        workspace_id=run.workspace_id,
        request=request,
        detail={"dataset": str(dataset.pk), "model_type": run.model_type},
    )
    if enqueue:
        transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    return run


def run_enqueue(*, run_id) -> None:
    from django_q.tasks import async_task

    try:
        # A ticket: the worker that takes it trains the queued run that is fairest then
        # (this one, or another team's that waited longer): see run_claim_next.
        task_id = async_task(
            "training.tasks.train_next",
            str(run_id),
            task_name=f"train-{run_id}",
            group="training",
            timeout=settings.MAX_TRAINING_TIME + 60,
        )
    except Exception as exc:  # noqa: BLE001 - the broker (Redis) is down: no worker will ever
        # see this run, so it must not wait as `queued` forever; it fails, saying why.
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is not None:
            _fail(
                run,
                f"The run could not be queued: the task queue is unreachable ({_describe(exc)}).",
                actor=SYSTEM,
            )
        return
    TrainingRun.objects.filter(pk=run_id).update(task_id=str(task_id or "")[:64])


def run_stop(*, run: TrainingRun, user, request=None) -> TrainingRun:
    """Ask a run to stop. A queued run stops at once and never starts; a running one
    is marked `stopping` and its worker stops within about 2 s (inside a long stage too)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status in TERMINAL_STATUSES:
            raise RunConflict(f"The run has already finished ({run.status}).")
        if run.status == RunStatus.QUEUED:
            run.finish(RunStatus.STOPPED, error="Stopped before it started.")
        elif run.status == RunStatus.RUNNING:
            run.mark_stopping()
        audit_record(
            action="run.stop",
            user=user,
            object_type="training_run",
            object_id=run.pk,
            workspace_id=run.workspace_id,
            request=request,
        )
        run_broadcast(run_id=run.pk, message=_status_message(run))
    return run


# --- execution in the worker -----------------------------------------------------------


def _claim(run_id) -> TrainingRun | None:
    """Move a queued run to running under a row lock. A redelivered task, or one for a
    run that was stopped while queued, finds nothing to claim and trains nothing."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.QUEUED:
            return None
        run.mark_running(worker=f"{socket.gethostname()}:{os.getpid()}")
        run_broadcast(run_id=run.pk, message=_status_message(run))
        notify_workspace(
            type="run.started",
            workspace_id=run.workspace_id,
            object_id=run.pk,
            data={"name": run.name, "model_type": run.model_type},
        )
    return run


def run_claim_next() -> TrainingRun | None:
    """Claim the queued run that is fairest to start now: round-robin across
    workspaces. The workspace with the fewest runs running goes first, then the one
    whose last run started longest ago (or never); within it, its oldest queued run.
    So one team's backlog of twenty runs holds another team's run back by one run
    at most."""
    never = timezone.now() - timedelta(days=365 * 100)
    for _ in range(5):  # another worker may claim the chosen run first
        queued = TrainingRun.objects.filter(status=RunStatus.QUEUED).order_by()
        waiting = dict(queued.values_list("workspace_id").annotate(first=Min("created_at")))
        if not waiting:
            return None
        others = TrainingRun.objects.filter(workspace_id__in=waiting).order_by()
        running = dict(
            others.filter(status__in=ACTIVE_STATUSES)
            .values_list("workspace_id")
            .annotate(n=Count("pk"))
        )
        served = dict(
            others.filter(started_at__isnull=False)
            .values_list("workspace_id")
            .annotate(last=Max("started_at"))
        )
        workspace = min(
            waiting, key=lambda w: (running.get(w, 0), served.get(w) or never, waiting[w])
        )
        mine = queued.filter(workspace_id=workspace).order_by("created_at", "pk")
        run = _claim(mine.values_list("pk", flat=True).first())
        if run is not None:
            return run
    return None


class Heartbeat:
    """Touches `heartbeat_at` from a side thread while the run trains, so the watchdog
    can tell a long epoch from a dead worker."""

    def __init__(self, run_id, interval: float = HEARTBEAT_INTERVAL):
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    TrainingRun.objects.filter(pk=self.run_id, status__in=ACTIVE_STATUSES).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a missed beat is not fatal; the next one may land
                    logger.warning("training: heartbeat for %s failed", self.run_id, exc_info=True)
        finally:
            connection.close()


class RunRecorder:
    """The engine's callbacks for one run: save each epoch, then broadcast it.

    The engine reports an epoch (`on_epoch`) and then its progress (`on_stage`); both
    are written in one transaction when the stage report arrives, or before the next
    stop poll if it never does, so a run costs one write per epoch.
    """

    def __init__(
        self,
        run: TrainingRun,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_progress: Callable[[dict], None] | None = None,
    ):
        self.run = run
        self.on_progress = on_progress
        self.seq = run.last_seq
        self.clock = clock
        self.deadline = clock() + settings.MAX_TRAINING_TIME
        self.overran = False
        self.out_of_memory = 0  # the worker's resident bytes when it passed the limit
        # Seconds per phase of the job, kept with the results (benchmarks/stream.py).
        self.phases: dict[str, float] = {}
        if run.started_at and run.created_at:
            self.phases["queue_wait"] = (run.started_at - run.created_at).total_seconds()
        self.writing = 0.0  # seconds in the per-epoch writes, broadcasts and stop polls
        self.progress: dict[str, Any] = dict(run.progress or {})
        self.pending: tuple[int, dict[str, Any]] | None = None
        self.stop_seen = False
        self.status_checked = False

    @contextlib.contextmanager
    def _writing(self):
        """Count the time inside as time spent writing (the job's `epoch_writes`)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.writing += time.perf_counter() - began

    def on_epoch(self, metrics: dict[str, Any]) -> None:
        self.flush()
        epoch = int(metrics.get("epoch", self.seq + 1))
        self.pending = (epoch, {k: v for k, v in metrics.items() if k != "epoch"})

    def on_stage(self, progress: dict[str, Any]) -> None:
        with self._writing():
            self._on_stage(progress)

    def _on_stage(self, progress: dict[str, Any]) -> None:
        stage = progress.get("stage", progress.get("epoch"))
        total = progress.get("total_stages", progress.get("total_epochs"))
        fraction = progress.get("fraction")
        if fraction is None and stage and total:
            fraction = stage / total
        self.progress = {"epoch": stage, "total_epochs": total, "fraction": fraction}
        if self.pending is None:
            TrainingRun.objects.filter(pk=self.run.pk).update(
                progress=self.progress, heartbeat_at=timezone.now()
            )
        self._flush()
        if self.on_progress is not None:
            self.on_progress(self.progress)

    def flush(self) -> None:
        """Write the pending epoch (with the latest progress), then broadcast it."""
        with self._writing():
            self._flush()

    def _flush(self) -> None:
        if self.pending is None:
            return
        epoch, values = self.pending
        self.pending = None
        self.seq += 1
        now = timezone.now()
        progress = dict(self.progress)
        if progress.get("epoch") is None:
            progress["epoch"] = epoch
        fields = {
            "last_seq": self.seq,
            "latest_metrics": {"epoch": epoch, **values},
            "progress": progress,
            "heartbeat_at": now,
        }
        with transaction.atomic():
            RunMetric.objects.create(
                run_id=self.run.pk, seq=self.seq, epoch=epoch, values=values, created_at=now
            )
            # Updating only while `running` doubles as the stop poll: no row matched
            # means someone asked to stop (or the watchdog gave up on us).
            run = TrainingRun.objects.filter(pk=self.run.pk)
            if not run.filter(status=RunStatus.RUNNING).update(**fields):
                run.update(**fields)
                self.stop_seen = True
            self.status_checked = True
            run_broadcast(
                run_id=self.run.pk,
                message=metrics_message(
                    seq=self.seq, epoch=epoch, values=values, timestamp=now.isoformat()
                ),
            )

    def should_stop(self) -> bool:
        with self._writing():
            return self._should_stop()

    def _should_stop(self) -> bool:
        self._flush()
        if self.clock() > self.deadline:
            self.overran = True
            return True
        rss = resident_bytes()
        if rss > settings.WORKER_MEMORY_LIMIT:
            self.out_of_memory = rss
            return True
        if self.status_checked or self.stop_seen:  # the last epoch's write checked it
            self.status_checked = False
            return self.stop_seen
        status = TrainingRun.objects.filter(pk=self.run.pk).values_list("status", flat=True)
        self.stop_seen = status.first() != RunStatus.RUNNING
        return self.stop_seen


def _model_register(run: TrainingRun, result, summary: dict[str, Any]):
    from mlmodels.services import model_register

    threshold = summary.get("threshold") or {}
    return model_register(
        workspace=run.workspace,
        user=run.created_by,
        name=run.name,
        pipeline=result.pipeline,
        framework="pytorch" if run.model_type == "neural_network" else "sklearn",
        task=result.task,
        feature_schema=summary.get("feature_schema") or [],
        target=run.target,
        class_labels=summary.get("class_labels"),
        metrics=summary.get("metrics") or {},
        hyperparameters=(summary.get("model") or {}).get("hyperparameters") or run.hyperparameters,
        dataset=run.dataset,
        source_run_id=run.pk,
        threshold=threshold.get("value"),
        via=WORKER,
        extra={
            # What predict applies: `threshold` above, to this class, chosen by this rule.
            "positive_class": summary.get("positive_class"),
            "threshold_rule": threshold.get("rule"),
            "excluded_columns": summary.get("excluded_columns") or [],
            "seed": run.random_seed,
            "model_type": run.model_type,
            "subgroup_metrics": summary.get("subgroup_metrics"),
            "training_rows": summary.get("n_train"),
            "threshold": threshold or None,
            "feature_importance": summary.get("feature_importance"),
        },
    )


def run_execute(
    *,
    run_id=None,
    on_progress: Callable[[dict], None] | None = None,
    prepare: Callable[[TrainingRun], None] | None = None,
) -> TrainingRun | None:
    """Train one queued run to the end, recording every step: `run_id`, or with None
    the fairest queued run (run_claim_next).
    `prepare(run)` runs once it is claimed.
    Never raises for a training failure: the run ends `failed` with the reason, and
    clients are told."""
    try:
        return _execute(run_id, on_progress, prepare)
    finally:
        # A worker hands messages to its background sender: let the last ones leave
        # before the task returns (and the process may be recycled).
        sender = active_sender()
        if sender is not None and not sender.flush():
            logger.warning("training: stream messages still unsent after 10 s")


def _execute(run_id, on_progress, prepare) -> TrainingRun | None:
    run = _claim(run_id) if run_id is not None else run_claim_next()
    if run is None:
        logger.info("training: no queued run for this task (%s)", run_id or "the fairest")
        return None
    if prepare is not None:
        prepare(run)
    recorder = RunRecorder(run, on_progress=on_progress)
    try:
        with Heartbeat(run.pk):
            result = _train(run, recorder)
    except Exception as exc:  # noqa: BLE001 - any training failure ends the run "failed"
        _fail(run, _describe(exc), traceback=tb.format_exc(), actor=WORKER)
        return run
    if recorder.overran:
        _fail(run, _overran(), actor=WORKER)
        return run
    if recorder.out_of_memory:
        _fail(run, _out_of_memory(recorder.out_of_memory), actor=WORKER)
        return run
    try:
        _complete(run, result, recorder.phases)
    except Exception as exc:  # noqa: BLE001 - e.g. storage full: the run fails, with why
        _fail(
            run,
            f"Saving the results failed: {_describe(exc)}",
            traceback=tb.format_exc(),
            actor=WORKER,
        )
    return run


def _train(run: TrainingRun, recorder: RunRecorder):
    from datasets.services import dataset_load_dataframe
    from training.ml import TrainConfig, train

    if run.dataset is None:
        raise RunConfigError("dataset", "The dataset was deleted before the run started.")
    began = time.perf_counter()
    frame = dataset_load_dataframe(
        dataset=run.dataset, user=run.created_by, purpose="training", via=WORKER
    )
    config = TrainConfig.from_dict(run.config)
    loaded = time.perf_counter()
    result = train(
        frame,
        config,
        on_epoch=recorder.on_epoch,
        on_stage=recorder.on_stage,
        should_stop=recorder.should_stop,
    )
    recorder.flush()
    recorder.phases["load"] = loaded - began
    # The engine's own time, without what its callbacks spent writing and broadcasting.
    recorder.phases["engine"] = time.perf_counter() - loaded - recorder.writing
    recorder.phases["epoch_writes"] = recorder.writing
    return result


def _complete(run: TrainingRun, result, phases: dict[str, float]) -> None:
    from training.ml.jsonsafe import json_safe  # the engine stays out of the web process

    summary = result.to_dict()
    stopped = result.status == "stopped"
    artifact = None
    if result.pipeline is not None and not stopped:
        began = time.perf_counter()
        artifact = _model_register(run, result, summary)
        phases["register"] = time.perf_counter() - began
    summary["timings"] = {**summary.get("timings", {}), "worker": json_safe(phases)}
    with transaction.atomic():
        run.results, run.task, run.model = summary, result.task, artifact
        run.save(update_fields=["results", "task", "model"])
        finished = run.finish(RunStatus.STOPPED if stopped else RunStatus.SUCCEEDED)
        if not finished:  # the watchdog or a stop got there first; keep their verdict
            return
        _finish_audit(run, actor=WORKER, model=str(artifact.pk) if artifact else None)
        run_broadcast(run_id=run.pk, message=_status_message(run))
        run_broadcast(run_id=run.pk, message={"type": "completed", "results": results_summary(run)})
        notify_workspace(
            type="run.completed",
            workspace_id=run.workspace_id,
            object_id=run.pk,
            data={
                "name": run.name,
                "status": run.status,
                "model": str(artifact.pk) if artifact else None,
            },
        )


def _fail(run: TrainingRun, message: str, *, actor: str, traceback: str = "") -> bool:
    """Fail the run and tell its watchers; False when it had already ended."""
    with transaction.atomic():
        if not run.finish(RunStatus.FAILED, error=message, traceback=traceback):
            return False
        _finish_audit(run, actor=actor, reason=message[:500])
        run_broadcast(run_id=run.pk, message=_status_message(run))
        run_broadcast(run_id=run.pk, message={"type": "error", "message": message})
        notify_workspace(
            type="run.failed",
            workspace_id=run.workspace_id,
            object_id=run.pk,
            data={"name": run.name, "error": message},
        )
    if traceback:
        logger.error("training: run %s failed: %s\n%s", run.pk, message, traceback)
    return True


def _finish_audit(run: TrainingRun, *, actor: str, **detail: Any) -> None:
    """Audit a run's end. The worker acts for the run's creator (no request, so no
    address); the watchdog and a failed hand-off to the queue act for no one, and say so."""
    failed = run.status == RunStatus.FAILED
    audit_record(
        action="run.finish",
        user=run.created_by if actor == WORKER else None,
        object_type="training_run",
        object_id=run.pk,
        workspace_id=run.workspace_id,
        outcome=AuditEvent.Outcome.FAILED if failed else AuditEvent.Outcome.SUCCESS,
        detail={"via" if actor == WORKER else "actor": actor, "status": run.status, **detail},
    )


def resident_bytes() -> int:
    """This process's resident memory (the worker's, while it trains), plus what a child
    fitting a model for it (training/ml/child.py) holds of its own: its unique set, as
    the pages it still shares with the worker are counted once. Called at every stop
    poll: the handle is kept per process (a forked worker gets its own)."""
    from training.ml.child import fitting_child  # imported by then: the run is training

    rss = _this_process(os.getpid()).memory_info().rss
    child = fitting_child()
    if child is not None:
        with contextlib.suppress(psutil.Error):  # it has just ended
            rss += psutil.Process(child).memory_full_info().uss
    return rss


@functools.cache
def _this_process(pid: int) -> psutil.Process:
    return psutil.Process(pid)


def _out_of_memory(rss: int) -> str:
    limit = settings.WORKER_MEMORY_LIMIT
    return (
        f"Out of memory: the worker reached {rss / 2**20:,.0f} MiB while training, over "
        f"WORKER_MEMORY_LIMIT ({limit / 2**20:,.0f} MiB). Train a smaller model (fewer or "
        "smaller layers, fewer or shallower trees) or on fewer rows."
    )


def _overran() -> str:
    return f"The run took longer than MAX_TRAINING_TIME ({settings.MAX_TRAINING_TIME} s)."


def _describe(exc: Exception) -> str:
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{field}: {message}" if field else message


def run_stream_ending(*, run_id) -> list[dict] | None:
    """The last stream messages of an ended run, rebuilt from the database (None while
    it is active): what the worker sent at the end (`status`, then `completed` or
    `error`; a run stopped before it started sent its status only), for a watcher
    whose copies the channel layer lost, e.g. to a Redis outage."""
    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None or run.status not in TERMINAL_STATUSES:
        return None
    messages = [_status_message(run)]
    if run.status == RunStatus.FAILED:
        messages.append({"type": "error", "message": run.error})
    elif run.status == RunStatus.SUCCEEDED or run.results:
        messages.append({"type": "completed", "results": results_summary(run)})
    return messages


def results_summary(run: TrainingRun) -> dict[str, Any]:
    """The short result that `completed` messages carry: headline metrics and the model."""
    results = run.results or {}
    return {
        "status": run.status,
        "task": run.task,
        "metrics": results.get("metrics") or {},
        "model": str(run.model_id) if run.model_id else None,
    }


# --- the watchdog ---------------------------------------------------------------------


def run_watchdog(*, now=None, run_ids=None) -> list[str]:
    """Fail active runs whose worker stopped beating or that overran MAX_TRAINING_TIME.

    Runs from the django-q2 schedule every minute, and from the training stream
    consumer while someone watches an active run, so its clients hear of a dead
    worker within seconds. Returns the ids it failed.
    """
    now = now or timezone.now()
    timeout = timedelta(seconds=settings.TRAINING_HEARTBEAT_TIMEOUT)
    active = TrainingRun.objects.filter(status__in=ACTIVE_STATUSES)
    if run_ids is not None:
        active = active.filter(pk__in=run_ids)
    failed = []
    for run in active:
        if run.heartbeat_at is None or run.heartbeat_at < now - timeout:
            beat = run.heartbeat_at.isoformat() if run.heartbeat_at else "never"
            reason = (
                "The worker running this training stopped responding (killed, out of "
                f"memory, or its machine went away); last heartbeat: {beat}."
            )
        elif run.started_at and run.started_at < now - timedelta(
            seconds=settings.MAX_TRAINING_TIME + 2 * settings.TRAINING_HEARTBEAT_TIMEOUT
        ):
            reason = _overran()
        else:
            continue
        if _fail(run, reason, actor=SYSTEM):
            failed.append(str(run.pk))
    return failed
