"""WebSocket consumers of the collaboration app, and the base every consumer uses.

A refused socket is accepted and closed at once with 4401 (no user) or 4403
(not a member), before any data frame: closing before the handshake would make
the server answer HTTP 403, and the client could not tell the two apart.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .selectors import workspace_role

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class AuthenticatedJsonConsumer(AsyncJsonWebsocketConsumer):
    """JSON consumer that admits only authenticated members of the stream's workspace.

    Subclasses override `resolve_workspace_id()` (None = refuse with 4403) and
    `on_admitted()`; `self.user`, `self.role` and `self.workspace_id` are set.
    """

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        self.workspace_id = await self.resolve_workspace_id()
        self.role = (
            await database_sync_to_async(workspace_role)(
                user=self.user, workspace_id=self.workspace_id
            )
            if self.workspace_id is not None
            else None
        )
        if self.role is None and self.requires_membership:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        await self.accept()
        await self.on_admitted()

    requires_membership = True

    async def refuse(self, code: int) -> None:
        self.refused = True
        await self.accept()
        await self.close(code=code)

    async def resolve_workspace_id(self):
        return None

    async def on_admitted(self) -> None:
        pass
