"""Every app's WebSocket routes, all under /ws/ (an app without sockets yet is skipped)."""

from importlib import import_module

from django.urls import re_path

from . import routing
from .consumers import UnknownRouteConsumer

websocket_urlpatterns = list(routing.websocket_urlpatterns)
for app in ("collaboration", "datasets", "mlmodels", "training"):
    try:
        module = import_module(f"{app}.routing")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app}.routing":
            raise
        continue
    websocket_urlpatterns += module.websocket_urlpatterns
# Last: a path no route matches is refused, not a router error (a 500 in the handshake).
websocket_urlpatterns.append(re_path(r"", UnknownRouteConsumer.as_asgi()))
