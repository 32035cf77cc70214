"""ASGI entry point: HTTP through Django, WebSockets through Channels.

One stack for every socket: origin checked against ALLOWED_HOSTS, then the
session cookie or `?ticket=`, then each app's `websocket_urlpatterns`.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medilytica_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from .ws_auth import MediLyticaAuthStack  # noqa: E402
from .ws_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            MediLyticaAuthStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
