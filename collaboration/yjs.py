"""The Yjs wire format, as y-websocket speaks it, on top of pycrdt. No Django here.

A frame is `[message type][payload]`: 0 = sync (step 1 / step 2 / update, see
`pycrdt.YSyncMessageType`), 1 = awareness, 3 = query awareness. Updates are Yjs
v1 updates; applying one twice changes nothing, in any order.
"""

from __future__ import annotations

from collections.abc import Iterable

from pycrdt import Decoder, Doc, Text, get_update, merge_updates, write_var_uint

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3

EMPTY_UPDATE = b"\x00\x00"
CODE_TEXT = "code"  # the shared text type every editor binds to


class ProtocolError(ValueError):
    """A frame or update that cannot be decoded."""


def doc_from_updates(updates: Iterable[bytes]) -> Doc:
    doc = Doc()
    for update in updates:
        if update and update != EMPTY_UPDATE:
            doc.apply_update(update)
    return doc


def doc_text(doc: Doc, name: str = CODE_TEXT) -> str:
    """The document's shared text `name`; empty when absent or not a text."""
    try:
        return str(doc.get(name, type=Text))
    except (TypeError, ValueError):
        return ""


def has_pending(update: bytes, doc: Doc) -> bool:
    """Whether `doc` holds back part of `update` because something it builds on is
    missing: the diff of the update against the doc's state still has structs."""
    return get_update(update, doc.get_state())[:1] != b"\x00"


def updates_compact(updates: list[bytes]) -> bytes:
    """One update equivalent to all of `updates`. The document's own encoding
    (garbage-collected, small) unless some part is still waiting for a missing
    dependency, which only a plain merge keeps."""
    updates = [u for u in updates if u and u != EMPTY_UPDATE]
    if not updates:
        return EMPTY_UPDATE
    doc = doc_from_updates(updates)
    if any(has_pending(update, doc) for update in updates):
        return merge_updates(*updates)
    return doc.get_update()


class DocMirror:
    """A server-side copy of a room's document, for one socket.

    `accept(update)` applies what a client sent and returns what must be stored
    and relayed: only what was new to the document (so clients that echo every
    update back, as pycrdt's Provider does, cost nothing), the whole update when
    part of it waits for a dependency, or None when it changed nothing.
    """

    def __init__(self, updates: Iterable[bytes] = ()) -> None:
        self.doc = doc_from_updates(updates)
        self._changes: list[bytes] = []
        self._subscription = self.doc.observe(lambda event: self._changes.append(event.update))

    def apply(self, update: bytes) -> None:
        if update and update != EMPTY_UPDATE:
            self.doc.apply_update(update)

    def accept(self, update: bytes) -> bytes | None:
        if not update or update == EMPTY_UPDATE:
            return None
        self._changes.clear()
        try:
            self.doc.apply_update(update)
        except ValueError as exc:
            raise ProtocolError(str(exc)) from None
        if has_pending(update, self.doc):
            return update
        changes = [c for c in self._changes if c != EMPTY_UPDATE]
        if not changes:
            return None
        return changes[0] if len(changes) == 1 else merge_updates(*changes)

    def text(self) -> str:
        return doc_text(self.doc)


def read_payload(frame: bytes, offset: int) -> bytes:
    """The length-prefixed payload starting at `offset` of a frame."""
    decoder = Decoder(frame[offset:])
    try:
        payload = decoder.read_message()
    except (RuntimeError, IndexError) as exc:
        raise ProtocolError(f"truncated frame: {exc}") from None
    if payload is None:
        raise ProtocolError("frame without payload")
    return payload


def awareness_entries(payload: bytes) -> list[tuple[int, int, str]]:
    """(client id, clock, JSON state) of each client in an awareness update."""
    decoder = Decoder(payload)
    try:
        count = decoder.read_var_uint()
        entries = []
        for _ in range(count):
            client_id = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            entries.append((client_id, clock, decoder.read_var_string()))
    except (RuntimeError, IndexError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"bad awareness update: {exc}") from None
    return entries


def awareness_payload(entries: Iterable[tuple[int, int, str]]) -> bytes:
    entries = list(entries)
    parts = [write_var_uint(len(entries))]
    for client_id, clock, state in entries:
        # lib0 prefixes a string with its UTF-8 length (pycrdt's Encoder counts characters).
        encoded = state.encode()
        parts += [write_var_uint(client_id), write_var_uint(clock), write_var_uint(len(encoded))]
        parts.append(encoded)
    return b"".join(parts)


def awareness_removal(clocks: dict[int, int]) -> bytes:
    """The awareness update that tells peers these clients are gone (state null)."""
    return awareness_payload((client_id, clock + 1, "null") for client_id, clock in clocks.items())
