"""Training runs: one row per attempt to train a model, with its whole lifecycle.

Per-epoch metrics are rows of their own (RunMetric), written before they are
broadcast, so a late joiner's snapshot and the live stream come from the same
place and nothing a client saw exists only in the channel layer.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"


TERMINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED})
ACTIVE_STATUSES = frozenset({RunStatus.RUNNING, RunStatus.STOPPING})


class TrainingRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "collaboration.Workspace", on_delete=models.CASCADE, related_name="training_runs"
    )
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    model_type = models.CharField(max_length=40)
    task = models.CharField(max_length=20)
    target = models.CharField(max_length=255)
    features = models.JSONField(null=True, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)  # the full engine config, as given
    random_seed = models.IntegerField(default=42)
    test_size = models.FloatField(default=0.2)

    status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    progress = models.JSONField(default=dict, blank=True)
    latest_metrics = models.JSONField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    results = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)  # for operators (admin), not shown to members
    model = models.ForeignKey(
        "mlmodels.ModelArtifact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)  # host:pid of the worker
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    # --- lifecycle: the only places that change `status` ------------------------------
    def mark_running(self, *, worker: str) -> None:
        now = timezone.now()
        self.status = RunStatus.RUNNING
        self.worker = worker
        self.started_at = now
        self.heartbeat_at = now
        self.save(update_fields=["status", "worker", "started_at", "heartbeat_at"])

    def mark_stopping(self) -> None:
        self.status = RunStatus.STOPPING
        self.save(update_fields=["status"])

    def finish(self, status: str, *, error: str = "", traceback: str = "") -> bool:
        """Move to a terminal status, unless something else (the watchdog, a stop of a
        queued run) got there first. Returns whether this call made the change."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"{status!r} is not a terminal status")
        now = timezone.now()
        changed = (
            TrainingRun.objects.filter(pk=self.pk)
            .exclude(status__in=TERMINAL_STATUSES)
            .update(status=status, error=error, traceback=traceback, finished_at=now)
        )
        self.refresh_from_db(fields=["status", "error", "traceback", "finished_at"])
        return bool(changed)


class RunMetric(models.Model):
    """One epoch (or stage) of a run, numbered by `seq` from 1 without gaps."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metrics")
    seq = models.PositiveIntegerField()
    epoch = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_run_seq")]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.seq}"
