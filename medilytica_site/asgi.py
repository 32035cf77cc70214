"""ASGI entry point: HTTP through Django, WebSockets through Channels.

One stack for every socket: origin checked (scheme, host and port: ws_auth.py), then
the session cookie or `?ticket=`, then each app's `websocket_urlpatterns`.
"""

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


_leave_request_bodies_to_django()
django_asgi_app = get_asgi_application()

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
freeze_imports()
