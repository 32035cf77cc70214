"""Downloads of stored files stream chunk by chunk under ASGI (daphne), not whole."""

from __future__ import annotations

import io
import os

import pytest
from django.http import FileResponse

from datasets.downloads import ASGI_CHUNK, StoredFileResponse

DATA = os.urandom(3 * ASGI_CHUNK + 5)


class CountingFile(io.BytesIO):
    """A file that remembers how many bytes have been read from it."""

    bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


async def test_asgi_side_reads_one_chunk_at_a_time():
    handle = CountingFile(DATA)
    response = StoredFileResponse(handle, as_attachment=True, filename="ward.csv")
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Disposition"] == 'attachment; filename="ward.csv"'
    parts = aiter(response)
    first = await anext(parts)
    assert first == DATA[:ASGI_CHUNK]
    assert handle.bytes_read == ASGI_CHUNK  # the rest is still on disk (or in the bucket)
    rest = [part async for part in parts]
    assert first + b"".join(rest) == DATA
    response.close()
    assert handle.closed


async def test_a_plain_file_response_reads_the_whole_file_before_the_first_byte():
    """Why StoredFileResponse exists: Django's own ASGI path buffers everything."""
    handle = CountingFile(DATA)
    parts = aiter(FileResponse(handle))
    with pytest.warns(Warning, match="must consume synchronous iterators"):
        await anext(parts)
    assert handle.bytes_read == len(DATA)


def test_wsgi_side_is_a_plain_file_response():
    response = StoredFileResponse(CountingFile(DATA), filename="model.skops")
    assert response.file_to_stream is not None  # WSGI servers may use their file wrapper
    assert b"".join(response) == DATA
