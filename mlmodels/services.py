"""All writes of the model registry, plus loading and predicting.

Training runs call `model_register`; the REST views call the rest. Files are written
to the "models" storage under server-generated keys; the row is created in a
transaction that allocates the next version of the name under a lock, and the file
is removed again when that fails.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import storages
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from collaboration.models import Workspace
from collaboration.services import audit_record, notify_workspace
from datasets.services import (
    check_upload_limit,
    queue_is_in_process,
    stale_uploads,
    storage_full,
    storage_is_full,
)

from .features import (
    SchemaError,
    schema_check_estimator,
    schema_from_estimator,
    schema_normalise,
    schema_with_ranges,
)
from .loading import (
    BUNDLE,
    SKOPS,
    LoadedModel,
    bundle_pipeline,
    classes_of,
    final_estimator,
    model_from_bytes,
)
from .models import FileFormat, Framework, ModelAlias, ModelArtifact, Source, Task, normalise_name
from .serialization import (
    ACCEPTED_SUFFIXES,
    ModelFileError,
    bundle_dumps,
    bundle_loads,
    pickle_load_restricted,
    skops_dumps,
    skops_loads,
    spec_fits_weights,
    state_dict_check,
    torch_state_dict_loads,
)

logger = logging.getLogger(__name__)

MODEL_STORAGE = "models"
MAX_PREDICT_ROWS = 10_000
ALIAS_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_VERSION_ATTEMPTS = 3
# Extra keys of model_register that have a column or a lineage slot of their own.
_EXTRA_FIELDS = ("subgroup_metrics", "intended_use", "limitations")
_LINEAGE_KEYS = ("seed", "target_balance", "model_type", "training_rows", "feature_plan")


def _storage():
    return storages[MODEL_STORAGE]


def library_versions(*, framework: str) -> dict[str, str]:
    names = ["scikit-learn", "numpy", "pandas", "skops"]
    if framework == Framework.PYTORCH:
        names += ["torch", "safetensors"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _json_params(estimator: Any) -> dict[str, Any]:
    """The final estimator's own parameters that are plain JSON values."""
    try:
        params = final_estimator(estimator).get_params(deep=False)
    except AttributeError:
        return {}
    plain = (str, int, float, bool, type(None))
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in params.items()
        if isinstance(value, plain)
        or (isinstance(value, tuple) and all(isinstance(v, plain) for v in value))
    }


# --- registration --------------------------------------------------------------------


def model_serialise(*, pipeline: Any, framework: str) -> tuple[bytes, str, dict | None]:
    """(file bytes, file format, architecture spec) for a fitted engine pipeline."""
    if framework == Framework.SKLEARN:
        return skops_dumps(pipeline), FileFormat.SKOPS, None
    if framework != Framework.PYTORCH:
        raise ValidationError({"framework": f"unknown framework {framework!r}"})
    steps = getattr(pipeline, "steps", None)
    estimator = steps[-1][1] if steps else pipeline
    preprocess = None
    if steps and len(steps) > 1:
        preprocess = steps[0][1] if len(steps) == 2 else pipeline[:-1]
    spec = dict(estimator.spec)
    data = bundle_dumps(
        manifest={"task": spec.get("task"), "classes": classes_of(estimator)},
        architecture=spec,
        state_dict=estimator.module.state_dict(),
        preprocess=preprocess,
    )
    return data, FileFormat.BUNDLE, spec


class ModelTooLarge(ValueError):
    """A trained model's file is over MODEL_MAX_BYTES: it is not registered."""


def model_too_large(size: int | None = None) -> str:
    """The refusal of a model file of `size` bytes (None: still arriving), in words."""
    limit = f"the MODEL_MAX_BYTES limit of {settings.MODEL_MAX_BYTES / 2**20:,.0f} MiB"
    if size is None:
        return f"The model file is over {limit}."
    return f"The model is {size / 2**20:,.1f} MiB, over {limit}."


def model_register(
    *,
    workspace: Workspace,
    user: Any,
    name: str,
    pipeline: Any,
    framework: str,
    task: str,
    feature_schema: Any,
    target: str,
    class_labels: Sequence[Any] | None,
    metrics: dict,
    hyperparameters: dict,
    dataset: Any = None,
    source_run_id: uuid.UUID | str | None = None,
    threshold: float | None = None,
    extra: dict | None = None,
    request: Any = None,
    via: str | None = None,
) -> ModelArtifact:
    """Store a fitted engine pipeline as the next version of `name` in `workspace`.

    `pipeline` is `TrainResult.pipeline` (scikit-learn, or preprocessing + the engine's
    torch MLP wrapper for framework "pytorch"). An empty `feature_schema` is read from
    the pipeline; `class_labels` None from its `classes_`. `threshold` (binary
    classifiers) is applied by predict to `positive_class`, taken from
    `extra["positive_class"]` or `extra["threshold"]["positive_class"]`, else
    class_labels[1]. `extra` may also carry `seed`, `subgroup_metrics`,
    `target_balance`, `intended_use`, `limitations`, `model_type`, `training_rows`,
    `feature_plan`, `feature_importance` ({features, scores}, weights the graph);
    other keys are kept in `ModelArtifact.extra`. Raises ValidationError for a bad
    name, task or schema. Sends "model.registered" after the transaction commits.
    Audited for `user`; `via="worker"` marks a registration the training worker makes
    for the run's creator.
    """
    data, file_format, architecture = model_serialise(pipeline=pipeline, framework=framework)
    if len(data) > settings.MODEL_MAX_BYTES:
        raise ModelTooLarge(model_too_large(len(data)))
    extra = dict(extra or {})
    lineage = {
        "source": Source.TRAINING,
        "source_run_id": str(source_run_id) if source_run_id else None,
        "estimator": _estimator_name(pipeline),
        "libraries": library_versions(framework=framework),
    }
    for key in _LINEAGE_KEYS:
        if key in extra:
            lineage[key] = extra.pop(key)
    positive_class = extra.pop("positive_class", None)
    if positive_class is None and isinstance(extra.get("threshold"), dict):
        positive_class = extra["threshold"].get("positive_class")
    fields = {key: extra.pop(key) for key in _EXTRA_FIELDS if key in extra}
    fields = {key: value for key, value in fields.items() if value is not None}
    schema = _schema_or_error(feature_schema) or schema_from_estimator(pipeline)
    if schema is None:
        raise ValidationError({"feature_schema": "Required: the pipeline has no column names."})
    if dataset is not None:  # kept with the model: predict still has it once the data is gone
        schema = schema_with_ranges(schema, (dataset.profile or {}).get("columns", []))
    return _artifact_create(
        workspace=workspace,
        user=user,
        name=name,
        data=data,
        file_format=file_format,
        framework=framework,
        task=task,
        source=Source.TRAINING,
        target=target,
        feature_schema=schema,
        class_labels=list(class_labels or classes_of(final_estimator(pipeline)) or []),
        metrics=metrics or {},
        hyperparameters=hyperparameters or {},
        threshold=threshold,
        positive_class=positive_class,
        architecture=architecture,
        lineage=lineage,
        extra=extra,
        dataset=dataset,
        dataset_sha256=getattr(dataset, "sha256", "") or "",
        source_run_id=source_run_id,
        request=request,
        via=via,
        **fields,
    )


def _estimator_name(pipeline: Any) -> str:
    final = final_estimator(pipeline)
    return f"{type(final).__module__}.{type(final).__qualname__}"


def _model_name(name: Any) -> str:
    name = " ".join(str(name or "").split())
    if not name or len(name) > 200:
        raise ValidationError({"name": "A model name of 1 to 200 characters is required."})
    return name


def _artifact_create(
    *,
    workspace: Workspace,
    user: Any,
    name: str,
    data: bytes,
    request: Any = None,
    via: str | None = None,
    **fields: Any,
) -> ModelArtifact:
    """Store a model file that is ready to load and register it as the next version."""
    name = _model_name(name)
    if fields["task"] not in Task.values:
        raise ValidationError({"task": f"must be one of {', '.join(Task.values)}"})
    artifact_id = uuid.uuid4()
    file_key = _file_save(
        workspace.pk, artifact_id, _FORMAT_SUFFIXES[fields["file_format"]], ContentFile(data)
    )
    with _file_removed_unless_committed(artifact_id, file_key):
        return _artifact_insert(
            artifact_id=artifact_id,
            workspace=workspace,
            user=user,
            name=name,
            file_key=file_key,
            file_sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            fields=fields,
            request=request,
            via=via,
        )


_FORMAT_SUFFIXES = {FileFormat.SKOPS: ".skops", FileFormat.BUNDLE: ".mlbundle"}


def _file_save(workspace_id: Any, artifact_id: Any, suffix: str, content: File) -> str:
    """Write a model's file under its server-made key, `<workspace>/<id><suffix>`:
    `.skops` or `.mlbundle`, or `.upload.pkl` and the like for a file still to check."""
    key = f"{workspace_id}/{artifact_id}{suffix}"
    try:
        return _storage().save(key, content)
    except BaseException:
        # A write that failed part way (a full disk, a quota) leaves a partial file; the
        # key is a fresh UUID, so whatever is there is ours. The error goes on to the
        # caller: a full storage is a 413 for clients (medilytica_site.api).
        model_file_remove(file_key=key)
        raise


@contextmanager
def _file_removed_unless_committed(artifact_id: Any, file_key: str) -> Iterator[None]:
    """Remove the file again if its row did not make it into the database."""
    try:
        yield
    except BaseException:
        # A failure after the row committed (in an on_commit callback) must not take
        # the file of a registered model away with it.
        try:
            committed = ModelArtifact.objects.filter(pk=artifact_id).exists()
        except DatabaseError:  # a broken transaction: the row is not there to keep
            committed = False
        if not committed:
            model_file_remove(file_key=file_key)
        raise


def _artifact_insert(
    *, artifact_id, workspace, user, name, file_key, file_sha256, size_bytes, fields, request, via
) -> ModelArtifact:
    """The row, as the next version of its name. A ready model is announced as
    registered; a received upload only audited (model_process announces it)."""
    name_key = normalise_name(name)
    for attempt in range(_VERSION_ATTEMPTS):
        try:
            with transaction.atomic():
                # The workspace row is the lock that serialises version allocation
                # (SQLite's IMMEDIATE transactions serialise writers on their own).
                lock = Workspace.objects.select_for_update().filter(pk=workspace.pk).order_by()
                list(lock.values("pk"))
                latest = ModelArtifact.objects.filter(
                    workspace=workspace, name_key=name_key
                ).aggregate(latest=Max("version"))["latest"]
                artifact = ModelArtifact.objects.create(
                    id=artifact_id,
                    workspace=workspace,
                    name=name,
                    name_key=name_key,
                    version=(latest or 0) + 1,
                    file_key=file_key,
                    file_sha256=file_sha256,
                    size_bytes=size_bytes,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                    **fields,
                )
                if artifact.is_ready:
                    _announce_registered(artifact, user=user, request=request, via=via)
                else:
                    _model_audit(
                        "model.receive",
                        artifact,
                        user=user,
                        request=request,
                        name=name,
                        version=artifact.version,
                        filename=artifact.lineage.get("original_filename", ""),
                        size_bytes=size_bytes,
                    )
                return artifact
        except IntegrityError:
            if attempt == _VERSION_ATTEMPTS - 1:
                raise
            logger.info("model version collision on %r, retrying", name)
    raise AssertionError("unreachable")


def _announce_registered(artifact: ModelArtifact, *, user: Any, request: Any, via: str | None):
    """Audit a model that can now be used, and tell its workspace (after commit)."""
    _model_audit(
        "model.register",
        artifact,
        user=user,
        request=request,
        name=artifact.name,
        version=artifact.version,
        source=artifact.source,
        sha256=artifact.file_sha256,
        **({"via": via} if via else {}),
    )
    notify_workspace(
        type="model.registered",
        workspace_id=artifact.workspace_id,
        object_id=artifact.pk,
        data={
            "name": artifact.name,
            "version": artifact.version,
            "framework": artifact.framework,
            "task": artifact.task,
        },
    )


# --- uploads, checked by a worker ---------------------------------------------------------

# What a processing upload's `stage` says, in order: waiting for a worker, reading and
# checking the file (nothing in it is run), storing the file that predict will load.
MODEL_UPLOAD_STAGES = ("queued", "checking", "storing")
_STATE_DICT_SUFFIXES = (".pt", ".pth")
_BUNDLE_SUFFIXES = (".mlbundle", ".zip")


def model_receive(
    *,
    workspace: Workspace,
    user: Any,
    name: str,
    file: File,
    task: str | None = None,
    target: str = "",
    feature_schema: Any = None,
    architecture: dict | None = None,
    class_labels: list | None = None,
    request: Any = None,
    sha256: str = "",
) -> ModelArtifact:
    """Take an uploaded model file for a worker to check: the cheap checks now (type,
    size, empty, the form's fields), then store the bytes as they came, create the next
    version `processing` (stage `queued`) and queue `mlmodels.tasks.model_process` once
    the row commits. The given task, schema, spec and labels wait on the row for the
    worker. `sha256`: the file's, taken while it streamed in.

    Raises ValidationError (nothing kept) or datasets' UploadLimit. In Django-Q's sync
    mode the worker's part runs before this returns; re-read the row for its state."""
    filename = PurePath(str(getattr(file, "name", "") or "model")).name
    suffix = PurePath(filename).suffix.lower()  # before shortening, which could cut it off
    filename = filename if len(filename) <= 200 else filename[: 200 - len(suffix)] + suffix
    _check_model_upload(file, suffix)
    name = _model_name(name)
    schema = _schema_or_error(feature_schema)
    if suffix in _STATE_DICT_SUFFIXES and not isinstance(architecture, dict):
        raise ValidationError(
            {"architecture": "Required for a .pt/.pth state dict: the JSON spec of the network."}
        )
    if not sha256:
        sha256 = _sha256_of(file)
    pytorch = suffix in _STATE_DICT_SUFFIXES + _BUNDLE_SUFFIXES
    artifact_id = uuid.uuid4()
    in_process = queue_is_in_process()
    file_key = _file_save(workspace.pk, artifact_id, f".upload{suffix}", file)
    with _file_removed_unless_committed(artifact_id, file_key), transaction.atomic():
        check_upload_limit(
            user,
            ModelArtifact.objects.filter(created_by=user, status=ModelArtifact.Status.PROCESSING),
            what="model uploads",
        )
        artifact = _artifact_insert(
            artifact_id=artifact_id,
            workspace=workspace,
            user=user,
            name=name,
            file_key=file_key,
            file_sha256=sha256,
            size_bytes=file.size,
            fields={
                "status": ModelArtifact.Status.PROCESSING,
                "stage": "queued",
                "source": Source.UPLOAD,
                "framework": Framework.PYTORCH if pytorch else Framework.SKLEARN,
                "file_format": FileFormat.BUNDLE if pytorch else FileFormat.SKOPS,
                "task": task or "",
                "target": target or "",
                "feature_schema": schema or [],
                "architecture": architecture if suffix in _STATE_DICT_SUFFIXES else None,
                "class_labels": list(class_labels or []),
                "lineage": {
                    "source": Source.UPLOAD,
                    "original_filename": filename,
                    "original_sha256": sha256,
                    # Known once a worker has read the file (model_process).
                    "estimator": None,
                    "libraries": {},
                },
            },
            request=request,
            via=None,
        )
        if not in_process:
            transaction.on_commit(lambda: _enqueue_processing(artifact_id))
    if in_process:
        # Django-Q's sync mode: the "worker" is this thread and shares its
        # transaction, so it may start now (in a test's transaction, too).
        _enqueue_processing(artifact_id)
    return artifact


def _check_model_upload(file: File, suffix: str) -> None:
    if suffix not in ACCEPTED_SUFFIXES:
        raise ValidationError(
            {
                "file": f"Unsupported file type {suffix or '(none)'}; accepted: "
                f"{', '.join(ACCEPTED_SUFFIXES)}."
            }
        )
    if file.size is not None and file.size > settings.MAX_UPLOAD_SIZE:
        raise ValidationError(
            {"file": f"The file is larger than {settings.MAX_UPLOAD_SIZE} bytes."}
        )
    if file.size is not None and file.size > settings.MODEL_MAX_BYTES:
        raise ValidationError({"file": model_too_large(file.size)})
    if not file.size:
        raise ValidationError({"file": "The file is empty."})


def _sha256_of(file: File) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def _enqueue_processing(artifact_id) -> None:
    from django_q.tasks import async_task

    try:
        async_task(
            "mlmodels.tasks.model_process",
            str(artifact_id),
            task_name=f"model-upload-{artifact_id}",
            group="models",
            timeout=settings.MODEL_PROCESS_TIMEOUT,
        )
    except Exception as exc:  # the broker is down: no worker will ever see this upload
        logger.exception("model upload %s could not be queued", artifact_id)
        artifact = ModelArtifact.objects.filter(
            pk=artifact_id, status=ModelArtifact.Status.PROCESSING
        ).first()
        if artifact is not None:
            _reject(
                artifact,
                "The upload could not be queued for checking: the task queue is "
                f"unreachable ({type(exc).__name__}). Upload it again later.",
                code="queue_unavailable",
            )


def model_process(*, artifact_id) -> ModelArtifact | None:
    """The worker's part of a model upload: read the stored file without running
    anything in it (see mlmodels.serialization), check it against the schema, spec and
    labels sent with it, and store what predict will load (.skops or .mlbundle; pickles
    and state dicts re-written). The version becomes `ready` and is announced as
    `model.registered`, or `rejected` with the reason (its file removed, the row kept),
    announced as `model.rejected`. None if the row is gone, no longer processing, or
    already taken by another worker."""
    waiting = ModelArtifact.objects.filter(
        pk=artifact_id, status=ModelArtifact.Status.PROCESSING, stage="queued"
    )
    # The claim: one worker only, should the queue ever hand the task out twice. Its
    # time starts the MODEL_PROCESS_TIMEOUT that the sweep holds it to.
    claimed = "checking"
    if not waiting.update(stage=claimed, updated_at=timezone.now()):
        return None
    artifact = ModelArtifact.objects.select_related("created_by").get(pk=artifact_id)
    upload_key = artifact.file_key
    stored: list[str] = []

    def step(stage: str) -> None:
        if stage != claimed:  # the claim wrote the first stage
            ModelArtifact.objects.filter(
                pk=artifact.pk, status=ModelArtifact.Status.PROCESSING
            ).update(stage=stage)
        notify_workspace(
            type="model.progress",
            workspace_id=artifact.workspace_id,
            object_id=artifact.pk,
            data={
                "name": artifact.name,
                "version": artifact.version,
                "stage": stage,
                "fraction": round(MODEL_UPLOAD_STAGES.index(stage) / len(MODEL_UPLOAD_STAGES), 2),
            },
        )

    try:
        step("checking")
        with _storage().open(upload_key, "rb") as handle:
            raw = handle.read()
        prepared = _prepare(raw, artifact)
        estimator, data = prepared.pop("estimator"), prepared.pop("data")
        if len(data) > settings.MODEL_MAX_BYTES:
            raise ModelTooLarge(model_too_large(len(data)))
        step("storing")
        suffix = _FORMAT_SUFFIXES[prepared["file_format"]]
        file_key = _file_save(artifact.workspace_id, artifact.pk, suffix, ContentFile(data))
        stored.append(file_key)
        with transaction.atomic():
            updated = ModelArtifact.objects.filter(
                pk=artifact.pk, status=ModelArtifact.Status.PROCESSING
            ).update(
                status=ModelArtifact.Status.READY,
                stage="",
                file_key=file_key,
                file_sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                hyperparameters=_json_params(estimator),
                lineage={
                    **artifact.lineage,
                    "estimator": _estimator_name(estimator),
                    "libraries": library_versions(framework=prepared["framework"]),
                },
                **prepared,
            )
            if not updated:
                # Deleted or swept while it was checked: its upload went with that; the
                # file written here goes too.
                transaction.on_commit(lambda: model_file_remove(file_key=file_key), robust=True)
                return None
            artifact.refresh_from_db()
            _announce_registered(artifact, user=artifact.created_by, request=None, via="worker")
            # Before anyone can read `ready` (the row is locked by the update): the
            # upload as it came has made way for the file predict loads.
            model_file_remove(file_key=upload_key)
    except BaseException as exc:
        for key in stored:
            model_file_remove(file_key=key)
        if not isinstance(exc, Exception):
            raise  # the worker is stopping: the sweep rejects the upload in time
        message, code = _rejection_of(exc, artifact)
        _reject(artifact, message, code=code)
        return ModelArtifact.objects.filter(pk=artifact.pk).first()
    return artifact


def _prepare(raw: bytes, artifact: ModelArtifact) -> dict:
    """Read and check an upload's bytes by its file type, with what was sent along."""
    suffix = PurePath(artifact.file_key).suffix.lower()
    given = {
        "feature_schema": artifact.feature_schema or None,
        "task": artifact.task or None,
    }
    if suffix in _STATE_DICT_SUFFIXES:
        return _prepare_state_dict(
            raw, artifact.architecture, classes=artifact.class_labels or None, **given
        )
    if suffix in _BUNDLE_SUFFIXES:
        return _prepare_bundle(raw, **given)
    return _prepare_sklearn(raw, suffix, **given)


def _rejection_of(exc: Exception, artifact: ModelArtifact) -> tuple[str, str]:
    """(message, code) telling the uploader why their file was refused."""
    if isinstance(exc, ModelFileError):
        return str(exc), exc.code
    if isinstance(exc, ValidationError):
        errors = getattr(exc, "message_dict", None) or {"file": exc.messages}
        field = next(iter(errors))
        text = "; ".join(f"{key}: {' '.join(value)}" for key, value in errors.items())
        return text, f"invalid_{field}"[:40]
    if isinstance(exc, ModelTooLarge):
        return str(exc), "model_too_large"
    if storage_is_full(exc):
        return storage_full().message, "storage_full"
    logger.exception("model upload %s could not be processed", artifact.pk)
    return (
        "The file could not be checked because of an error on the server "
        f"({type(exc).__name__}); it has been logged. Upload it again, or ask an "
        "administrator.",
        "processing_failed",
    )


def _reject(artifact: ModelArtifact, message: str, *, code: str) -> None:
    """A processing upload refused: its file removed, the row kept with the reason."""
    upload_key = artifact.file_key
    with transaction.atomic():
        updated = ModelArtifact.objects.filter(
            pk=artifact.pk, status=ModelArtifact.Status.PROCESSING
        ).update(
            status=ModelArtifact.Status.REJECTED,
            stage="",
            error=message,
            error_code=code,
            file_key="",
        )
        if not updated:
            return
        audit_record(
            action="model.upload",
            user=artifact.created_by,
            object_type="model",
            object_id=artifact.pk,
            workspace_id=artifact.workspace_id,
            outcome="denied",
            detail={
                "filename": artifact.lineage.get("original_filename", ""),
                "reason": message[:500],
                "code": code,
                "via": "worker",
            },
        )
        notify_workspace(
            type="model.rejected",
            workspace_id=artifact.workspace_id,
            object_id=artifact.pk,
            data={"name": artifact.name, "version": artifact.version, "error": message},
        )
        # Before anyone can read `rejected` (the row is locked by the update): a client
        # that sees it finds the file gone (datasets.services._reject, the same).
        model_file_remove(file_key=upload_key)


def model_sweep_stale() -> int:
    """Reject model uploads that will never be checked, so none waits forever: one a
    worker took more than MODEL_PROCESS_TIMEOUT ago, and one still queued after the
    queue would have handed its task out again and that long once more (the queue lost
    it). Scheduled every 5 minutes (migration mlmodels 0003); returns how many."""
    processing = ModelArtifact.objects.filter(status=ModelArtifact.Status.PROCESSING)
    count = 0
    for artifact in stale_uploads(processing, settings.MODEL_PROCESS_TIMEOUT):
        _reject(
            artifact,
            "Checking did not finish in time (the worker stopped, the queue lost the "
            "upload, or the file took too long). Upload it again, or ask an administrator.",
            code="processing_timeout",
        )
        count += 1
    return count


def _schema_or_error(feature_schema: Any) -> list[dict] | None:
    if feature_schema in (None, "", [], {}):
        return None
    try:
        return schema_normalise(feature_schema)
    except SchemaError as exc:
        raise ValidationError({"feature_schema": str(exc)}) from None


def _task_of(estimator: Any, given: str | None) -> str:
    from sklearn.base import is_classifier, is_regressor

    found = (
        Task.CLASSIFICATION
        if is_classifier(estimator)
        else Task.REGRESSION
        if is_regressor(estimator)
        else None
    )
    if given and found and given != found:
        raise ValidationError({"task": f"The model is a {found} model, not {given}."})
    task = given or found
    if task not in Task.values:
        raise ValidationError({"task": "Cannot tell the task of this model; send task."})
    return task


def _prepare_sklearn(raw: bytes, suffix: str, feature_schema: Any, task: str | None) -> dict:
    from sklearn.base import BaseEstimator

    if suffix == ".skops":
        estimator = skops_loads(raw)
        data = raw
    else:
        estimator = pickle_load_restricted(raw)
        if not isinstance(estimator, BaseEstimator):
            raise ModelFileError("The pickle does not hold a scikit-learn estimator or pipeline.")
        data = skops_dumps(estimator)
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "predict"):
        raise ModelFileError("The file does not hold a scikit-learn estimator or pipeline.")
    schema = _schema_or_error(feature_schema) or schema_from_estimator(estimator)
    if schema is None:
        raise ValidationError(
            {"feature_schema": "Required: the model was fitted without column names."}
        )
    try:
        schema_check_estimator(schema, estimator)
    except SchemaError as exc:
        raise ValidationError({"feature_schema": str(exc)}) from None
    return {
        "estimator": estimator,
        "data": data,
        "file_format": FileFormat.SKOPS,
        "framework": Framework.SKLEARN,
        "task": _task_of(estimator, task),
        "feature_schema": schema,
        "class_labels": classes_of(estimator) or [],
        "architecture": None,
    }


def _prepare_bundle(raw: bytes, feature_schema: Any, task: str | None) -> dict:
    bundle = bundle_loads(raw)
    pipeline = bundle_pipeline(bundle)
    architecture = bundle.architecture
    schema = _schema_or_error(feature_schema) or schema_from_estimator(pipeline)
    if schema is None:
        raise ValidationError({"feature_schema": "Required for a bundle without preprocessing."})
    return {
        "estimator": pipeline,
        "data": raw,
        "file_format": FileFormat.BUNDLE,
        "framework": Framework.PYTORCH,
        "task": _task_of(pipeline, task),
        "feature_schema": _numeric_only(schema)
        if pipeline is final_estimator(pipeline)
        else schema,
        "class_labels": classes_of(final_estimator(pipeline)) or [],
        "architecture": architecture,
    }


def _numeric_only(schema: list[dict]) -> list[dict]:
    """A bare network reads floats: no text, no nulls."""
    bad = [
        entry["name"] for entry in schema if entry["type"] not in ("number", "integer", "boolean")
    ]
    if bad:
        names = ", ".join(bad)
        raise ValidationError(
            {"feature_schema": f"A network without preprocessing reads numbers only: {names}."}
        )
    return [{**entry, "nullable": False} for entry in schema]


def _prepare_state_dict(
    raw: bytes, architecture: Any, feature_schema: Any, task: str | None, classes: Any
) -> dict:
    from training.ml.config import ConfigError
    from training.ml.nn import build_mlp, mlp_from_state, validate_spec

    state = torch_state_dict_loads(raw)
    if not isinstance(architecture, dict):
        raise ValidationError(
            {"architecture": "Required for a .pt/.pth state dict: the JSON spec of the network."}
        )
    try:
        validate_spec(architecture)
    except ConfigError as exc:
        raise ValidationError({"architecture": str(exc)}) from None
    spec_fits_weights(architecture, state)
    state_dict_check(build_mlp(architecture), state)
    if task and task != architecture["task"]:
        raise ValidationError({"task": f"The architecture is a {architecture['task']} network."})
    output_size = architecture["output_size"]
    if architecture["task"] == Task.CLASSIFICATION:
        classes = list(classes) if classes else list(range(output_size))
        if len(classes) != output_size:
            raise ValidationError(
                {"class_labels": f"The network has {output_size} outputs, not {len(classes)}."}
            )
    else:
        classes = None
    schema = _schema_or_error(feature_schema)
    if schema is None:
        raise ValidationError({"feature_schema": "Required for a .pt/.pth state dict."})
    if len(schema) != architecture["input_size"]:
        raise ValidationError(
            {
                "feature_schema": f"The network reads {architecture['input_size']} columns, "
                f"the schema lists {len(schema)}."
            }
        )
    estimator = mlp_from_state(architecture, state, classes)
    data = bundle_dumps(
        manifest={"task": architecture["task"], "classes": classes},
        architecture=dict(architecture),
        state_dict=state,
    )
    return {
        "estimator": estimator,
        "data": data,
        "file_format": FileFormat.BUNDLE,
        "framework": Framework.PYTORCH,
        "task": architecture["task"],
        "feature_schema": _numeric_only(schema),
        "class_labels": classes or [],
        "architecture": dict(architecture),
    }


# --- reading, loading and predicting -------------------------------------------------


class ModelCache:
    """Loaded models by (artifact id, file sha256), least recently used dropped first."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, key: tuple[str, str], load: Callable[[], LoadedModel]) -> LoadedModel:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        model = load()  # outside the lock: a slow load must not block cached predictions
        with self._lock:
            self.loads += 1
            self._items[key] = model
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return model

    def evict(self, artifact_id: Any) -> None:
        with self._lock:
            for key in [key for key in self._items if key[0] == str(artifact_id)]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


model_cache = ModelCache(getattr(settings, "MODEL_CACHE_SIZE", 8))


def model_file_read(*, artifact: ModelArtifact) -> bytes:
    """The stored file, refused if it no longer matches the recorded sha256."""
    with _storage().open(artifact.file_key, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != artifact.file_sha256:
        raise ModelFileError("The stored model file does not match its recorded sha256.")
    return data


class ModelNotReady(Exception):
    """The version is an upload still being checked, or one that was rejected: there is
    no model to load, download or point an alias at (a 409 for clients)."""

    def __init__(self, artifact: ModelArtifact) -> None:
        if artifact.status == ModelArtifact.Status.REJECTED:
            self.code = "model_rejected"
            message = f"The upload was rejected, so there is no model to use: {artifact.error}"
        else:
            self.code = "model_processing"
            message = (
                "The uploaded model is still being checked by a worker; it can be used "
                "once it is ready."
            )
        super().__init__(message)


def model_require_ready(artifact: ModelArtifact) -> ModelArtifact:
    """The artifact, if it is a model that can be used; ModelNotReady otherwise."""
    if not artifact.is_ready:
        raise ModelNotReady(artifact)
    return artifact


def model_load(*, artifact: ModelArtifact) -> LoadedModel:
    """The artifact as a predictor (`predict` / `predict_proba` on a raw DataFrame),
    loaded once per process and then served from the cache."""
    model_require_ready(artifact)

    def load() -> LoadedModel:
        return model_from_bytes(
            model_file_read(artifact=artifact),
            file_format=SKOPS if artifact.file_format == FileFormat.SKOPS else BUNDLE,
            task=artifact.task,
            feature_schema=_schema_for_predict(artifact),
            classes=artifact.class_labels or None,
            threshold=artifact.threshold,
            positive_class=artifact.positive_class,
            threshold_rule=_threshold_rule(artifact),
            torch_threads=getattr(settings, "MODEL_PREDICT_TORCH_THREADS", 1),
        )

    return model_cache.get((str(artifact.pk), artifact.file_sha256), load)


def _schema_for_predict(artifact: ModelArtifact) -> list[dict]:
    """The stored schema; a model registered before training ranges were stored reads
    them from its dataset's profile while the dataset exists (once per load)."""
    schema = artifact.feature_schema
    if artifact.dataset_id is None or any("min" in entry for entry in schema):
        return schema
    from datasets.models import Dataset

    profile = (
        Dataset.objects.filter(pk=artifact.dataset_id).values_list("profile", flat=True).first()
    )
    return schema_with_ranges(schema, (profile or {}).get("columns", []))


def _threshold_rule(artifact: ModelArtifact) -> str | None:
    """The rule that chose the stored threshold: `extra["threshold"]["rule"]` as training
    records it; "youden" for models whose threshold says only `method: youden_j`."""
    chosen = (artifact.extra or {}).get("threshold")
    if not isinstance(chosen, dict):
        return None
    rule = chosen.get("rule")
    if rule is None and chosen.get("method") == "youden_j":
        rule = "youden"
    return None if rule is None else str(rule)


def model_predict(
    *, artifact: ModelArtifact, rows: Sequence[Any], user: Any, request: Any = None
) -> dict[str, Any]:
    """{predictions, probabilities?, classes?, threshold?, positive_class?, threshold_rule?,
    warnings} for JSON rows; RowsError names missing or wrongly typed columns. The rows
    are patients' data: each prediction is audited (the row count, never the values)."""
    if not isinstance(rows, list | tuple) or not rows:
        raise ValidationError({"rows": "A non-empty list of row objects is required."})
    if len(rows) > MAX_PREDICT_ROWS:
        raise ValidationError({"rows": f"At most {MAX_PREDICT_ROWS} rows per request."})
    out = model_load(artifact=artifact).predict_rows(rows)
    _model_audit("model.predict", artifact, user=user, request=request, rows=len(rows))
    return out


def model_download(*, artifact: ModelArtifact, user: Any, request: Any = None) -> File:
    """The stored file, opened for streaming; the download is audited."""
    model_require_ready(artifact)
    handle = _storage().open(artifact.file_key, "rb")
    _model_audit(
        "model.download",
        artifact,
        user=user,
        request=request,
        name=artifact.name,
        version=artifact.version,
        sha256=artifact.file_sha256,
    )
    return handle


def _model_audit(action: str, artifact: ModelArtifact, *, user: Any, request: Any, **detail):
    audit_record(
        action=action,
        user=user,
        object_type="model",
        object_id=artifact.pk,
        workspace_id=artifact.workspace_id,
        request=request,
        detail=detail,
    )


# --- edits ----------------------------------------------------------------------------


def model_update(
    *,
    artifact: ModelArtifact,
    user: Any,
    intended_use: str | None = None,
    limitations: str | None = None,
    request: Any = None,
) -> ModelArtifact:
    changed = {}
    if intended_use is not None:
        changed["intended_use"] = intended_use
    if limitations is not None:
        changed["limitations"] = limitations
    with transaction.atomic():
        for key, value in changed.items():
            setattr(artifact, key, value)
        artifact.save(update_fields=[*changed, "updated_at"])
        _model_audit("model.update", artifact, user=user, request=request, fields=sorted(changed))
    return artifact


def model_delete(*, artifact: ModelArtifact, user: Any, request: Any = None) -> None:
    """Delete the row (its aliases go with it) and, once that commits, the file."""
    file_key, artifact_id = artifact.file_key, artifact.pk
    with transaction.atomic():
        _model_audit(
            "model.delete",
            artifact,
            user=user,
            request=request,
            name=artifact.name,
            version=artifact.version,
        )
        artifact._file_scheduled = True  # the post_delete hook need not do it again
        artifact.delete()
        transaction.on_commit(lambda: model_file_remove(file_key=file_key), robust=True)
    model_cache.evict(artifact_id)


def model_file_remove_on_cascade(sender, instance: ModelArtifact, **kwargs) -> None:
    """post_delete hook: artifacts deleted by a cascade (a workspace removed, an admin bulk
    delete) never pass through model_delete, and their files must not outlive them."""
    if getattr(instance, "_file_scheduled", False):
        return
    file_key = instance.file_key
    transaction.on_commit(lambda: model_file_remove(file_key=file_key), robust=True)


def model_file_remove(*, file_key: str) -> None:
    """Delete one stored model file; a storage error is logged, never raised to the caller
    whose row is already gone. A rejected upload has no file (an empty key)."""
    if not file_key:
        return
    try:
        _storage().delete(file_key)
    except Exception:  # OSError locally, botocore errors from S3
        logger.exception("could not delete model file %s", file_key)


def alias_normalise(alias: str) -> str:
    text = str(alias or "").strip().casefold()
    if not ALIAS_PATTERN.match(text):
        raise ValidationError(
            {"alias": "An alias is 1-40 characters: a letter, then letters, digits, - or _."}
        )
    return text


def model_alias_set(
    *, artifact: ModelArtifact, alias: str, user: Any, request: Any = None
) -> ModelAlias:
    """Point `alias` of the artifact's model name at this version (moving it if it
    pointed at another); audited with the old and the new version."""
    model_require_ready(artifact)
    alias = alias_normalise(alias)
    with transaction.atomic():
        current = (
            ModelAlias.objects.select_for_update()
            .select_related("artifact")
            .filter(workspace_id=artifact.workspace_id, name_key=artifact.name_key, alias=alias)
            .first()
        )
        old_version = current.artifact.version if current else None
        if current is None:
            current = ModelAlias.objects.create(
                workspace_id=artifact.workspace_id,
                name_key=artifact.name_key,
                alias=alias,
                artifact=artifact,
                updated_by=user,
            )
        else:
            current.artifact = artifact
            current.updated_by = user
            current.save(update_fields=["artifact", "updated_by", "updated_at"])
        _alias_audit("set", artifact, alias, old_version, artifact.version, user, request)
    return current


def model_alias_unset(
    *, artifact: ModelArtifact, alias: str, user: Any, request: Any = None
) -> None:
    """Remove `alias` from this version; ModelAlias.DoesNotExist when it points elsewhere."""
    alias = alias_normalise(alias)
    with transaction.atomic():
        current = (
            ModelAlias.objects.select_for_update().filter(artifact=artifact, alias=alias).first()
        )
        if current is None:
            raise ModelAlias.DoesNotExist(f"This version has no alias {alias!r}.")
        current.delete()
        _alias_audit("unset", artifact, alias, artifact.version, None, user, request)


def _alias_audit(verb, artifact, alias, old_version, new_version, user, request) -> None:
    _model_audit(
        f"model.alias.{verb}",
        artifact,
        user=user,
        request=request,
        name=artifact.name,
        alias=alias,
        old_version=old_version,
        new_version=new_version,
    )
