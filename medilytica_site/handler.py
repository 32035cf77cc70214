"""Django's ASGI handler with one thread hop per request, on a reused thread.

Under ASGI, Django builds the middleware chain in async mode. Every built-in middleware
(security, sessions, common, CSRF, auth, messages, clickjacking) is a
``MiddlewareMixin``, whose async mode runs ``process_request`` and
``process_response`` each through ``sync_to_async``, and the sync DRF view is one more:
about a dozen handoffs between the event loop and the request's thread for a chain
that does no I/O worth waiting for on the loop. Each request also got a new thread
(asgiref's per-request ``ThreadSensitiveContext``), a second one to join it, and with
the new thread a new database connection. Measured on this project's 2-core machine
through daphne: a 404 took 9.0 ms, against 1.5 ms for a bare ASGI app.

Here the chain is built in sync mode, as under WSGI, and runs whole in the request's
thread through one ``sync_to_async``; and that thread is one of a pool that requests
borrow and give back, as a threaded WSGI server's are, so a thread's database
connection lives on across requests (``CONN_MAX_AGE``; Django's request signals still
close it when it is too old or broken, in that same thread). Everything else (reading
the body, the request signals, sending and streaming the response, noticing a client
that went away) is Django's own code, but for the writes of a big request body,
which go to a thread (``read_body``).

At most ``WEB_REQUEST_THREADS`` requests run their view at once; the rest wait, in
order of arrival, on the event loop. Without a cap, a burst made hundreds of threads
runnable together: each holds the GIL for its 5 ms slice in turn, so the event loop
(which also serves every WebSocket of the process) waited behind all of them, and
every request took as long as the slowest queue. A request waits for its turn after
its body has arrived and before its view runs, so a slow upload holds no turn.
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler


class RequestThread(ThreadPoolExecutor):
    """One worker thread, lent to one request at a time; knows whether it is busy."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="request")
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future) -> None:
        with self._lock:
            self._pending -= 1

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._pending == 0


class ImportFreezer:
    """Keep the garbage collector off what the process has imported.

    A server that has loaded Django, scikit-learn, skops and torch holds about 400,000
    objects that live as long as it does, and a full collection walks every one: 250 to
    350 ms on this project's machine, during which the process answers nothing. Under
    the load benchmark that came every few seconds in each server and was most of the
    REST p99. ``gc.freeze()`` moves everything alive into a generation the collector
    never walks (as Instagram does after imports, before it forks). Calling this again
    after a lazy import (scikit-learn and skops on the first predict) freezes the new
    modules too; between imports it costs one length comparison. Whatever else is alive
    at that moment is frozen with them, and if it later becomes cyclic garbage it is
    never freed: one request's worth, once per new import.
    """

    def __init__(self) -> None:
        self._modules = -1

    def __call__(self) -> None:
        if len(sys.modules) != self._modules:
            self._modules = len(sys.modules)
            gc.freeze()


freeze_imports = ImportFreezer()


UPLOAD_PATHS = frozenset({"/api/data/upload", "/api/models/upload"})


class _ViewReader(io.RawIOBase):
    """A request body held in a memoryview, read as a file (Django's request stream)."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer) -> int:
        part = self._view[self._position : self._position + len(buffer)]
        buffer[: len(part)] = part
        self._position += len(part)
        return len(part)

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        part = self._view[self._position : end]
        self._position += len(part)
        return part.tobytes()

    def close(self) -> None:
        self._view.release()
        super().close()


class OneHopASGIHandler(ASGIHandler):
    # Threads kept for the next requests; a burst beyond this gets threads that end
    # with their request.
    idle_threads_max = 32

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[RequestThread] = []  # touched only on the event loop
        self._turns: asyncio.Semaphore | None = None
        self._turns_loop: asyncio.AbstractEventLoop | None = None

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        from .api import ServerErrorsAsJSON  # imports DRF, which needs the settings loaded

        self._middleware_chain = ServerErrorsAsJSON(self._middleware_chain)

    async def read_body(self, receive):
        """Django's read_body, without copying a big body on the event loop.

        Daphne queues a whole body at once, so Django's loop over it never waits: it
        wrote a 27 MB upload to its temporary file in one turn of the event loop (about
        30 ms on this machine) while every other request and socket of the process
        waited. A big body that daphne read through a memory map (asgi._MappedBody)
        comes as one view, which Django reads as it is; past
        FILE_UPLOAD_MAX_MEMORY_SIZE, any other body is written out by a thread."""
        first = await receive()
        if first["type"] == "http.disconnect":
            raise RequestAborted()
        whole = first.get("body", b"")
        if isinstance(whole, memoryview) and not first.get("more_body", False):
            # A big body daphne read through a memory map (asgi._MappedBody), in one
            # message: Django reads it from there, no copy made.
            return _ViewReader(whole)
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the request closes it
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        loop = asyncio.get_running_loop()
        message = first
        try:
            while True:
                chunk = message.get("body", b"")
                if chunk:
                    if body_file.tell() + len(chunk) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
                        await loop.run_in_executor(None, body_file.write, chunk)
                    else:
                        body_file.write(chunk)
                if not message.get("more_body", False):
                    break
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise RequestAborted()
        except BaseException:
            body_file.close()
            raise
        body_file.seek(0)
        return body_file

    async def get_response_async(self, request):
        loop = asyncio.get_running_loop()
        if self._turns_loop is not loop:  # a semaphore belongs to one loop (tests run many)
            self._turns = asyncio.Semaphore(max(1, settings.WEB_REQUEST_THREADS))
            self._upload_turns = asyncio.Semaphore(max(1, settings.WEB_UPLOAD_THREADS))
            self._turns_loop = loop
        if request.method == "POST" and request.path.rstrip("/") in UPLOAD_PATHS:
            # A big body's multipart parse holds the GIL in bursts: a few at a time, so
            # that eight uploads together do not starve the event loop and every
            # other request of the process.
            async with self._upload_turns, self._turns:
                return await sync_to_async(self.get_response, thread_sensitive=True)(request)
        async with self._turns:
            return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = self._idle.pop() if self._idle else RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        finally:
            # A view still running after its client went away keeps its thread.
            if thread.idle and len(self._idle) < self.idle_threads_max:
                self._idle.append(thread)
            else:
                thread.shutdown(wait=False)
            freeze_imports()


def get_asgi_application() -> OneHopASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the one-hop handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
