"""Every app's WebSocket routes, all under /ws/ (an app without sockets yet is skipped)."""

from importlib import import_module

from . import routing

websocket_urlpatterns = list(routing.websocket_urlpatterns)
for app in ("collaboration", "datasets", "mlmodels", "training"):
    try:
        module = import_module(f"{app}.routing")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app}.routing":
            raise
        continue
    websocket_urlpatterns += module.websocket_urlpatterns
