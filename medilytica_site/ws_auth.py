"""WebSocket admission: the page's origin, then the session cookie or a single-use
`?ticket=`."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.utils.http import is_same_domain

from .services import ws_ticket_redeem


class OriginValidator:
    """Refuses, in the handshake, a socket whose Origin is not an origin the site trusts
    with its cookies: scheme, host and port, by the rule of Django's CSRF check. Channels'
    AllowedHostsOriginValidator compared the host alone, so a page on another port of the
    same host (another app, a dev server) could open a signed-in socket."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.inner(scope, receive, send)


def origin_allowed(scope) -> bool:
    """Whether the handshake's Origin is the server's own origin (`ws` -> `http`, `wss` ->
    `https`, or the proxy's header under SECURE_PROXY_SSL_HEADER; the Host header, which
    must be one of ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS (`https://*.example.org`
    included). A handshake without an Origin is refused, as Channels refused it."""
    handshake = Handshake(scope)
    origin = handshake.META.get("HTTP_ORIGIN")
    try:
        parsed = urlsplit(origin or "")
    except ValueError:  # "http://[::1": no origin at all
        return False
    if not origin:
        return False
    if "HTTP_HOST" not in handshake.META:
        # Only an in-process caller (a test's WebsocketCommunicator) leaves out Host: daphne
        # refuses such a handshake, as RFC 6455 requires Host. Its Origin names the host;
        # scheme and ALLOWED_HOSTS are still checked.
        handshake.META["HTTP_HOST"] = parsed.netloc
    try:
        if origin == f"{handshake.scheme}://{handshake.get_host()}":
            return True
    except DisallowedHost:
        pass
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    return any(
        pattern.scheme == parsed.scheme and is_same_domain(parsed.netloc, pattern.netloc[1:])
        for pattern in map(urlsplit, trusted)
        if pattern.netloc.startswith("*")
    )


class Handshake(HttpRequest):
    """A WebSocket handshake as Django's request reads it, for `scheme` and `get_host()`
    (SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST, ALLOWED_HOSTS) as in HTTP."""

    def __init__(self, scope) -> None:
        super().__init__()
        self._secure = scope.get("scheme") in ("wss", "https")
        for name, value in scope.get("headers", ()):
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            value = value.decode("latin-1")
            # Repeated headers joined as Django's ASGI request joins them: two Origins
            # then match no origin.
            self.META[key] = f"{self.META[key]},{value}" if key in self.META else value
        if scope.get("server"):
            self.META["SERVER_NAME"], self.META["SERVER_PORT"] = map(str, scope["server"])

    def _get_scheme(self) -> str:
        return "https" if self._secure else "http"


class TicketAuthMiddleware:
    """Sets scope["user"] from `?ticket=` when present; otherwise the session
    middleware beneath it has already resolved the cookie."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        tickets = query.get("ticket")
        if tickets:
            user = await database_sync_to_async(ws_ticket_redeem)(ticket=tickets[0])
            scope = dict(scope, user=user or AnonymousUser())
        return await self.inner(scope, receive, send)


def MediLyticaAuthStack(inner):
    return AuthMiddlewareStack(TicketAuthMiddleware(inner))
