"""Limits of chat, presence and code editing; each can be set as a Django setting."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    "CHAT_MAX_LENGTH": 4000,  # characters per message
    "CHAT_RATE_LIMIT": 10,  # messages per user ...
    "CHAT_RATE_WINDOW": 5,  # ... in this many seconds, counted over all rooms and processes
    "CHAT_HISTORY_SIZE": 50,  # messages sent on connect
    "PRESENCE_HEARTBEAT_SECONDS": 20,
    "PRESENCE_STALE_SECONDS": 60,  # a socket not seen for this long has gone (its server died)
    "CODE_COMPACT_EVERY": 100,  # updates between two snapshots of a code document
    "CODE_MAX_UPDATE_BYTES": 2 * 1024 * 1024,
    # Frames one socket may send: on average per second, and at once. A chat client
    # typing sends a typing notice a keystroke at most; an editor two frames (the
    # update and the cursor). Over the limit a chat frame is dropped with an error,
    # a code socket is closed with 4429 (the client reconnects and resyncs).
    "CHAT_SOCKET_RATE": 20,
    "CHAT_SOCKET_BURST": 40,
    "CODE_SOCKET_RATE": 100,
    "CODE_SOCKET_BURST": 400,
}


def limit(name: str) -> int:
    """The Django setting `name`, else the default above. Read at call time, so
    tests and deployments can change it."""
    return getattr(settings, name, DEFAULTS[name])
