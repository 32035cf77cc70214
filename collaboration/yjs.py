"""The Yjs wire format, as y-websocket speaks it, on top of pycrdt. No Django here.

A frame is `[message type][payload]`: 0 = sync (step 1 / step 2 / update, see
`pycrdt.YSyncMessageType`), 1 = awareness, 2 = auth (the server's refusals), 3 =
query awareness. Updates are Yjs v1 updates; applying one twice changes nothing,
in any order; `update_parts` splits one into several for frames of bounded size.
"""

from __future__ import annotations

from collections.abc import Iterable

from pycrdt import (
    Decoder,
    Doc,
    Text,
    create_update_message,
    get_update,
    merge_updates,
    write_message,
    write_var_uint,
)

from . import safejson

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3

SYNC_STEP2 = 1

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


def state_vector(doc: Doc) -> dict[int, int]:
    """The document's state vector, client id -> clock. Its encoding lists the clients in
    no fixed order, so two equal documents may encode it differently: compare these."""
    reader = _Reader(doc.get_state())
    return {reader.uint(): reader.uint() for _ in range(reader.uint())}


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


class DocumentTooLarge(ValueError):
    """An edit that would take the document past its size limit."""

    def __init__(self, *, size: int, adding: int, limit: int) -> None:
        super().__init__(f"{size} + {adding} bytes > {limit}")
        self.size, self.adding, self.limit = size, adding, limit


class DocMirror:
    """A server-side copy of a room's document, shared by the sockets of one process.

    `accept(update)` applies what a client sent and returns what must be stored
    and relayed: only what was new to the document (so clients that echo every
    update back, as pycrdt's Provider does, cost nothing), the whole update when
    part of it waits for a dependency, or None when it changed nothing.

    `size` is the encoded document's size in bytes: exact when loaded, then an
    upper estimate (each change adds its own size) made exact again only when an
    edit would pass a limit. `seq` is the caller's: every stored update up to it
    is in the mirror. Call `close()` when done: the document's observer would
    otherwise keep the mirror alive from outside Python's garbage collector.
    """

    def __init__(self, updates: Iterable[bytes] = (), *, seq: int = 0) -> None:
        self.doc = doc_from_updates(updates)
        self.seq = seq
        self.size = len(self.doc.get_update())
        self._exact = True
        self._pending_bytes = 0  # updates kept though they wait for a dependency
        self._changes: list[bytes] | None = None  # collected only while accepting
        self._subscription = self.doc.observe(self._collect)

    def _collect(self, event) -> None:
        if self._changes is not None:
            self._changes.append(event.update)

    def close(self) -> None:
        if self._subscription is not None:
            self.doc.unobserve(self._subscription)
            self._subscription = None

    def apply(self, update: bytes) -> None:
        if update and update != EMPTY_UPDATE:
            state = self.doc.get_state()
            self.doc.apply_update(update)
            if self.doc.get_state() != state:
                self.size += len(update)
                self._exact = False

    def accept(self, update: bytes, *, max_bytes: int = 0) -> bytes | None:
        """Apply a client's update (see the class). With `max_bytes`, an update that
        would take the document past it raises DocumentTooLarge and changes nothing;
        an update that only deletes is always accepted."""
        if not update or update == EMPTY_UPDATE:
            return None
        if max_bytes > 0 and update[0] != 0:  # it inserts something
            self._check_room(update, max_bytes)
        self._changes = []
        try:
            self.doc.apply_update(update)
        except ValueError as exc:
            raise ProtocolError(str(exc)) from None
        finally:
            changes, self._changes = self._changes, None
        if has_pending(update, self.doc):
            self._pending_bytes += len(update)
            return update
        changes = [c for c in changes if c != EMPTY_UPDATE]
        if not changes:
            return None
        data = changes[0] if len(changes) == 1 else merge_updates(*changes)
        self.size += len(data)
        self._exact = False
        return data

    def _check_room(self, update: bytes, max_bytes: int) -> None:
        try:
            fresh = get_update(update, self.doc.get_state())
        except ValueError as exc:
            raise ProtocolError(str(exc)) from None
        if fresh[:1] == b"\x00":
            return  # nothing the document lacks: an echo, or deletions only
        if self.size + self._pending_bytes + len(fresh) <= max_bytes:
            return
        if not self._exact:
            self.size, self._exact = len(self.doc.get_update()), True
        if self.size + self._pending_bytes + len(fresh) > max_bytes:
            raise DocumentTooLarge(
                size=self.size + self._pending_bytes, adding=len(fresh), limit=max_bytes
            )

    def sync_reply(self, state: bytes, max_bytes: int) -> list[bytes]:
        """Frames answering a client's sync step 1 (its state vector `state`): what
        it lacks, as update messages of at most `max_bytes` each, the last part as
        sync step 2, so a client counts itself synced once it has everything."""
        parts = update_parts(self.doc.get_update(state), max_bytes - 8)
        frames = [create_update_message(part) for part in parts[:-1]]
        return [*frames, bytes([MESSAGE_SYNC, SYNC_STEP2]) + write_message(parts[-1])]

    def text(self) -> str:
        return doc_text(self.doc)


def update_frames(update: bytes, max_bytes: int) -> list[bytes]:
    """A sync update message, or several when one would pass `max_bytes`."""
    return [create_update_message(part) for part in update_parts(update, max_bytes - 8)]


def permission_denied(reason: str) -> bytes:
    """y-protocols' auth message "permission denied": y-websocket logs the reason and
    stays connected; clients that do not know it skip it."""
    encoded = reason.encode()
    return bytes([MESSAGE_AUTH, 0]) + write_var_uint(len(encoded)) + encoded


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


# --- splitting an update into frames a server may send ------------------------------


class _Reader:
    """lib0's decoding, for reading an update's layout without building a document."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self) -> int:
        number, shift = 0, 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            number |= (byte & 0x7F) << shift
            if byte < 0x80:
                return number
            shift += 7

    def buffer(self) -> bytes:
        size = self.uint()
        start, self.pos = self.pos, self.pos + size
        if self.pos > len(self.data):
            raise IndexError("buffer past the end")
        return self.data[start : self.pos]

    def skip_any(self) -> None:
        """Skip one lib0 `any` value (with a stack of its own: nesting costs no recursion)."""
        stack = [(1, False)]  # (values left, whether each comes after a key)
        while stack:
            left, keyed = stack.pop()
            if not left:
                continue
            stack.append((left - 1, keyed))
            if keyed:
                self.buffer()
            tag = self.data[self.pos]
            self.pos += 1
            if tag == 125:  # varint
                self.uint()
            elif tag == 124:  # float32
                self.pos += 4
            elif tag in (123, 122):  # float64, bigint64
                self.pos += 8
            elif tag in (119, 116):  # string, bytes
                self.buffer()
            elif tag in (118, 117):  # object (key, value pairs), array
                stack.append((self.uint(), tag == 118))
            elif tag not in (127, 126, 121, 120):  # undefined, null, false, true
                raise ProtocolError(f"unknown value type {tag}")


_CONTENT_STRING = 4


def _struct_read(reader: _Reader) -> tuple[int, int, tuple[int, int] | None, int]:
    """Read one struct of a Yjs v1 update: (clock length, info byte, where its right
    origin is encoded, where its content starts)."""
    info = reader.data[reader.pos]
    reader.pos += 1
    kind = info & 0x1F
    if kind in (0, 10):  # GC, Skip
        return reader.uint(), info, None, reader.pos
    if info & 0x80:  # origin
        reader.uint(), reader.uint()
    right = None
    if info & 0x40:  # right origin
        start = reader.pos
        reader.uint(), reader.uint()
        right = (start, reader.pos)
    if not info & 0xC0:  # parent: a root type's name, or an item id; then a map key
        if reader.uint() == 1:
            reader.buffer()
        else:
            reader.uint(), reader.uint()
        if info & 0x20:
            reader.buffer()
    content = reader.pos
    if kind == 1:  # deleted
        length = reader.uint()
    elif kind == 2:  # JSON values, each a string
        length = reader.uint()
        for _ in range(length):
            reader.buffer()
    elif kind == _CONTENT_STRING:
        length = _utf16_length(reader.buffer())
    elif kind in (3, 5):  # binary, embed
        reader.buffer()
        length = 1
    elif kind == 6:  # format: key, value
        reader.buffer(), reader.buffer()
        length = 1
    elif kind == 7:  # a type; an XML element or hook names itself
        if reader.uint() in (3, 5):
            reader.buffer()
        length = 1
    elif kind == 8:  # any values
        length = reader.uint()
        for _ in range(length):
            reader.skip_any()
    elif kind == 9:  # subdocument: guid, options
        reader.buffer()
        reader.skip_any()
        length = 1
    else:
        raise ProtocolError(f"unknown struct type {kind}")
    return length, info, right, content


def _utf16_length(text: bytes) -> int:
    """Yjs counts a string's clock length in UTF-16 code units."""
    decoded = text.decode()
    return len(decoded) + sum(1 for char in decoded if ord(char) > 0xFFFF)


def _string_pieces(update: bytes, start: int, end: int, header: tuple, max_bytes: int):
    """A string item too big for one frame, as items of at most `max_bytes` each:
    (encoded struct, clock length) pairs, split as Yjs splits an item (each piece
    after the first has its left neighbour as origin and the same right origin)."""
    client, clock, info, right, content = header
    text = _Reader(update[content:end]).buffer()
    right_origin = update[right[0] : right[1]] if right else b""
    first_header = update[start:content]
    pieces, offset = [], 0
    while offset < len(text):
        cut = min(offset + max_bytes, len(text))
        while cut < len(text) and 0x80 <= text[cut] < 0xC0:  # not inside a character
            cut -= 1
        chunk = text[offset:cut]
        if offset == 0:
            head = first_header
        else:
            head = bytes([_CONTENT_STRING | 0x80 | (info & 0x60)])
            head += write_var_uint(client) + write_var_uint(clock - 1) + right_origin
        length = _utf16_length(chunk)
        pieces.append((head + write_var_uint(len(chunk)) + chunk, length))
        clock += length
        offset = cut
    return pieces


def _encode_structs(groups: list[list]) -> bytes:
    """Struct groups `[client, first clock, [encoded structs], next clock]` as the
    struct section of an update."""
    parts = [write_var_uint(len(groups))]
    for client, clock, structs, _ in groups:
        parts += [write_var_uint(len(structs)), write_var_uint(client), write_var_uint(clock)]
        parts += structs
    return b"".join(parts)


def _delete_set_parts(delete_set: bytes, max_bytes: int) -> list[bytes]:
    """The delete set as one or more (each struct-less) updates."""
    if len(delete_set) + 1 <= max_bytes:
        return [b"\x00" + delete_set]
    reader, parts, current, size = _Reader(delete_set), [], [], 8
    for _ in range(reader.uint()):
        client = reader.uint()
        for _ in range(reader.uint()):
            start = reader.pos
            reader.uint(), reader.uint()
            span = delete_set[start : reader.pos]
            if current and size + len(span) + 16 > max_bytes:
                parts.append(current)
                current, size = [], 8
            if not current or current[-1][0] != client:
                current.append((client, []))
                size += 16
            current[-1][1].append(span)
            size += len(span)
    parts.append(current)
    encoded = []
    for clients in parts:
        body = [b"\x00", write_var_uint(len(clients))]
        for client, spans in clients:
            body += [write_var_uint(client), write_var_uint(len(spans)), *spans]
        encoded.append(b"".join(body))
    return encoded


def update_parts(update: bytes, max_bytes: int) -> list[bytes]:
    """`update` as updates of at most `max_bytes` each that, applied in order, give
    the same document (a struct that cannot be split, such as one binary value, may
    pass the bound alone). Each part is a Yjs update in its own right; a part may
    wait for a later one (Yjs keeps it pending meanwhile); the delete set comes last.
    """
    if len(update) <= max_bytes:
        return [update]
    budget = max(max_bytes - 64, 64)
    reader = _Reader(update)
    parts: list[bytes] = []
    groups: list[list] = []
    size = 8
    try:
        for _ in range(reader.uint()):
            count, client, clock = reader.uint(), reader.uint(), reader.uint()
            for _ in range(count):
                start = reader.pos
                length, info, right, content = _struct_read(reader)
                if reader.pos - start > budget and info & 0x1F == _CONTENT_STRING:
                    header = (client, clock, info, right, content)
                    pieces = _string_pieces(update, start, reader.pos, header, budget)
                else:
                    pieces = [(update[start : reader.pos], length)]
                for struct, piece_length in pieces:
                    if groups and size + len(struct) > budget:
                        parts.append(_encode_structs(groups) + b"\x00")
                        groups, size = [], 8
                    if not groups or groups[-1][0] != client or groups[-1][3] != clock:
                        groups.append([client, clock, [], clock])
                        size += 24
                    groups[-1][2].append(struct)
                    groups[-1][3] = clock = clock + piece_length
                    size += len(struct)
        delete_set = update[reader.pos :]
        _delete_set_parts(delete_set, budget)  # read through before anything is sent
    except (IndexError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"bad update: {exc}") from None
    structs = _encode_structs(groups)
    if len(structs) + len(delete_set) <= max_bytes:
        return [*parts, structs + delete_set]
    if groups:
        parts.append(structs + b"\x00")
    return [*parts, *_delete_set_parts(delete_set, budget)]


def awareness_state(state: str, max_bytes: int) -> dict | None:
    """A client's awareness state as the server relays it: a JSON object of at most
    `max_bytes` (UTF-8), or None (the client went away). Raises ValueError saying why not."""
    if state == "null":
        return None
    if len(state.encode()) > max_bytes:
        raise ValueError(f"an awareness state may hold at most {max_bytes} bytes")
    try:
        value = safejson.loads(state)
    except ValueError:
        raise ValueError("an awareness state must be JSON") from None
    if not isinstance(value, dict):
        raise ValueError("an awareness state must be a JSON object")
    return value
