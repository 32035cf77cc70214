"""WebSocket authentication: the session cookie, or a single-use `?ticket=`."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from .services import ws_ticket_redeem


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
