"""Upload handling that refuses oversized or multi-file bodies while they stream in,
before they reach the disk in full."""

from __future__ import annotations

import hashlib

from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import exceptions


class UploadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The file is larger than the upload limit."
    default_code = "too_large"


class TooManyFiles(exceptions.APIException):
    status_code = 400
    default_detail = "Send exactly one file, in the 'file' field."
    default_code = "too_many_files"


class UploadLimitHandler(FileUploadHandler):
    """First in the chain: counts files and bytes and aborts the parse past the cap.

    Exceptions other than StopUpload propagate out of Django's multipart parser, so
    the client gets a 413 / 400 at once and the temporary file is discarded.
    """

    def __init__(self, request=None, *, max_bytes: int, message: str | None = None):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.message = message or too_large_message(max_bytes)
        self.files = 0
        self.received = 0
        # The file's SHA-256, taken as its bytes stream in: the worker that parses it
        # need not read it a second time for that.
        self.digest = hashlib.sha256()

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        if self.files > 1:
            raise TooManyFiles()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise UploadTooLarge(self.message)
        self.digest.update(raw_data)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def too_large_message(max_bytes: int) -> str:
    from .services import upload_too_large

    return upload_too_large(max_bytes).message
