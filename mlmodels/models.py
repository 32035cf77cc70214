"""The model registry: versioned, safely serialised model files and their movable aliases.

A model is identified inside its workspace by its normalised name; every registration
of that name gets the next version. Aliases (`production`, `candidate`) point at one
version of a name and move between versions.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from collaboration.models import Workspace


def normalise_name(name: str) -> str:
    """The key that makes "Sepsis  Risk " and "sepsis risk" the same model."""
    return " ".join(str(name).split()).casefold()


class Framework(models.TextChoices):
    SKLEARN = "sklearn", "scikit-learn"
    PYTORCH = "pytorch", "PyTorch"


class Task(models.TextChoices):
    CLASSIFICATION = "classification", "classification"
    REGRESSION = "regression", "regression"


class FileFormat(models.TextChoices):
    SKOPS = "skops", "skops (scikit-learn)"
    BUNDLE = "mlbundle", "torch bundle (safetensors + spec + skops)"


class Source(models.TextChoices):
    TRAINING = "training", "Training run"
    UPLOAD = "upload", "Upload"


class ModelArtifact(models.Model):
    class Status(models.TextChoices):
        """An uploaded file is `processing` until a worker has read and checked it
        (services.model_process); a trained model is registered `ready`."""

        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200, editable=False)
    version = models.PositiveIntegerField(editable=False)
    framework = models.CharField(max_length=10, choices=Framework.choices)
    # Blank only while an upload is processing and the uploader did not say.
    task = models.CharField(max_length=20, choices=Task.choices, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.TRAINING)
    target = models.CharField(max_length=255, blank=True)
    # [{"name": "age", "type": "number", "nullable": true}, ...] in the order the model reads.
    feature_schema = models.JSONField(default=list, blank=True)
    class_labels = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # {"column": "sex", "groups": [{"value": "F", "n": 120, "accuracy": 0.91}, ...]}
    subgroup_metrics = models.JSONField(default=dict, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    # The class the threshold is about (binary classifiers); None means class_labels[1].
    positive_class = models.JSONField(null=True, blank=True)
    architecture = models.JSONField(null=True, blank=True)
    # {"seed": 42, "libraries": {"scikit-learn": "1.9.1", ...}, "estimator": "...", ...}
    lineage = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    dataset = models.ForeignKey(
        "datasets.Dataset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="models",
    )
    dataset_sha256 = models.CharField(max_length=64, blank=True)
    # The TrainingRun this came from; not a foreign key because training imports mlmodels.
    source_run_id = models.UUIDField(null=True, blank=True, db_index=True)
    file_key = models.CharField(max_length=255, editable=False)
    file_format = models.CharField(max_length=10, choices=FileFormat.choices, editable=False)
    file_sha256 = models.CharField(max_length=64, editable=False)
    size_bytes = models.BigIntegerField(editable=False)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.READY, editable=False
    )
    # While processing: the stage reached (services.MODEL_UPLOAD_STAGES).
    stage = models.CharField(max_length=20, blank=True, editable=False)
    # Why a rejected upload was refused, in words for the uploader, and as a code.
    error = models.TextField(blank=True, editable=False)
    error_code = models.CharField(max_length=40, blank=True, editable=False)
    intended_use = models.TextField(blank=True, max_length=5000)
    limitations = models.TextField(blank=True, max_length=5000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name_key", "version"], name="unique_model_version"
            )
        ]
        indexes = [models.Index(fields=["workspace", "name_key", "-version"])]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def file_suffix(self) -> str:
        return ".skops" if self.file_format == FileFormat.SKOPS else ".mlbundle"


class ModelAlias(models.Model):
    """A movable label on one version of a model name, unique per (workspace, name, alias)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name_key = models.CharField(max_length=200)
    alias = models.CharField(max_length=40)
    artifact = models.ForeignKey(ModelArtifact, on_delete=models.CASCADE, related_name="aliases")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["alias"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name_key", "alias"], name="unique_model_alias"
            )
        ]

    def __str__(self) -> str:
        return f"{self.alias} -> {self.artifact_id}"
