"""Attachment responses for stored files (datasets, models) that stream under ASGI too.

Django's ASGI handler serves a FileResponse by reading its sync iterator into one list
before sending a byte: under daphne, a 500 MiB download would sit whole in memory.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import FileResponse

ASGI_CHUNK = 256 * 1024


class StoredFileResponse(FileResponse):
    """A FileResponse whose ASGI side reads the file chunk by chunk in a worker thread;
    WSGI servers and the test client iterate it as any FileResponse."""

    async def __aiter__(self):
        if self.file_to_stream is None:
            async for part in super().__aiter__():
                yield part
            return
        read = sync_to_async(self.file_to_stream.read, thread_sensitive=False)
        while chunk := await read(ASGI_CHUNK):
            yield chunk
