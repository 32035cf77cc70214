"""A cap on what daphne queues for one WebSocket client that does not read.

Daphne writes every frame an application sends straight into Twisted's transport,
whose buffer has no limit, and it pings (and so drops) only clients that have sent
nothing for a while: a client that keeps sending but never reads makes the server
hold everything broadcast to it, for as long as it stays. With this installed, a
socket whose unsent bytes pass WS_SEND_BUFFER_LIMIT is dropped instead (the client
reconnects and catches up from the database: chat history, the code document).

It also drops a frame sent to a socket that is closing or closed. Autobahn raises
`Disconnected` there, which daphne hands back to the consumer's `send`, and the
consumer dies with a logged traceback (django/channels#1820); it happened under the
load benchmark when a chat line went out as its client left. Nothing is lost that
the client could have had: the disconnect is already on its way to the consumer,
and every message is in the database before it is sent.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def pending_bytes(transport) -> int:
    """Bytes a Twisted transport holds that the peer has not taken yet."""
    buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return buffered + getattr(transport, "_tempDataLen", 0)


def install(limit: int) -> None:
    """Wrap daphne's WebSocket send (once; a limit <= 0 turns the cap off)."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not served by daphne
        return
    if getattr(WebSocketProtocol, "_send_buffer_limit", None) is not None:
        return
    original = WebSocketProtocol.serverSend

    def server_send(self, content, binary=False):
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            logger.debug("WebSocket %s %s: closing; frame not sent", self.client_addr, self.path)
            return
        if self.state == self.STATE_OPEN and 0 < limit < pending_bytes(self.transport):
            logger.warning(
                "WebSocket %s %s: %d bytes unread by the client (WS_SEND_BUFFER_LIMIT %d); dropped",
                self.client_addr,
                self.path,
                pending_bytes(self.transport),
                limit,
            )
            self.dropConnection(abort=True)
            return
        original(self, content, binary)

    WebSocketProtocol.serverSend = server_send
    WebSocketProtocol._send_buffer_limit = limit
