from __future__ import annotations

from collaboration.consumers import AuthenticatedJsonConsumer


class EchoConsumer(AuthenticatedJsonConsumer):
    """`/ws/echo`: any signed-in user; answers each JSON message with who sent it.
    Used by health checks and tests of the WebSocket stack."""

    requires_membership = False

    async def on_admitted(self) -> None:
        await self.send_json({"type": "hello", "user": self.user.username})

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json({"type": "echo", "user": self.user.username, "data": content})


class UnknownRouteConsumer(AuthenticatedJsonConsumer):
    """Any /ws/ path that no route matches (Channels' router would raise, and the
    server answer 500 in the handshake): refused like a stream the caller may not
    join, 4401 when anonymous, else 4403."""
