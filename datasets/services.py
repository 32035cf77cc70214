"""All writes of the datasets app, and the audited reads (preview, download, training use).

Views, management commands, the admin and the training worker call these; none of them
touches Dataset rows or the "datasets" storage directly.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from collaboration.models import AuditEvent, Workspace
from collaboration.services import audit_record, notify_workspace

from . import columnar, parsing, profiling
from .models import Dataset
from .parsing import DatasetRejected, ParseLimits

__all__ = [
    "INGEST_STAGES",
    "PREVIEW_MAX_LIMIT",
    "DatasetRejected",
    "UploadLimit",
    "check_upload_limit",
    "dataset_delete",
    "dataset_download_filename",
    "dataset_ingest",
    "dataset_load_dataframe",
    "dataset_load_table",
    "dataset_open_original",
    "dataset_preview",
    "dataset_process",
    "dataset_receive",
    "dataset_sweep_stale",
    "dataset_reprofile",
    "dataset_update",
    "queue_is_in_process",
    "storage_full",
    "storage_is_full",
    "stale_uploads",
]

logger = logging.getLogger(__name__)

STORAGE_ALIAS = "datasets"
PREVIEW_MAX_LIMIT = 500
CHUNK = 1024 * 1024
# What `progress` is told, in order ("done" last).
INGEST_STAGES = ("reading", "profiling", "storing", "saving", "done")

Progress = Callable[[str], None]


def dataset_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def ingest_limits() -> ParseLimits:
    """Parsing limits; each can be set in settings (DATASET_MAX_COLUMNS, ...)."""
    defaults = ParseLimits()
    return ParseLimits(
        max_columns=getattr(settings, "DATASET_MAX_COLUMNS", defaults.max_columns),
        max_decompressed_bytes=getattr(settings, "DATASET_MAX_DECOMPRESSED_SIZE", None)
        or 2 * settings.MAX_UPLOAD_SIZE,
        max_parquet_footer_bytes=getattr(
            settings, "DATASET_PARQUET_MAX_FOOTER_SIZE", defaults.max_parquet_footer_bytes
        ),
        thrift_string_size_limit=getattr(
            settings, "DATASET_PARQUET_THRIFT_STRING_LIMIT", defaults.thrift_string_size_limit
        ),
        thrift_container_size_limit=getattr(
            settings,
            "DATASET_PARQUET_THRIFT_CONTAINER_LIMIT",
            defaults.thrift_container_size_limit,
        ),
    )


def upload_too_large(max_bytes: int) -> DatasetRejected:
    return DatasetRejected(
        f"The file is larger than the upload limit of {_size(max_bytes)}.",
        code="too_large",
        status=413,
    )


def storage_is_full(exc: BaseException) -> bool:
    """True for a write refused for lack of space (a full disk, or a quota)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_full() -> DatasetRejected:
    # 413: the server cannot take this content now; 507 would be a 5xx, a server fault.
    return DatasetRejected(
        "Storage is full: there is no room to store this file. Delete datasets or models "
        "you no longer need, or ask an administrator for more space.",
        code="storage_full",
        status=413,
    )


# --- ingest ------------------------------------------------------------------------------


def dataset_ingest(
    *,
    user,
    workspace: Workspace,
    source: str | os.PathLike | IO[bytes] | File,
    filename: str | None = None,
    name: str | None = None,
    description: str = "",
    request=None,
    progress: Progress | None = None,
    sha256: str = "",
) -> Dataset:
    """Validate, parse, profile and store one file as a Dataset, here and now.

    For management commands, the demo data and tests; the API takes uploads with
    `dataset_receive` and a worker parses them (`dataset_process`).

    `source` is a path, an UploadedFile or a binary file object; `filename` (default:
    its name) decides the format and is kept for display only. The original bytes and a
    Parquet copy go to the "datasets" storage under server-generated keys. Bad input
    raises DatasetRejected and leaves no row and no file. Notifies the workspace
    (`dataset.uploaded`) once the row is committed. `sha256`: the file's, if the
    caller hashed it already (as an upload is, while it streams in).
    """
    step = progress or (lambda stage: None)
    filename = display_filename(filename or getattr(source, "name", None) or str(source))
    storage = dataset_storage()
    dataset_id = uuid.uuid4()
    stored: list[str] = []
    with _refused_without_a_trace(
        stored, user=user, workspace=workspace, filename=filename, request=request
    ):
        with tempfile.TemporaryDirectory(
            prefix="medilytica-ingest-", dir=settings.FILE_UPLOAD_TEMP_DIR
        ) as workdir:
            step("reading")
            local_path, upload, owned = _local_file(source, workdir)
            size = os.path.getsize(local_path)
            if size > settings.MAX_UPLOAD_SIZE:
                raise upload_too_large(settings.MAX_UPLOAD_SIZE)
            ingested = _parse_and_profile(
                local_path,
                filename=filename,
                workdir=workdir,
                step=step,
                sha256=sha256,
            )
            step("storing")
            folder = f"{workspace.pk}/{dataset_id}"
            original_key = f"{folder}/original.{ingested.extension}"
            parquet_key = f"{folder}/data.parquet"
            stored.append(original_key)
            original_key = _store(storage, original_key, local_path, upload, owned_path=owned)
            stored.append(parquet_key)
            parquet_key = _store(storage, parquet_key, ingested.parquet_path, owned_path=True)
        step("saving")
        with transaction.atomic():
            dataset = Dataset.objects.create(
                id=dataset_id,
                workspace=workspace,
                name=(name or "").strip()[:200] or default_name(filename),
                description=description or "",
                original_filename=filename,
                original_key=original_key,
                parquet_key=parquet_key,
                size_bytes=size,
                created_by=user if getattr(user, "is_authenticated", False) else None,
                **ingested.fields(),
            )
            _record_ingested(dataset, user=user, request=request)
    step("done")
    return dataset


class _Ingested:
    """What parsing and profiling one file found, before anything is stored."""

    def __init__(self, parsed: parsing.ParsedTable, profile: dict, parquet_path: str, sha256: str):
        self.format = parsed.format
        self.compression = parsed.compression
        self.encoding = parsed.encoding
        self.delimiter = parsed.delimiter
        self.profile = profile
        self.parquet_path = parquet_path
        self.parquet_size = os.path.getsize(parquet_path)
        self.sha256 = sha256

    @property
    def extension(self) -> str:
        return self.format + (".gz" if self.compression else "")

    def fields(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "compression": self.compression,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "sha256": self.sha256,
            "parquet_size_bytes": self.parquet_size,
            "rows": self.profile["rows"],
            "n_columns": self.profile["n_columns"],
            "profile": self.profile,
        }


def _parse_and_profile(
    local_path: str, *, filename: str, workdir: str, step: Progress, sha256: str = ""
) -> _Ingested:
    """Parse the file, profile it and write its Parquet copy into `workdir`. Unless its
    `sha256` is known already (taken while the upload streamed in), the file is hashed
    on a second thread meanwhile. Raises DatasetRejected for bad input."""
    cancel = threading.Event()
    with ThreadPoolExecutor(2, thread_name_prefix="ingest") as pool:
        digest = None if sha256 else pool.submit(file_sha256, local_path, cancel)
        try:
            parsed = parsing.parse_file(
                local_path, filename=filename, workdir=workdir, limits=ingest_limits()
            )
            step("profiling")
            parquet_path = os.path.join(workdir, "data.parquet")
            # Encoding the Parquet copy and profiling both read the table; run
            # them side by side (Arrow releases the GIL in both).
            writing = pool.submit(columnar.write_parquet, parsed.table, parquet_path)
            profile = profiling.profile_table(parsed.table)
            writing.result()
            sha256 = sha256 or digest.result()
        except BaseException:
            cancel.set()
            raise
    ingested = _Ingested(parsed, profile, parquet_path, sha256)
    del parsed.table
    return ingested


def _record_ingested(dataset: Dataset, *, user, request=None, via: str | None = None) -> None:
    """Audit a stored dataset and tell its workspace, in the caller's transaction."""
    audit_record(
        action="dataset.upload",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
        detail={
            "sha256": dataset.sha256,
            "size_bytes": dataset.size_bytes,
            "rows": dataset.rows,
            **({"via": via} if via else {}),
        },
    )
    notify_workspace(
        type="dataset.uploaded",
        workspace_id=dataset.workspace_id,
        object_id=dataset.pk,
        data={"name": dataset.name},
    )


@contextmanager
def _refused_without_a_trace(
    stored: list[str], *, user, workspace: Workspace, filename: str, request=None
) -> Iterator[None]:
    """Whatever goes wrong inside, no file in `stored` outlives it (a partial one
    included); a refusal of the input is audited and raised as DatasetRejected."""
    try:
        yield
    except BaseException as exc:
        _remove_files(stored)
        rejected = _as_rejection(exc)
        if rejected is None:
            raise
        _audit_rejected(
            rejected, user=user, workspace_id=workspace.pk, filename=filename, request=request
        )
        if rejected is exc:
            raise
        raise rejected from exc


def _as_rejection(exc: BaseException) -> DatasetRejected | None:
    """The refusal to show the uploader for this failure; None for a fault of ours."""
    if isinstance(exc, DatasetRejected):
        return exc
    if storage_is_full(exc):
        return storage_full()
    return None


def _audit_rejected(
    rejected: DatasetRejected,
    *,
    user,
    workspace_id,
    filename: str,
    request=None,
    object_id=None,
    via: str | None = None,
) -> None:
    audit_record(
        action="dataset.upload",
        user=user,
        object_type="dataset",
        object_id=object_id,
        workspace_id=workspace_id,
        request=request,
        outcome=AuditEvent.Outcome.FAILED,
        detail={
            "code": rejected.code,
            "reason": rejected.message,
            "filename": filename,
            **({"via": via} if via else {}),
        },
    )


# --- uploads parsed by a worker -------------------------------------------------------------

# What a processing dataset's `stage` says, in order: waiting for a worker, then the
# ingest stages. `dataset.progress` events carry the stage and the fraction done.
UPLOAD_STAGES = ("queued", *INGEST_STAGES)


class UploadLimit(Exception):
    """The user already has UPLOADS_PER_USER uploads being processed."""


def dataset_receive(
    *,
    user,
    workspace: Workspace,
    upload: File,
    filename: str | None = None,
    name: str | None = None,
    description: str = "",
    request=None,
    sha256: str = "",
) -> Dataset:
    """Take an uploaded file for a worker to parse: the cheap checks now (type, size,
    empty, the first bytes), then store the bytes, create the row `processing` and
    queue `datasets.tasks.dataset_process` once the row commits. `sha256`: the file's,
    taken while it streamed in (the worker then need not read it for that).

    Raises DatasetRejected (nothing kept) or UploadLimit. In Django-Q's sync mode the
    worker's part runs before this returns; re-read the row for its state."""
    filename = display_filename(filename or getattr(upload, "name", None) or "upload")
    storage = dataset_storage()
    dataset_id = uuid.uuid4()
    in_process = queue_is_in_process()
    stored: list[str] = []
    with _refused_without_a_trace(
        stored, user=user, workspace=workspace, filename=filename, request=request
    ):
        extension, size = _check_upload(upload, filename)
        key = f"{workspace.pk}/{dataset_id}/original.{extension}"
        stored.append(key)
        with transaction.atomic():
            check_upload_limit(
                user, Dataset.objects.filter(created_by=user, status=Dataset.Status.PROCESSING)
            )
            key = _store(storage, key, "", upload)
            dataset = Dataset.objects.create(
                id=dataset_id,
                workspace=workspace,
                name=(name or "").strip()[:200] or default_name(filename),
                description=description or "",
                original_filename=filename,
                format=extension.split(".")[0],
                compression="gzip" if extension.endswith(".gz") else "",
                original_key=key,
                size_bytes=size,
                sha256=sha256,
                status=Dataset.Status.PROCESSING,
                stage="queued",
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            audit_record(
                action="dataset.receive",
                user=user,
                object_type="dataset",
                object_id=dataset.pk,
                workspace_id=workspace.pk,
                request=request,
                detail={"size_bytes": size, "filename": filename},
            )
            if not in_process:
                transaction.on_commit(lambda: _enqueue_processing(dataset_id))
        if in_process:
            # Django-Q's sync mode: the "worker" is this thread and shares its
            # transaction, so it may start now (in a test's transaction, too).
            _enqueue_processing(dataset_id)
    return dataset


def _check_upload(upload: File, filename: str) -> tuple[str, int]:
    """(storage extension, size) of an acceptable upload; DatasetRejected otherwise.
    Reads the first bytes only: everything else is the worker's to find."""
    fmt, compression = parsing.detect_format(filename)
    size = upload.size if upload.size is not None else 0
    if size > settings.MAX_UPLOAD_SIZE:
        raise upload_too_large(settings.MAX_UPLOAD_SIZE)
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if not head:
        raise DatasetRejected("The file is empty.", code="empty_file")
    if head.startswith(parsing.GZIP_MAGIC):
        compression = "gzip"
    elif compression:
        raise DatasetRejected(
            "The file is named .gz but is not gzip-compressed.", code="invalid_gzip"
        )
    return fmt + (".gz" if compression else ""), size


def check_upload_limit(user, processing: QuerySet, *, what: str = "uploads") -> None:
    """At most UPLOADS_PER_USER of the user's uploads of one kind (`processing`, those
    still processing) at once; UploadLimit otherwise. Locks the user's row first, so
    two uploads at the same moment are counted one after the other."""
    if not getattr(user, "is_authenticated", False):
        return
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit = settings.UPLOADS_PER_USER
    waiting = processing.count()
    if waiting >= limit:
        raise UploadLimit(
            f"You have {waiting} {what} being processed (the limit is {limit} at once); "
            "upload this file when one of them is ready."
        )


def queue_is_in_process() -> bool:
    """True in Django-Q's sync mode: a queued task runs in the caller's thread."""
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def _enqueue_processing(dataset_id) -> None:
    from django_q.tasks import async_task

    try:
        async_task(
            "datasets.tasks.dataset_process",
            str(dataset_id),
            task_name=f"ingest-{dataset_id}",
            group="datasets",
            timeout=settings.DATASET_PROCESS_TIMEOUT,
        )
    except Exception as exc:  # the broker is down: no worker will ever see this upload
        logger.exception("upload %s could not be queued", dataset_id)
        dataset = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROCESSING).first()
        if dataset is not None:
            _reject(
                dataset,
                DatasetRejected(
                    "The upload could not be queued for processing: the task queue is "
                    f"unreachable ({type(exc).__name__}). Upload it again later.",
                    code="queue_unavailable",
                ),
            )


def dataset_process(*, dataset_id) -> Dataset | None:
    """The worker's part of an upload: parse, profile and store the Parquet copy of a
    `processing` dataset, which becomes `ready`, or `rejected` with the reason (its
    stored file removed, the row kept). Announces each stage on the workspace's
    notifications. None if the row is gone, no longer processing, or already taken
    by another worker."""
    waiting = Dataset.objects.filter(
        pk=dataset_id, status=Dataset.Status.PROCESSING, stage="queued"
    )
    # The claim: one worker only, should the queue ever hand the task out twice. Its
    # time starts the DATASET_PROCESS_TIMEOUT that the sweep holds it to.
    claimed = "reading"
    if not waiting.update(stage=claimed, updated_at=timezone.now()):
        return None
    dataset = Dataset.objects.get(pk=dataset_id)
    storage = dataset_storage()
    parquet_key = f"{dataset.workspace_id}/{dataset.pk}/data.parquet"
    stored: list[str] = []

    def step(stage: str) -> None:
        if stage != claimed:  # the claim wrote the first stage
            Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PROCESSING).update(
                stage=stage
            )
        notify_workspace(
            type="dataset.progress",
            workspace_id=dataset.workspace_id,
            object_id=dataset.pk,
            data={
                "name": dataset.name,
                "stage": stage,
                "fraction": round(UPLOAD_STAGES.index(stage) / (len(UPLOAD_STAGES) - 1), 2),
            },
        )

    try:
        with tempfile.TemporaryDirectory(
            prefix="medilytica-ingest-", dir=settings.FILE_UPLOAD_TEMP_DIR
        ) as workdir:
            step("reading")
            local_path = _stored_locally(storage, dataset.original_key, workdir)
            ingested = _parse_and_profile(
                local_path,
                filename=dataset.original_filename or dataset.original_key,
                workdir=workdir,
                step=step,
                sha256=dataset.sha256,
            )
            step("storing")
            stored.append(parquet_key)
            _store(storage, parquet_key, ingested.parquet_path, owned_path=True)
        step("saving")
        with transaction.atomic():
            fields = {**ingested.fields(), "parquet_key": parquet_key}
            updated = Dataset.objects.filter(
                pk=dataset.pk, status=Dataset.Status.PROCESSING
            ).update(status=Dataset.Status.READY, stage="", **fields)
            if not updated:
                # Deleted or swept while it was parsed: its original went with that;
                # the copy made here goes too.
                transaction.on_commit(lambda: _remove_files(stored), robust=True)
                return None
            dataset.refresh_from_db()
            _record_ingested(dataset, user=dataset.created_by, via="worker")
    except BaseException as exc:
        _remove_files(stored)
        rejected = _as_rejection(exc)
        if rejected is None:
            if not isinstance(exc, Exception):
                raise
            logger.exception("dataset %s could not be processed", dataset.pk)
            rejected = DatasetRejected(
                "The file could not be processed because of an error on the server "
                f"({type(exc).__name__}); it has been logged. Upload it again, or ask an "
                "administrator.",
                code="processing_failed",
            )
        _reject(dataset, rejected)
        return Dataset.objects.filter(pk=dataset.pk).first()
    return dataset


def _stored_locally(storage: Storage, key: str, workdir: str) -> str:
    """A local path with the stored file's bytes: the file itself on a local storage,
    else a copy in `workdir`."""
    try:
        return storage.path(key)
    except NotImplementedError:
        pass
    target = os.path.join(workdir, "upload")
    with storage.open(key, "rb") as source, open(target, "wb") as out:
        while chunk := source.read(CHUNK * 4):
            out.write(chunk)
    return target


def _reject(dataset: Dataset, rejected: DatasetRejected) -> None:
    """A processing upload refused: its file removed, the row kept with the reason."""
    with transaction.atomic():
        updated = Dataset.objects.filter(pk=dataset.pk, status=Dataset.Status.PROCESSING).update(
            status=Dataset.Status.REJECTED,
            stage="",
            error=rejected.message,
            error_code=rejected.code,
            original_key="",
        )
        if not updated:
            return
        _audit_rejected(
            rejected,
            user=dataset.created_by,
            workspace_id=dataset.workspace_id,
            filename=dataset.original_filename,
            object_id=dataset.pk,
            via="worker",
        )
        notify_workspace(
            type="dataset.rejected",
            workspace_id=dataset.workspace_id,
            object_id=dataset.pk,
            data={"name": dataset.name, "error": rejected.message},
        )
        # Before anyone can read `rejected` (the row is locked by the update): a client
        # that sees it finds the file gone. Were the commit to fail, the row would stay
        # processing without a file, and the sweep would reject it.
        _remove_files([dataset.original_key])


def stale_uploads(processing: QuerySet, timeout: int) -> QuerySet:
    """Of the `processing` uploads (with `stage`, `created_at`, `updated_at`), those
    that will never be done: one a worker claimed (stamping `updated_at`) more than
    `timeout` seconds ago, and one still `queued` after the queue would have handed its
    task out again (the cluster's `retry`) and that long once more (the queue lost it)."""
    from django_q.conf import Conf

    now = timezone.now()
    late = timedelta(seconds=timeout + 60)
    redelivery = timedelta(seconds=Conf.RETRY or 0)
    stale = processing.exclude(stage="queued").filter(updated_at__lt=now - late)
    lost = processing.filter(stage="queued", created_at__lt=now - late - redelivery)
    return (stale | lost).select_related("created_by")


def dataset_sweep_stale() -> int:
    """Reject uploads that will never be done, so none waits forever: one a worker took
    more than DATASET_PROCESS_TIMEOUT ago (the worker died, or the file took too long),
    and one still queued after the queue would have handed its task out again (the
    cluster's `retry`) and that long once more (the queue lost it). Uploads share the
    queue with training runs, so a queued one may rightly wait for a run to end.
    Scheduled every 5 minutes (migration datasets 0003); returns how many it rejected."""
    processing = Dataset.objects.filter(status=Dataset.Status.PROCESSING)
    count = 0
    for dataset in stale_uploads(processing, settings.DATASET_PROCESS_TIMEOUT):
        _reject(
            dataset,
            DatasetRejected(
                "Processing did not finish in time (the worker stopped, the queue lost "
                "the upload, or the file took too long). Upload it again, or ask an "
                "administrator.",
                code="processing_timeout",
            ),
        )
        count += 1
    return count


class _CopiedFile(File):
    """A caller's file, copied into storage in big chunks (Django's default is 64 KiB)."""

    DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024


class _ScratchFile(File):
    """A finished file of ours on local disk: FileSystemStorage moves it into place
    instead of copying it (the same path Django takes for a TemporaryUploadedFile)."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _local_file(source, workdir: str) -> tuple[str, Any, bool]:
    """(local path with the source's bytes, the upload to hand to storage as is or None,
    whether the path is our own scratch file that storage may move)."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source), None, False
    temporary = getattr(source, "temporary_file_path", None)
    if callable(temporary):
        return temporary(), source, False
    target = os.path.join(workdir, "upload")
    limit = settings.MAX_UPLOAD_SIZE
    written = 0
    if hasattr(source, "seek"):
        source.seek(0)
    chunks = (
        source.chunks(CHUNK) if hasattr(source, "chunks") else iter(lambda: source.read(CHUNK), b"")
    )
    with open(target, "wb") as out:
        for chunk in chunks:
            written += len(chunk)
            if written > limit:
                raise upload_too_large(limit)
            out.write(chunk)
    return target, None, True


def _store(storage: Storage, key: str, path: str, upload=None, *, owned_path: bool = False) -> str:
    if upload is not None:
        name = storage.save(key, upload)
    elif owned_path:
        with open(path, "rb") as fh:
            name = storage.save(key, _ScratchFile(fh))
    else:
        with open(path, "rb") as fh:
            name = storage.save(key, _CopiedFile(fh))
    if name != key:  # a fresh UUID folder cannot collide; never trust a renamed file silently
        storage.delete(name)
        raise RuntimeError(f"storage renamed {key!r} to {name!r}")
    return name


def file_sha256(path: str, cancel: threading.Event | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if cancel is not None and cancel.is_set():
                return ""
            digest.update(chunk)
    return digest.hexdigest()


def display_filename(filename: str) -> str:
    base = re.split(r"[\\/]", filename.strip())[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255]


def default_name(filename: str) -> str:
    stem = re.sub(r"(\.gz)$", "", filename, flags=re.IGNORECASE)
    stem = os.path.splitext(stem)[0].strip() or "dataset"
    return stem[:200]


# --- audited reads -------------------------------------------------------------------------


def dataset_preview(
    *, dataset: Dataset, user, offset: int = 0, limit: int = 50, request=None
) -> dict[str, Any]:
    """One page of rows from the Parquet copy: {columns, rows, total_rows, offset, limit}.

    Reads only the row groups covering the page; values are JSON-safe."""
    if offset < 0 or not 1 <= limit <= PREVIEW_MAX_LIMIT:
        raise ValueError(f"offset must be >= 0 and limit within 1..{PREVIEW_MAX_LIMIT}")
    with _parquet_source(dataset, ranged=True) as source:
        page = columnar.read_page(
            source, offset=offset, limit=limit, metadata=_parquet_metadata(dataset, source)
        )
    audit_record(
        action="dataset.preview",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
        detail={"offset": offset, "limit": limit},
    )
    return page


def dataset_load_table(
    *,
    dataset: Dataset,
    user,
    purpose: str = "training",
    columns: list[str] | None = None,
    request=None,
    via: str | None = None,
) -> pa.Table:
    """The dataset as an Arrow table (from the Parquet copy), audited as `dataset.load`.

    `user` is the person the read is for; `via="worker"` marks a read the training
    worker makes for the run's creator (no request, so no address)."""
    if columns is not None:
        unknown = [c for c in columns if c not in dataset.column_names]
        if unknown:
            raise ValueError(f"Unknown column(s): {', '.join(map(repr, unknown))}")
    with _parquet_source(dataset) as source:
        table = pq.read_table(source, columns=columns)
    audit_record(
        action="dataset.load",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
        detail={
            "purpose": purpose,
            "columns": columns,
            "rows": table.num_rows,
            **({"via": via} if via else {}),
        },
    )
    return table


def dataset_load_dataframe(
    *,
    dataset: Dataset,
    user,
    purpose: str = "training",
    columns: list[str] | None = None,
    request=None,
    via: str | None = None,
) -> pd.DataFrame:
    """The dataset as a pandas DataFrame, for training and prediction. Audited.

    Missing values are NaN / None / NaT; text columns use pandas' string dtype;
    integer columns with missing values become float64."""
    table = dataset_load_table(
        dataset=dataset, user=user, purpose=purpose, columns=columns, request=request, via=via
    )
    return table.to_pandas()


def dataset_open_original(*, dataset: Dataset, user, request=None) -> File:
    """The uploaded bytes as they came (caller closes), audited as `dataset.download`."""
    handle = dataset_storage().open(dataset.original_key, "rb")
    audit_record(
        action="dataset.download",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
        detail={"sha256": dataset.sha256},
    )
    return handle


def dataset_download_filename(dataset: Dataset) -> str:
    """A safe attachment name: the dataset name in [A-Za-z0-9._-], plus the original's
    extension (never the uploader's file name verbatim)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset.name).strip("._-")[:100] or "dataset"
    extension = dataset.original_key.rsplit("/", 1)[-1].split(".", 1)[-1]
    return f"{stem}.{extension}"


@contextmanager
def _parquet_source(dataset: Dataset, *, ranged: bool = False) -> Iterator[str | IO[bytes]]:
    """The Parquet copy for Arrow: a local path when the storage has one (Arrow reads it
    natively), else a file object. `ranged` readers of a few row groups (preview) get one
    that fetches only the bytes read from object storage, not the whole copy first."""
    storage = dataset_storage()
    try:
        path = storage.path(dataset.parquet_key)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with storage.open(dataset.parquet_key, "rb") as handle:
        remote = getattr(handle, "obj", None) if ranged else None  # django-storages' S3File
        if remote is None:
            yield handle
        else:
            with io.BufferedReader(_ObjectRangeReader(remote), RANGE_READ_SIZE) as reader:
                yield reader


RANGE_READ_SIZE = 1024 * 1024


class _ObjectRangeReader(io.RawIOBase):
    """A seekable, read-only view of one S3 object (a boto3 Object, already HEAD-loaded by
    S3File) that fetches each read with a range request."""

    def __init__(self, remote) -> None:
        self._remote = remote
        self._size = remote.content_length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        end = min(self._position + len(buffer), self._size)
        if end <= self._position:
            return 0
        data = self._remote.get(Range=f"bytes={self._position}-{end - 1}")["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


_metadata_cache: dict[tuple[str, int], pq.FileMetaData] = {}
_metadata_lock = threading.Lock()
METADATA_CACHE_SIZE = 256


def _parquet_metadata(dataset: Dataset, source: str | IO[bytes] | None = None) -> pq.FileMetaData:
    """The Parquet footer, parsed once per process: the copy never changes after ingest.

    Pass the already open Parquet copy as `source` so a cache miss does not open it again."""
    cache_key = (dataset.parquet_key, dataset.parquet_size_bytes)
    with _metadata_lock:
        cached = _metadata_cache.get(cache_key)
    if cached is not None:
        return cached
    if source is None:
        with _parquet_source(dataset) as opened:
            metadata = pq.read_metadata(opened)
    else:
        metadata = pq.read_metadata(source)
    with _metadata_lock:
        if len(_metadata_cache) >= METADATA_CACHE_SIZE:
            _metadata_cache.pop(next(iter(_metadata_cache)))
        _metadata_cache[cache_key] = metadata
    return metadata


# --- other writes --------------------------------------------------------------------------


def dataset_update(
    *,
    dataset: Dataset,
    user,
    name: str | None = None,
    description: str | None = None,
    request=None,
) -> Dataset:
    if name is not None:
        dataset.name = name.strip()[:200] or dataset.name
    if description is not None:
        dataset.description = description
    dataset.save(update_fields=["name", "description", "updated_at"])
    audit_record(
        action="dataset.update",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
    )
    return dataset


def dataset_reprofile(*, dataset: Dataset, user, request=None) -> Dataset:
    """Recompute the stored profile from the Parquet copy (after the profiler changed)."""
    with _parquet_source(dataset) as source:
        table = pq.read_table(source)
    profile = profiling.profile_table(table)
    dataset.profile = profile
    dataset.rows = profile["rows"]
    dataset.n_columns = profile["n_columns"]
    dataset.save(update_fields=["profile", "rows", "n_columns", "updated_at"])
    audit_record(
        action="dataset.reprofile",
        user=user,
        object_type="dataset",
        object_id=dataset.pk,
        workspace_id=dataset.workspace_id,
        request=request,
    )
    return dataset


def dataset_delete(*, dataset: Dataset, user, request=None) -> None:
    """Delete the row, then (once that commits) its original and Parquet files."""
    keys = [dataset.original_key, dataset.parquet_key]
    with transaction.atomic():
        audit_record(
            action="dataset.delete",
            user=user,
            object_type="dataset",
            object_id=dataset.pk,
            workspace_id=dataset.workspace_id,
            request=request,
            detail={"name": dataset.name, "sha256": dataset.sha256},
        )
        dataset._files_scheduled = True  # the post_delete hook need not do it again
        dataset.delete()
        transaction.on_commit(lambda: _remove_files(keys), robust=True)


def files_remove_on_cascade(sender, instance: Dataset, **kwargs) -> None:
    """post_delete hook: rows deleted by a cascade (a workspace removed, an admin bulk
    delete) never pass through dataset_delete, and their files must not outlive them."""
    if getattr(instance, "_files_scheduled", False):
        return
    keys = [instance.original_key, instance.parquet_key]
    transaction.on_commit(lambda: _remove_files(keys), robust=True)


def _remove_files(keys: list[str]) -> None:
    storage = dataset_storage()
    for key in keys:
        if not key:
            continue
        try:
            storage.delete(key)
        except Exception:  # OSError locally, botocore errors from S3: still try the next key
            logger.exception("could not delete dataset file %s", key)
        _prune_folders(storage, key)


def _prune_folders(storage: Storage, key: str) -> None:
    """Remove the now empty <workspace>/<dataset> folders of a local storage."""
    try:
        root = Path(storage.path("")).resolve()
        folder = Path(storage.path(key)).resolve().parent
    except NotImplementedError:
        return
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return
        folder = folder.parent


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover
