"""ASGI entry point: HTTP through Django, WebSockets through Channels.

One stack for every socket: origin checked (scheme, host and port: ws_auth.py), then
the session cookie or `?ticket=`, then each app's `websocket_urlpatterns`.
"""

import contextlib
import json
import mmap
import os
import sys

from medilytica_site.handler import freeze_imports, get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilytica_site.settings")


def _leave_request_bodies_to_django() -> None:
    """Under daphne, Twisted parses every multipart POST body itself, whole and in memory,
    before Django sees it, and answers a body it cannot parse (an empty form, a non-ASCII
    field name) with a bare 400 that no log records (django/daphne#447). Daphne never
    reads that parse; Django parses and size-caps bodies itself, so switch it off."""
    http_protocol = sys.modules.get("daphne.http_protocol")
    if http_protocol is not None:
        http_protocol.WebRequest._parsePOSTFormSubmission = property(
            lambda request: False, lambda request, value: None
        )


class _MappedBody:
    """A big request body as Twisted spools it (a temporary file), read back by daphne
    as views of a memory map of that file instead of copies.

    Daphne reads a whole body at once when it hands the request over, in one turn of
    the event loop: for a 27 MB upload that was a copy of 27 MB while every other
    request and socket of the process waited, and eight uploads arriving together made
    another user's request wait 100-300 ms. Views cost nothing to make, and Django
    reads the body from the one view it is handed (handler.read_body)."""

    def __init__(self, file) -> None:
        self._file = file
        self._map: mmap.mmap | None = None
        self._position = 0

    @property
    def closed(self) -> bool:
        return self._file.closed

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def tell(self) -> int:
        return self._position if self._map is not None else self._file.tell()

    def seek(self, offset: int, whence: int = 0) -> None:
        if self._map is None:
            self._file.seek(offset, whence)
        else:
            self._position = {0: 0, 1: self._position, 2: len(self._map)}[whence] + offset

    def read(self, size: int = -1) -> memoryview:
        if self._map is None:
            self._file.flush()
            length = os.fstat(self._file.fileno()).st_size
            if not length:
                return memoryview(b"")
            self._map = mmap.mmap(self._file.fileno(), length, access=mmap.ACCESS_READ)
            self._position = self._file.tell()
        end = len(self._map) if size is None or size < 0 else self._position + size
        view = memoryview(self._map)[self._position : end]
        self._position += len(view)
        return view

    def close(self) -> None:
        self._file.close()
        if self._map is not None:
            # A view still being written out keeps the map open; it goes with the last.
            with contextlib.suppress(BufferError):
                self._map.close()


# Bodies from this size on are read back through a memory map (_MappedBody).
MAPPED_BODY_MIN = 1 << 20


class _Discard:
    """Where the body of a refused request goes: nowhere."""

    def write(self, data: bytes) -> None:
        pass

    def seek(self, *args) -> None:
        pass

    def read(self, *args) -> bytes:
        return b""

    def close(self) -> None:
        pass


def _refuse_oversized_bodies_at_the_door() -> None:
    """Answer 413 as soon as a request's headers declare a body over the limit.

    Twisted spools a whole request body (to a temporary file past 100 KB) before
    daphne hands the request to Django, so a 30 GB upload was refused only once all
    of it had arrived. The limit is known from the headers: MAX_UPLOAD_SIZE for a
    dataset, and no more than MODEL_MAX_BYTES for a model, plus room for the form
    around the file; no other body may be larger than the bigger of the two. The
    refusal is written at once, the connection closes behind it, and nothing of the
    body is read or kept.
    """
    http_protocol = sys.modules.get("daphne.http_protocol")
    if http_protocol is None:
        return
    from django.conf import settings

    form_room = 1 << 20  # multipart boundaries and the other fields
    limits = {
        b"/api/data/upload": settings.MAX_UPLOAD_SIZE,
        b"/api/models/upload": min(settings.MAX_UPLOAD_SIZE, settings.MODEL_MAX_BYTES),
    }
    ceiling = max(limits.values())
    got_length = http_protocol.WebRequest.gotLength

    def refuse_over_the_limit(request, length):
        # Daphne hands a body over in messages of 8 KiB by default: 3,300 of them for a
        # 27 MB upload. A body up to the largest allowed goes in one (a mapped body as
        # one view: handler.read_body).
        server = request.channel.factory.server
        if server.request_buffer_size < ceiling + form_room:
            server.request_buffer_size = ceiling + form_room
        # The request line is parsed (Twisted keeps its target on the channel) but
        # request.path is set only once the body is in; unknown: the general ceiling.
        target = getattr(request.channel, "_path", b"") or b""
        limit = limits.get(target.split(b"?", 1)[0].rstrip(b"/"), ceiling)
        if length is None or length <= limit + form_room:
            got_length(request, length)
            if length is not None and length >= MAPPED_BODY_MIN:
                request.content = _MappedBody(request.content)
            return None
        detail = (
            f"The request body ({length:,} bytes) is larger than the upload limit of "
            f"{limit:,} bytes."
        )
        body = json.dumps({"detail": detail, "code": "too_large"}).encode()
        channel = request.channel
        request.content = _Discard()
        channel.dataReceived = lambda data: None  # the body is never parsed or stored
        channel.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
        channel.transport.loseConnection()

    http_protocol.WebRequest.gotLength = refuse_over_the_limit


_leave_request_bodies_to_django()
django_asgi_app = get_asgi_application()
_refuse_oversized_bodies_at_the_door()  # needs the settings, loaded just above

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from . import ws_send_buffer  # noqa: E402
from .ws_auth import MediLyticaAuthStack, OriginValidator  # noqa: E402
from .ws_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(MediLyticaAuthStack(URLRouter(websocket_urlpatterns))),
    }
)
ws_send_buffer.install(settings.WS_SEND_BUFFER_LIMIT)
# A request thread takes the GIL back after each database or Redis call; while another
# thread runs Python (an upload's multipart parse), each of those waits could last the
# whole switch interval, 5 ms by default, several times in one request. At 1 ms, another
# user's /api/auth/me p99 while eight 27 MB models were uploaded fell from 28 to 21 ms
# (median of four alternating runs each; tests/integration/test_upload_worker.py).
sys.setswitchinterval(0.001)
freeze_imports()
