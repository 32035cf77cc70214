"""The ASGI handler: one thread hop per request, on threads that requests reuse."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import types

import pytest
from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.db import connection

from medilytica_site import handler as handler_module
from medilytica_site.handler import ImportFreezer, OneHopASGIHandler, RequestThread

ADMIN_CSS = "/static/admin/css/base.css"


def _scope(path: str, method: str = "GET", headers=()) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def _request(handler, path: str) -> tuple[int, bytes]:
    communicator = ApplicationCommunicator(handler, _scope(path))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], body


def test_the_middleware_chain_is_built_to_run_in_one_thread():
    handler = OneHopASGIHandler()
    assert not iscoroutinefunction(handler._middleware_chain)


@pytest.mark.django_db(transaction=True)
async def test_requests_run_whole_in_one_reused_thread_with_one_database_connection():
    seen: list[tuple[str, int, int | None]] = []

    def started(**kwargs):
        seen.append(("started", threading.get_ident(), None))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident(), id(connection.connection)))

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        handler = OneHopASGIHandler()
        for _ in range(3):
            status, body = await _request(handler, "/api/health")
            assert status == 200, body
            assert b'"database":"ok"' in body
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    threads = {ident for _, ident, _ in seen}
    assert len(seen) == 6 and threads != {threading.get_ident()}
    assert len(threads) == 1, "the request thread should be lent again, not started anew"
    connections = {conn for kind, _, conn in seen if kind == "finished"}
    assert len(connections) == 1 and None not in connections  # kept (CONN_MAX_AGE)
    assert len(handler._idle) == 1


@pytest.mark.django_db(transaction=True)
async def test_static_files_and_errors_still_come_back_whole():
    handler = OneHopASGIHandler()
    status, body = await _request(handler, ADMIN_CSS)
    assert status == 200 and len(body) > 1000 and b"{" in body
    status, body = await _request(handler, "/api/no-such-thing")
    assert status == 404 and body.startswith(b"{")


async def test_a_thread_still_busy_after_its_request_is_not_lent_again():
    handler = OneHopASGIHandler()
    release = threading.Event()
    running = threading.Event()

    def view_left_running():
        running.set()
        release.wait(10)

    async def handle(scope, receive, send):
        # What a view does when its client went away: the request ends, the thread
        # still runs the view.
        asyncio.ensure_future(sync_to_async(view_left_running, thread_sensitive=True)())
        await asyncio.to_thread(running.wait, 10)

    handler.handle = handle
    await handler(_scope("/"), None, None)
    assert running.is_set()
    assert handler._idle == [], "a busy thread must not serve the next request"
    release.set()


def test_a_request_thread_knows_when_it_is_busy():
    thread = RequestThread()
    gate = threading.Event()
    future = thread.submit(gate.wait, 10)
    assert not thread.idle
    gate.set()
    future.result(timeout=10)
    assert thread.idle
    thread.shutdown()


class _Views:
    """Stands in for the handler's view chain: each view waits at a gate and notes
    what ran, at most how many at once and in which order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: list = []
        self.order: list = []
        self.most = 0
        self.gate = threading.Event()

    def __call__(self, request):
        with self.lock:
            self.running.append(request.number)
            self.most = max(self.most, len(self.running))
            self.order.append(request.number)
        self.gate.wait(10)
        with self.lock:
            self.running.remove(request.number)
        return request.number


def _fake_request(number: int, path: str = "/api/auth/me", method: str = "GET"):
    return types.SimpleNamespace(number=number, path=path, method=method)


async def _arrive(handler, views: _Views, requests, *, running: int) -> list:
    """Start the requests in this order; return once `running` views have started."""

    async def one(request):  # each request in a thread of its own, as in __call__
        async with ThreadSensitiveContext(executor=RequestThread()):
            return await handler.get_response_async(request)

    tasks = []
    for request in requests:
        tasks.append(asyncio.ensure_future(one(request)))
        await asyncio.sleep(0.01)  # arrive in this order
    deadline = time.monotonic() + 10
    while len(views.running) < running and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return tasks


async def test_views_beyond_the_cap_wait_their_turn_in_order(settings):
    settings.WEB_REQUEST_THREADS = 2
    handler = OneHopASGIHandler()
    handler.get_response = views = _Views()
    tasks = await _arrive(handler, views, [_fake_request(n) for n in range(5)], running=2)
    assert sorted(views.running) == [0, 1], "two views at once; the rest wait"
    views.gate.set()
    assert await asyncio.gather(*tasks) == [0, 1, 2, 3, 4]
    # Turns are taken in order of arrival; threads that got theirs together may start
    # in either order, so only the first two are pinned down.
    assert views.most == 2 and sorted(views.order[:2]) == [0, 1]
    assert sorted(views.order) == [0, 1, 2, 3, 4]


async def test_uploads_beyond_their_own_cap_wait_while_other_requests_run(settings):
    settings.WEB_REQUEST_THREADS = 4
    settings.WEB_UPLOAD_THREADS = 1
    handler = OneHopASGIHandler()
    handler.get_response = views = _Views()
    requests = [
        _fake_request(0, "/api/data/upload/", "POST"),
        _fake_request(1, "/api/models/upload", "POST"),
        _fake_request(2, "/api/data/upload", "POST"),
        _fake_request(3),
        _fake_request(4, "/api/data/upload", "GET"),  # not an upload: a 405 to be
    ]
    tasks = await _arrive(handler, views, requests, running=3)
    assert sorted(views.running) == [0, 3, 4], "one upload at a time; other requests go by"
    views.gate.set()
    assert await asyncio.gather(*tasks) == [0, 1, 2, 3, 4]
    assert views.most == 3 and views.order[3:] == [1, 2]  # the uploads, one after the other


async def test_a_body_read_through_a_memory_map_reaches_django_without_a_copy(tmp_path):
    import mmap

    content = b"x" * (3 << 20)
    path = tmp_path / "body"
    path.write_bytes(content)
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    messages = [{"type": "http.request", "body": memoryview(mapped), "more_body": False}]

    async def receive():
        return messages.pop(0)

    body = await OneHopASGIHandler().read_body(receive)
    assert type(body).__name__ == "_ViewReader"
    assert body.read(10) == b"x" * 10 and body.tell() == 10
    body.seek(0)
    assert body.read() == content
    body.close()
    mapped.close()  # no view of it is left


async def test_a_big_body_in_many_messages_is_written_out_whole(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    parts = [bytes([n]) * 700 for n in range(5)]
    messages = [
        {"type": "http.request", "body": part, "more_body": n < len(parts) - 1}
        for n, part in enumerate(parts)
    ]

    async def receive():
        return messages.pop(0)

    body = await OneHopASGIHandler().read_body(receive)
    assert body.read() == b"".join(parts)
    body.close()


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # the rest of the suite collects as usual


def test_what_the_process_imported_is_frozen_once(tmp_path, monkeypatch, unfreeze):
    # The collector's own counts move with whatever else the process does (a thread
    # that imports, an object freed), so this checks calls and lower bounds only.
    real_freeze = gc.freeze
    calls = []

    def freeze():
        calls.append(len(modules.modules))
        real_freeze()

    modules = types.SimpleNamespace(modules=dict(sys.modules))
    monkeypatch.setattr(handler_module, "sys", modules)
    monkeypatch.setattr(gc, "freeze", freeze)
    freezer = ImportFreezer()

    freezer()
    assert len(calls) == 1 and gc.get_freeze_count() > 0
    freezer()  # nothing imported since: nothing to do
    freezer()
    assert len(calls) == 1

    (tmp_path / "lazily_imported.py").write_text("TABLE = [[i] for i in range(5000)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazily_imported  # what a first predict does with scikit-learn

    before = gc.get_freeze_count()
    modules.modules["lazily_imported"] = lazily_imported
    freezer()
    assert len(calls) == 2
    assert gc.get_freeze_count() >= before + 5000, "the new module's objects are frozen too"


@pytest.mark.django_db(transaction=True)
async def test_each_request_ends_with_a_look_for_new_imports(monkeypatch):
    calls = []
    monkeypatch.setattr(handler_module, "freeze_imports", lambda: calls.append(1))
    handler = OneHopASGIHandler()
    await _request(handler, "/api/health")
    await _request(handler, "/api/nothing-here")
    assert len(calls) == 2


def test_the_web_process_switches_threads_every_millisecond():
    """Python's default 5 ms let a request wait that long for the GIL after each of its
    database and Redis calls while an upload's parse ran in another thread."""
    import medilytica_site.asgi  # noqa: F401 - daphne's entry point sets it

    assert sys.getswitchinterval() == pytest.approx(0.001)


def test_twisteds_spool_file_is_read_back_as_views_of_a_memory_map():
    import tempfile

    from medilytica_site.asgi import _MappedBody

    body = _MappedBody(tempfile.TemporaryFile())  # noqa: SIM115 - body.close() closes it
    for n in range(3):  # as Twisted writes the chunks it receives
        body.write(bytes([65 + n]) * 1000)
    assert body.tell() == 3000
    body.seek(0, 0)  # Twisted, once the body is in; then daphne reads it
    first = body.read(2500)
    rest = body.read(2500)
    assert isinstance(first, memoryview) and (len(first), len(rest)) == (2500, 500)
    assert bytes(first[:1000]) == b"A" * 1000 and bytes(rest) == b"C" * 500
    assert len(body.read(2500)) == 0  # the end: daphne stops on a short read
    body.close()  # views still held: the map stays until the last goes
    assert body.closed and bytes(first[-1:]) == b"C"
