"""Limits of chat, presence and code editing; each can be set as a Django setting."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

DEFAULTS = {
    "CHAT_MAX_LENGTH": 4000,  # characters per message
    "CHAT_RATE_LIMIT": 10,  # messages per user ...
    "CHAT_RATE_WINDOW": 5,  # ... in this many seconds, counted over all rooms and processes
    "CHAT_HISTORY_SIZE": 50,  # messages sent on connect
    "PRESENCE_HEARTBEAT_SECONDS": 20,
    "PRESENCE_STALE_SECONDS": 60,  # a socket not seen for this long has gone (its server died)
    "CODE_COMPACT_EVERY": 100,  # updates between two snapshots of a code document
    "CODE_MAX_UPDATE_BYTES": 2 * 1024 * 1024,
    # A room's code document, encoded as Yjs stores it: an edit that would pass this is
    # refused (deleting is always allowed). Every process with a socket in the room holds
    # the document once, in a few times this much memory.
    "CODE_DOCUMENT_MAX_BYTES": 8 * 1024 * 1024,
    # The biggest frame a code socket sends: daphne refuses to send a message over
    # 1 MiB, so a bigger sync goes in several update messages of at most this.
    "CODE_FRAME_BYTES": 512 * 1024,
    "CODE_AWARENESS_STATE_BYTES": 4096,  # one client's awareness state (cursor, name)
    # Code sockets one user may hold open at once, over all rooms and processes.
    "WS_MAX_SOCKETS_PER_USER": 20,
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


# --- sockets per user ----------------------------------------------------------------
# A user's sockets hold numbered slots in the cache (Redis when there are several
# processes): taking one is an atomic add, so two processes never hand out the same
# slot. A slot expires unless its socket renews it, so a crashed process frees its
# users' slots within PRESENCE_STALE_SECONDS.


def _slot_key(user_id, index: int) -> str:
    return f"ws-slot:{user_id}:{index}"


def socket_slot_take(*, user_id, channel_name: str) -> int | None:
    """A free slot of the user's for this socket, or None when all are held."""
    count = limit("WS_MAX_SOCKETS_PER_USER")
    if count <= 0:
        return -1  # no limit
    keys = [_slot_key(user_id, i) for i in range(count)]
    held = cache.get_many(keys)
    for index, key in enumerate(keys):
        if key not in held and cache.add(key, channel_name, limit("PRESENCE_STALE_SECONDS")):
            return index
    return None


def socket_slot_renew(*, user_id, index: int, channel_name: str) -> None:
    if index >= 0 and not cache.touch(_slot_key(user_id, index), limit("PRESENCE_STALE_SECONDS")):
        cache.add(_slot_key(user_id, index), channel_name, limit("PRESENCE_STALE_SECONDS"))


def socket_slot_release(*, user_id, index: int, channel_name: str) -> None:
    key = _slot_key(user_id, index)
    if index >= 0 and cache.get(key) == channel_name:
        cache.delete(key)
