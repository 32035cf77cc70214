"""WebSocket consumers of the collaboration app, and the base every consumer uses.

A refused socket is accepted and closed at once with 4401 (no user) or 4403
(not a member), before any data frame: closing before the handshake would make
the server answer HTTP 403, and the client could not tell the two apart.

Several server processes may serve one room. Whatever must be seen by all of
them lives in the database (messages, presence, the code document's log) and
travels through the channel layer only as a notice; every notice carries a
gap-free `seq`. Notices sent by two processes may overtake each other, so a
consumer that sees a gap waits GAP_WAIT seconds for the missing one and only
then reads it from the database: a notice that arrives late, twice or never
loses nothing, and the usual reordering costs no query.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
import weakref
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from pycrdt import (
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
)

from . import limits, safejson, selectors, services, yjs
from .events import access_group, chat_group, code_group, notifications_group, session_tag
from .limits import limit
from .models import AuditEvent, Role
from .selectors import role_allows, workspace_role

logger = logging.getLogger(__name__)

SLOW_ADMISSION_SECONDS = 1.0  # a socket's handshake slower than this is logged, by step

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_MANY_SOCKETS = 4429  # y-websocket's clients and ours read both as "too many"
GAP_WAIT = 1.0  # seconds a socket waits for a missing notice before reading the database


def access_recheck_seconds() -> float:
    """How often an open socket re-reads its access even when no change was announced:
    the bound on how long a lost access message (or a QuerySet.update(), which sends
    none) leaves access open. 0 turns the re-check off."""
    return float(getattr(settings, "WS_ACCESS_RECHECK_SECONDS", 5.0))


class FrameBucket:
    """A token bucket of one socket: `rate` frames a second on average, `burst` at once.

    Counting per socket costs no query, so a flood is refused before it parses a
    frame or reaches the database. A rate of 0 or less turns the limit off.
    """

    def __init__(self, *, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, max(int(burst), 1), clock
        self.tokens = float(self.burst)
        self.stamp = clock()

    def take(self, cost: float = 1.0) -> bool:
        """Spend `cost` tokens; False (and nothing spent) when there are fewer."""
        if self.rate <= 0:
            return True
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def affords(self, cost: float = 1.0) -> bool:
        """Whether `cost` tokens could be spent now (nothing is spent)."""
        if self.rate <= 0:
            return True
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= cost

    def describe(self) -> str:
        return f"at most {self.rate:g} frames a second (bursts of {self.burst})"


class WorkspaceMemberMixin:
    """Admits only authenticated members of the stream's workspace, and keeps checking.

    Subclasses override `resolve_workspace_id()` (None = refuse with 4403),
    `before_accept()` (e.g. join groups, so nothing sent after the handshake is
    missed), `on_admitted()` and `on_role_changed()`; `self.user`, `self.role`,
    `self.workspace_id` and `self.admitted` are set.

    Access is re-checked while the socket is open (DESIGN.md section 5). Every socket
    joins its user's access group before it reads its role, so no change is missed:
    an `access.changed` message there makes it re-read the database (a logout closes
    the sockets of that session at once), and so does a timer, in case a message was
    lost. A socket whose access is gone is closed with 4401 (signed out, deactivated)
    or 4403 (not a member, workspace gone) and `revoked`: from then on nothing but the
    close reaches its client and nothing it sends is handled. A lower role that still
    reads is only noted (`on_role_changed`). Stores check the role again themselves.
    """

    requires_membership = True
    admitted = False
    revoked = False
    access_joined = False
    access_task: asyncio.Task | None = None
    # Channels hops to the sync thread before every handler to close stale database
    # connections. A consumer whose handlers reach the database only through
    # database_sync_to_async (which closes them itself) sets this False: otherwise
    # every relayed frame of every socket queues on that one thread.
    close_connections_per_message = True

    async def __call__(self, scope, receive, send) -> None:
        self.opened_at = time.monotonic()

        async def send_unless_revoked(message) -> None:
            if self.revoked and message["type"] != "websocket.close":
                return  # access is gone: a frame still in flight is not delivered
            await send(message)

        try:
            await super().__call__(scope, receive, send_unless_revoked)
        finally:
            if self.access_task is not None:
                self.access_task.cancel()

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        # A ticket's socket (ws_auth) rode no session; a cookie's socket rode this one.
        ticket = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("ticket")
        session = self.scope.get("session")
        self.session_key = None if ticket or session is None else session.session_key
        connecting = time.monotonic()
        await self.channel_layer.group_add(access_group(self.user.pk), self.channel_name)
        self.access_joined = True
        joined = time.monotonic()
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
        await self.before_accept()
        self.note_slow_admission(connecting, joined)
        await self.accept()
        self.admitted = True
        await self.on_admitted()
        if access_recheck_seconds() > 0 and not self.revoked:
            self.access_task = asyncio.create_task(self.access_watch())

    def note_slow_admission(self, connecting: float, joined: float) -> None:
        """Log where a slow handshake waited: daphne drops one that is not accepted
        within 5 s (`--websocket_connect_timeout`), and its client sees only an EOF."""
        now = time.monotonic()
        if now - self.opened_at >= SLOW_ADMISSION_SECONDS:
            logger.warning(
                "%s: admitting %s took %.2f s (channel %.2f s, access group %.2f s, "
                "database and before_accept %.2f s)",
                self.scope["path"],
                self.user,
                now - self.opened_at,
                connecting - self.opened_at,
                joined - connecting,
                now - joined,
            )

    async def dispatch(self, message) -> None:
        if self.revoked and message["type"] != "websocket.disconnect":
            return
        if self.close_connections_per_message:
            await super().dispatch(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def refuse(self, code: int) -> None:
        self.refused = True
        await self.access_leave()
        await self.accept()
        await self.close(code=code)

    async def websocket_disconnect(self, message) -> None:
        if self.access_task is not None:
            self.access_task.cancel()
        await self.access_leave()
        await super().websocket_disconnect(message)

    async def access_leave(self) -> None:
        if self.access_joined:
            self.access_joined = False
            await self.channel_layer.group_discard(access_group(self.user.pk), self.channel_name)

    async def access_changed(self, event) -> None:
        """Channel-layer handler of events.AccessChanged."""
        if not self.admitted:
            return
        if event["reason"] == "logout":
            # Its session is flushed only after the logout signal, so do not re-read it.
            # A ticket does not say which sign-in minted it: a logout closes them all.
            if self.session_key is None or event["session"] == session_tag(self.session_key):
                await self.revoke(CLOSE_UNAUTHENTICATED, "signed out")
            return
        workspace = event.get("workspace")
        if workspace is None or self.workspace_id is None or workspace == str(self.workspace_id):
            await self.access_recheck()

    async def access_recheck(self) -> bool:
        """Re-read the user's access; close the socket when it is gone. False if closed."""
        access = await database_sync_to_async(selectors.socket_access)(
            user_id=self.user.pk, workspace_id=self.workspace_id, session_key=self.session_key
        )
        if self.revoked:
            return False
        if not access.signed_in:
            await self.revoke(CLOSE_UNAUTHENTICATED, "signed out or deactivated")
            return False
        if access.role is None and self.requires_membership:
            await self.revoke(CLOSE_FORBIDDEN, "no longer a member")
            return False
        if access.role != self.role:
            old, self.role = self.role, access.role
            logger.info("%s: %s is now %s (was %s)", self.scope["path"], self.user, self.role, old)
            await self.on_role_changed()
        return True

    async def access_watch(self) -> None:
        """The periodic re-check; spread out so that sockets opened together do not
        all query at once."""
        interval = access_recheck_seconds()
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        while not self.revoked:
            try:
                await self.access_recheck()
            except Exception:  # a failed read must not end the socket; the next one counts
                logger.exception("%s: access re-check failed", self.scope["path"])
            await asyncio.sleep(interval)

    async def revoke(self, code: int, why: str) -> None:
        if self.revoked:
            return
        self.revoked = True
        logger.info("%s: %s closed with %s: %s", self.scope["path"], self.user, code, why)
        await self.close(code=code)
        await self.on_revoked()

    async def audit_denied(self, action: str) -> None:
        """Audit something this socket's user tried and was refused."""
        await database_sync_to_async(services.audit_record)(
            action=action,
            user=self.user,
            object_type="room",
            object_id=getattr(self, "room_id", ""),
            workspace_id=self.workspace_id,
            request=self.scope,
            outcome=AuditEvent.Outcome.DENIED,
            detail={"role": self.role},
        )

    async def on_role_changed(self) -> None:
        pass

    async def on_revoked(self) -> None:
        """Stop what the socket does on its own (timers); its disconnect follows."""

    async def resolve_workspace_id(self):
        return None

    async def before_accept(self) -> None:
        pass

    async def on_admitted(self) -> None:
        pass


class AuthenticatedJsonConsumer(WorkspaceMemberMixin, AsyncJsonWebsocketConsumer):
    """JSON consumer that admits only authenticated members of the stream's workspace.

    A frame that is not JSON, or nests too deep (safejson), is dropped: Channels'
    own decoding would end the socket with an error, or overflow the stack."""

    @classmethod
    async def decode_json(cls, text_data):
        return safejson.loads(text_data)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError as exc:
            logger.info("%s: dropped a frame that is not usable JSON: %s", self.scope["path"], exc)


class AuthenticatedBinaryConsumer(WorkspaceMemberMixin, AsyncWebsocketConsumer):
    """Binary-frame consumer with the same admission rules."""


class RoomMixin:
    """The room named in the URL; its workspace decides who may connect."""

    close_connections_per_message = False

    async def resolve_workspace_id(self):
        raw = self.scope["url_route"]["kwargs"].get("room_id", "")
        try:
            self.room_id = uuid.UUID(raw)
        except ValueError:
            return None
        return await database_sync_to_async(selectors.room_workspace_id)(room_id=self.room_id)


# --- /ws/chat/{room_id} ------------------------------------------------------------------


class ChatConsumer(RoomMixin, AuthenticatedJsonConsumer):
    """Room chat. Every member may read and post, viewers included: chat is talk,
    not an edit. A message is saved (and so numbered) before it is broadcast;
    each socket forwards messages in `seq` order and fills gaps from the database."""

    TYPING_INTERVAL = 1.0  # seconds; more typing notices than this are not relayed

    async def on_admitted(self) -> None:
        self.group = chat_group(self.room_id)
        self.heartbeat: asyncio.Task | None = None
        self.last_seq = 0  # every message up to this one has been sent to the client
        self.early: dict[int, tuple[str, float]] = {}  # seq -> (frame, arrival) past a gap
        self.delivery = asyncio.Lock()
        self.gap_task: asyncio.Task | None = None
        self.presence_version = 0
        self.last_typing = 0.0
        self.chat_user = selectors.chat_user(self.user)  # for typing notices
        self.frames = FrameBucket(rate=limit("CHAT_SOCKET_RATE"), burst=limit("CHAT_SOCKET_BURST"))
        self.rate_notice_at = -1.0
        # Join the group before reading history: a message is then either in the
        # history or arrives as a broadcast (or both; the seq drops the repeat).
        await self.channel_layer.group_add(self.group, self.channel_name)
        history = await database_sync_to_async(selectors.chat_history_recent)(
            room_id=self.room_id, limit=limit("CHAT_HISTORY_SIZE")
        )
        if history:
            self.last_seq = history[-1]["seq"]
        await self.send_json({"type": "history", "messages": history})
        version, users = await database_sync_to_async(services.presence_join)(
            room_id=self.room_id, user=self.user, channel_name=self.channel_name
        )
        await self.presence_update(version, users)
        await self.presence_broadcast(version, users)
        self.heartbeat = asyncio.create_task(self.presence_heartbeat())

    async def disconnect(self, code) -> None:
        if not self.admitted:
            return
        for task in (self.heartbeat, self.gap_task):
            if task is not None:
                task.cancel()
        await self.channel_layer.group_discard(self.group, self.channel_name)
        version, users = await database_sync_to_async(services.presence_leave)(
            room_id=self.room_id, channel_name=self.channel_name
        )
        await self.presence_broadcast(version, users)

    async def on_revoked(self) -> None:
        for task in (self.heartbeat, self.gap_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()

    async def presence_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(limit("PRESENCE_HEARTBEAT_SECONDS"))
            try:
                changed = await database_sync_to_async(services.presence_touch)(
                    room_id=self.room_id, user=self.user, channel_name=self.channel_name
                )
            except Exception:  # a missed heartbeat must not end the socket
                logger.exception("presence heartbeat failed in room %s", self.room_id)
                continue
            if changed:
                version, users = changed
                await self.presence_broadcast(version, users)

    async def presence_broadcast(self, version: int, users: list) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "chat.presence", "version": version, "users": users}
        )

    async def presence_update(self, version: int, users: list) -> None:
        if version > self.presence_version:
            self.presence_version = version
            await self.send_json({"type": "presence", "users": users})

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.admitted:
            return
        if not self.frames.take():
            await self.rate_limited()
            return
        try:
            content = safejson.loads(text_data) if text_data is not None else None
        except safejson.JSONTooDeep as exc:
            await self.error("bad_request", f"The frame was refused: {exc.msg}.")
            return
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.error("bad_request", "Send JSON objects in text frames.")
            return
        kind = content.get("type")
        if kind == "message":
            await self.message_post(content.get("text"))
        elif kind == "typing":
            now = time.monotonic()
            if now - self.last_typing >= self.TYPING_INTERVAL:
                self.last_typing = now
                await self.channel_layer.group_send(
                    self.group,
                    {"type": "chat.typing", "user": self.chat_user, "sender": self.channel_name},
                )
        else:
            await self.error("bad_request", f"Unknown message type {kind!r}.")

    async def rate_limited(self) -> None:
        """A frame over the socket's limit is dropped unread (a message is not saved,
        nor sent); the sender hears why at most once a second, so that a flood that
        is not read cannot make the server queue a reply per frame."""
        now = time.monotonic()
        if now - self.rate_notice_at < 1.0:
            return
        self.rate_notice_at = now
        await self.error(
            "rate_limited",
            f"Too many frames on this connection: {self.frames.describe()} "
            "(CHAT_SOCKET_RATE, CHAT_SOCKET_BURST); frames over the limit are dropped, "
            "messages among them are not sent.",
        )

    async def message_post(self, text) -> None:
        try:
            message = await database_sync_to_async(services.chat_message_create)(
                room_id=self.room_id, user=self.user, text=text, request=self.scope
            )
        except services.ChatForbidden as exc:
            # Access went before its notice arrived: the store refused; close now.
            await self.audit_denied("chat.message")
            if await self.access_recheck():
                await self.error(exc.code, exc.message)
            return
        except services.ChatRejected as exc:
            await self.error(exc.code, exc.message)
            return
        relay = selectors.chat_message_relay(selectors.chat_message_event(message))
        try:
            await self.channel_layer.group_send(self.group, relay)
        except Exception:  # saved all the same: the others fill the gap from the database
            logger.exception("chat room %s: message %s not broadcast", self.room_id, message.seq)
            await self.chat_message(relay)

    # Channel-layer handlers.

    async def chat_message(self, event) -> None:
        seq = event["seq"]
        if seq <= self.last_seq or seq in self.early:
            return
        self.early[seq] = (event["frame"], time.monotonic())
        await self.deliver_in_order()
        if self.early and self.gap_task is None:
            self.gap_task = asyncio.create_task(self.gap_fill())

    async def deliver_in_order(self) -> None:
        async with self.delivery:
            while self.last_seq + 1 in self.early:
                frame, _ = self.early.pop(self.last_seq + 1)
                self.last_seq += 1
                await self.send(text_data=frame)

    async def gap_fill(self) -> None:
        """While messages wait behind a gap: once the oldest has waited GAP_WAIT,
        read the missing ones from the database (they were saved before any notice)."""
        try:
            while self.early:
                oldest = min(arrival for _, arrival in self.early.values())
                await asyncio.sleep(max(0.0, oldest + GAP_WAIT - time.monotonic()))
                if not self.early or min(a for _, a in self.early.values()) > oldest:
                    continue  # the gap closed meanwhile
                after, before = self.last_seq, min(self.early)
                missed = await database_sync_to_async(selectors.chat_messages_between)(
                    room_id=self.room_id, after_seq=after, before_seq=before
                )
                for message in missed:
                    if message["seq"] > self.last_seq:
                        frame = json.dumps(message)
                        self.early.setdefault(message["seq"], (frame, time.monotonic()))
                if not missed and self.last_seq == after:  # impossible with gap-free seqs
                    logger.warning("chat room %s: nothing in (%s, %s)", self.room_id, after, before)
                    self.last_seq = before - 1  # never spin on it
                await self.deliver_in_order()
        finally:
            self.gap_task = None

    async def chat_presence(self, event) -> None:
        await self.presence_update(event["version"], event["users"])

    async def chat_typing(self, event) -> None:
        if event["sender"] != self.channel_name:
            await self.send_json({"type": "typing", "user": event["user"]})


# --- /ws/code/{room_id} ------------------------------------------------------------------


class CodeLogWriter:
    """Stores the code updates of every socket of this process, several per
    transaction, and relays each one to its room once it is stored.

    While one transaction runs, the updates that arrive meanwhile queue up and go
    into the next one (group commit). The relay is sent here, not by the socket,
    so an update that was stored is relayed even if its socket is gone by then.
    One writer per event loop.
    """

    _writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.queue: list[tuple[tuple, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    @classmethod
    def for_loop(cls) -> CodeLogWriter:
        loop = asyncio.get_running_loop()
        writer = cls._writers.get(loop)
        if writer is None:
            writer = cls._writers[loop] = cls()
        return writer

    async def append(self, *, room_id, user, data: bytes, sender: str) -> int:
        """Store and relay one update; returns its seq."""
        future = asyncio.get_running_loop().create_future()
        self.queue.append(((room_id, user, data, sender), future))
        if self.task is None:
            self.task = asyncio.create_task(self.run())
        return await future

    async def run(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                try:
                    seqs = await database_sync_to_async(services.code_updates_append)(
                        updates=[(room_id, user, data) for (room_id, user, data, _), _ in batch]
                    )
                except Exception as exc:  # noqa: BLE001 - handed to every waiting socket
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                layer = get_channel_layer()
                for ((room_id, _, data, sender), future), seq in zip(batch, seqs, strict=True):
                    relay = {"type": "code.update", "seq": seq, "update": data, "sender": sender}
                    try:
                        await layer.group_send(code_group(room_id), relay)
                    except Exception:  # stored all the same: sockets fill the gap from the log
                        logger.exception("code room %s: update %s not relayed", room_id, seq)
                    if not future.done():
                        future.set_result(seq)
        finally:
            self.task = None


class CodeDocuments:
    """The code documents this process holds: one mirror per room with an open code
    socket here, shared by its sockets, and let go (its memory with it) when the last
    one closes. One registry per event loop.

    A mirror that took an edit the database then refused or failed to store is
    dropped at once: the next socket loads a fresh one, and the sockets that shared
    it are closed (their clients reconnect and resend what the database lacks).
    """

    _registries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.rooms: dict[uuid.UUID, tuple[asyncio.Future, set]] = {}

    @classmethod
    def for_loop(cls) -> CodeDocuments:
        loop = asyncio.get_running_loop()
        registry = cls._registries.get(loop)
        if registry is None:
            registry = cls._registries[loop] = cls()
        return registry

    async def acquire(self, room_id, holder) -> tuple[yjs.DocMirror, bool]:
        """The room's mirror, loaded from the database unless held already; and
        whether this call loaded it."""
        entry = self.rooms.get(room_id)
        loaded_here = entry is None
        if entry is None:
            entry = self.rooms[room_id] = (asyncio.ensure_future(self._load(room_id)), set())
        entry[1].add(holder)
        try:
            mirror = await asyncio.shield(entry[0])
        except BaseException:
            self.release(room_id, holder)
            raise
        return mirror, loaded_here

    @staticmethod
    async def _load(room_id) -> yjs.DocMirror:
        updates, seq = await database_sync_to_async(selectors.code_document_updates)(
            room_id=room_id
        )
        return yjs.DocMirror(updates, seq=seq)

    def release(self, room_id, holder) -> None:
        entry = self.rooms.get(room_id)
        if entry is None or holder not in entry[1]:
            return
        entry[1].discard(holder)
        if not entry[1]:
            del self.rooms[room_id]
            self._close(entry[0])

    def discard(self, room_id, mirror: yjs.DocMirror) -> set:
        """Drop `mirror` (if it is still the room's); returns the sockets that held it."""
        entry = self.rooms.get(room_id)
        if entry is None or not entry[0].done() or entry[0].result() is not mirror:
            return set()
        del self.rooms[room_id]
        self._close(entry[0])
        return entry[1]

    @staticmethod
    def _close(loading: asyncio.Future) -> None:
        if loading.done() and not loading.cancelled() and loading.exception() is None:
            loading.result().close()
        else:
            loading.add_done_callback(
                lambda f: f.cancelled() or f.exception() or f.result().close()
            )


class CodeConsumer(RoomMixin, AuthenticatedBinaryConsumer):
    """The Yjs sync and awareness protocol of y-websocket, in binary frames.

    The database holds the room's document (snapshot + update log); the sockets of
    one process share a mirror of it (CodeDocuments) to answer sync step 1 and to
    tell new edits from echoes; it is let go when the room's last socket here closes.
    An edit is stored (and numbered) before it is relayed to the room's group.
    Nothing sent passes CODE_FRAME_BYTES (daphne sends no message over 1 MiB): a
    bigger sync or update goes in parts.

    Limits, each answered with y-protocols' "permission denied" message: an edit
    that would take the document past CODE_DOCUMENT_MAX_BYTES is dropped; a user's
    socket past WS_MAX_SOCKETS_PER_USER is closed with 4429; an awareness entry
    that is not this socket's own client's, or not a small JSON object, is dropped.

    Viewers receive every update, but what they send as an edit is dropped (and
    audited once per socket): the document stays as the editors made it. The
    socket stays open, because y-websocket would only reconnect and resend.
    Text frames are ignored; y-websocket never sends them.
    """

    MAX_AWARENESS_BYTES = 64 * 1024
    # A frame that gives the server nothing to do for others (an echo of an update it
    # relayed: pycrdt's Provider sends every remote update back) costs a tenth of a
    # token; one that is stored, relayed or answered costs a whole one.
    ECHO_COST = 0.1

    mirror: yjs.DocMirror | None = None
    slot: int | None = None
    heartbeat: asyncio.Task | None = None
    gap_task: asyncio.Task | None = None

    async def on_admitted(self) -> None:
        self.group = code_group(self.room_id)
        self.can_edit = role_allows(self.role, Role.EDITOR)
        self.refused_edits = 0
        self.edit_audited = False
        self.frames = FrameBucket(rate=limit("CODE_SOCKET_RATE"), burst=limit("CODE_SOCKET_BURST"))
        self.closing = False
        # The awareness client this socket speaks for (its first own entry says which),
        # its (clock, state), and the clocks of the room's other clients as relayed.
        self.client_id: int | None = None
        self.awareness: dict[int, tuple[int, str]] = {}
        self.peers: dict[int, int] = {}
        self.live_peers: set[int] = set()
        self.ahead: dict[int, float] = {}  # seq -> arrival, of updates relayed past a gap
        self.slot = await self.slot_call(limits.socket_slot_take)
        if self.slot is None:
            await self.sockets_refuse()
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        # self.seq: every update up to this one is in the mirror and with the client.
        self.mirror, loaded_here = await CodeDocuments.for_loop().acquire(self.room_id, self)
        if not loaded_here:  # loaded before this socket joined the group: catch up
            last = await database_sync_to_async(selectors.code_document_last_seq)(
                room_id=self.room_id
            )
            for _, update in await self.log_read(after=self.mirror.seq, until=last + 1):
                self.mirror.apply(update)
            self.mirror.seq = max(self.mirror.seq, last)
        self.seq = self.mirror.seq
        self.heartbeat = asyncio.create_task(self.slot_heartbeat())
        await self.send(bytes_data=create_sync_message(self.mirror.doc))
        # A late joiner learns the others' cursors from their sockets.
        await self.channel_layer.group_send(
            self.group, {"type": "code.awareness_query", "reply_to": self.channel_name}
        )

    async def slot_call(self, function, **kwargs):
        """A socket-slot call (limits.py); the cache is thread-safe, so it runs on any
        thread, not queued behind the database's."""
        return await sync_to_async(function, thread_sensitive=False)(
            user_id=self.user.pk, channel_name=self.channel_name, **kwargs
        )

    async def sockets_refuse(self) -> None:
        most = limit("WS_MAX_SOCKETS_PER_USER")
        reason = f"too many sockets: at most {most} code sockets a user (WS_MAX_SOCKETS_PER_USER)"
        logger.info("code room %s: %s refused: %s", self.room_id, self.user, reason)
        self.closing = True
        await self.send(bytes_data=yjs.permission_denied(reason + "; close one and retry"))
        await self.close(code=CLOSE_TOO_MANY_SOCKETS, reason=reason[:120])

    async def slot_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(limit("PRESENCE_HEARTBEAT_SECONDS"))
            try:
                await self.slot_call(limits.socket_slot_renew, index=self.slot)
            except Exception:  # a missed renewal must not end the socket
                logger.exception("code room %s: socket slot not renewed", self.room_id)

    async def disconnect(self, code) -> None:
        if not self.admitted:
            return
        for task in (self.gap_task, self.heartbeat):
            if task is not None:
                task.cancel()
        if self.slot is not None:
            await self.slot_call(limits.socket_slot_release, index=self.slot)
        if self.mirror is None:
            return
        CodeDocuments.for_loop().release(self.room_id, self)
        self.mirror = None
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.awareness:
            clocks = {client_id: clock for client_id, (clock, _) in self.awareness.items()}
            gone = create_awareness_message(yjs.awareness_removal(clocks))
            await self.channel_layer.group_send(
                self.group,
                {"type": "code.awareness", "frame": gone, "sender": self.channel_name},
            )

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        if not self.admitted or self.closing or not bytes_data:
            return
        if not await self.charge(self.ECHO_COST):
            return
        try:
            if bytes_data[0] == yjs.MESSAGE_SYNC and len(bytes_data) > 1:
                await self.sync_received(bytes_data)
            elif bytes_data[0] == yjs.MESSAGE_AWARENESS:
                await self.awareness_received(bytes_data)
            elif bytes_data[0] == yjs.MESSAGE_QUERY_AWARENESS and await self.charge(
                1 - self.ECHO_COST
            ):
                await self.awareness_query_answer(self.channel_name)
        except yjs.ProtocolError as exc:
            logger.warning("code room %s: dropped a malformed frame: %s", self.room_id, exc)

    async def sync_received(self, frame: bytes) -> None:
        step = frame[1]
        if step == YSyncMessageType.SYNC_STEP1:
            if not await self.charge(1 - self.ECHO_COST):
                return
            state = yjs.read_payload(frame, 2)
            try:  # in parts when big: daphne sends no message over 1 MiB
                reply = self.mirror.sync_reply(state, limit("CODE_FRAME_BYTES"))
            except (ValueError, RuntimeError, IndexError) as exc:
                raise yjs.ProtocolError(str(exc)) from None
            for part in reply:
                await self.send(bytes_data=part)
            return
        if step not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            raise yjs.ProtocolError(f"unknown sync step {step}")
        update = yjs.read_payload(frame, 2)
        if update == yjs.EMPTY_UPDATE:
            return
        if not self.can_edit:
            await self.edit_refuse()
            return
        if len(update) > limit("CODE_MAX_UPDATE_BYTES"):
            logger.warning("code room %s: update of %d bytes refused", self.room_id, len(update))
            await self.close(code=CLOSE_TOO_BIG)
            return
        mirror = self.mirror
        # The room's sockets share the mirror: an edit this socket could not pay for must
        # not reach it (unstored, unrelayed, it would hide the edit from the sync that
        # resends it). So the full price is checked first, though an echo costs less.
        if not self.frames.affords(1 - self.ECHO_COST):
            await self.rate_limited()
            return
        try:
            data = mirror.accept(update, max_bytes=limit("CODE_DOCUMENT_MAX_BYTES"))
        except yjs.DocumentTooLarge as exc:
            await self.too_large_refuse(exc)
            return
        if data is None:
            return  # nothing new: an echo, or a resent update
        self.frames.take(1 - self.ECHO_COST)  # affordable: checked above
        try:
            await CodeLogWriter.for_loop().append(
                room_id=self.room_id, user=self.user, data=data, sender=self.channel_name
            )
        except services.CodeEditRefused as exc:
            await self.mirror_drop(mirror)
            if self.user.pk in exc.user_ids:
                await self.edit_refused_by_store()
                return
            # Another author's edit sank the batch: this one is not stored either.
            logger.info("code room %s: update not stored: %s", self.room_id, exc)
            await self.close(code=CLOSE_SERVER_ERROR)
        except Exception:
            # The mirror now holds an edit the database does not: start over. The
            # client resends it when it reconnects (its sync step 2).
            logger.exception("code room %s: update not stored", self.room_id)
            await self.mirror_drop(mirror)
            await self.close(code=CLOSE_SERVER_ERROR)
        else:
            if not self.edit_audited:
                # Each update is stored with its author; the audit trail gets one row a
                # socket, at its first stored edit, with the address it came from.
                self.edit_audited = True
                await database_sync_to_async(services.audit_record)(
                    action="code.edit",
                    user=self.user,
                    object_type="room",
                    object_id=self.room_id,
                    workspace_id=self.workspace_id,
                    request=self.scope,
                    detail={"role": self.role},
                )

    async def mirror_drop(self, mirror: yjs.DocMirror) -> None:
        """`mirror` holds an edit the database does not: no new socket may sync from
        it, and the other sockets that share it start over (their clients reconnect
        and resend what the database lacks)."""
        for holder in CodeDocuments.for_loop().discard(self.room_id, mirror):
            if holder is not self:
                holder.closing = True
                await holder.close(code=CLOSE_SERVER_ERROR)

    async def too_large_refuse(self, exc: yjs.DocumentTooLarge) -> None:
        """The edit is dropped and the client told why; the socket stays open (as for
        a viewer's edit: y-websocket would only reconnect and resend it)."""
        logger.info(
            "code room %s: edit by %s refused: the document would pass %d bytes",
            self.room_id,
            self.user,
            exc.limit,
        )
        await self.send(
            bytes_data=yjs.permission_denied(
                f"edit refused: the document would grow to {exc.size + exc.adding} bytes, "
                f"over its limit of {exc.limit} (CODE_DOCUMENT_MAX_BYTES); "
                "delete something first; this edit is not saved"
            )
        )

    async def charge(self, cost: float) -> bool:
        """Spend from the socket's bucket; over the limit, close it and return False."""
        if self.frames.take(cost):
            return True
        await self.rate_limited()
        return False

    async def rate_limited(self) -> None:
        """Over the limit the socket is closed, not a frame dropped: a dropped update
        would leave this client's document apart from the room's for good, while a
        y-websocket client reconnects and its sync step 2 resends what the server lacks."""
        self.closing = True
        logger.warning("code room %s: %s flooded its socket; closed", self.room_id, self.user)
        await self.close(
            code=CLOSE_RATE_LIMITED,
            reason=f"rate limit: {self.frames.describe()}"[:120],
        )

    async def on_role_changed(self) -> None:
        self.can_edit = role_allows(self.role, Role.EDITOR)

    async def edit_refused_by_store(self) -> None:
        """The store refused this user's edit (its role fell before the notice came):
        learn the new role, then refuse as for any read-only edit."""
        if await self.access_recheck():
            self.can_edit = False
            await self.edit_refuse()

    async def edit_refuse(self) -> None:
        """A read-only socket's edit is dropped and answered (y-websocket logs the reason
        and stays connected); the first of a socket's refusals is audited."""
        self.refused_edits += 1
        if self.refused_edits == 1:
            logger.info("code room %s: read-only edit by %s dropped", self.room_id, self.user)
            await self.audit_denied("code.edit")
        await self.send(
            bytes_data=yjs.permission_denied(
                f"edit refused: {self.user.get_username()} may read this room's code but "
                f"not edit it (role {self.role}); this edit is not saved"
            )
        )

    async def awareness_received(self, frame: bytes) -> None:
        """Relay this socket's own client's awareness state, checked: a JSON object of
        bounded size, its `user.name` the socket's user. The first client to send a
        state for itself is the socket's; an entry for any other client is dropped:
        quietly when it repeats what that client's own socket said (y-websocket sends
        the others' states back), with a refusal when it would change it."""
        if not await self.charge(1 - self.ECHO_COST):
            return
        if len(frame) > self.MAX_AWARENESS_BYTES:
            await self.awareness_refuse(
                f"an awareness update may hold {self.MAX_AWARENESS_BYTES} bytes"
            )
            return
        try:
            entries = yjs.awareness_entries(yjs.read_payload(frame, 1))
        except yjs.ProtocolError as exc:
            await self.awareness_refuse(f"not an awareness update ({exc})")
            return
        relay, refused = [], []
        for client_id, clock, state in entries:
            if client_id != self.client_id:
                if client_id in self.peers and clock <= self.peers[client_id]:
                    continue  # an echo of another client's state
                if self.client_id is not None or state == "null" or client_id in self.live_peers:
                    refused.append(f"client {client_id} is not this connection's")
                    continue
                self.client_id = client_id
            try:
                value = yjs.awareness_state(state, limit("CODE_AWARENESS_STATE_BYTES"))
            except ValueError as exc:
                refused.append(str(exc))
                continue
            if value is None:
                self.awareness.pop(client_id, None)
            else:
                user = value.get("user")
                value["user"] = {
                    **(user if isinstance(user, dict) else {}),
                    "name": self.user.username,
                }
                state = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                self.awareness[client_id] = (clock, state)
            relay.append((client_id, clock, state))
        if relay:
            update = create_awareness_message(yjs.awareness_payload(relay))
            await self.channel_layer.group_send(
                self.group, {"type": "code.awareness", "frame": update, "sender": self.channel_name}
            )
        if refused:
            await self.awareness_refuse("; ".join(dict.fromkeys(refused)))

    async def awareness_refuse(self, why: str) -> None:
        logger.info("code room %s: awareness from %s refused: %s", self.room_id, self.user, why)
        await self.send(bytes_data=yjs.permission_denied(f"awareness refused: {why}"[:1000]))

    async def awareness_query_answer(self, reply_to: str) -> None:
        if not self.awareness:
            return
        entries = [(cid, clock, state) for cid, (clock, state) in self.awareness.items()]
        frame = create_awareness_message(yjs.awareness_payload(entries))
        if reply_to == self.channel_name:
            await self.send(bytes_data=frame)
        else:
            await self.channel_layer.send(
                reply_to, {"type": "code.awareness", "frame": frame, "sender": self.channel_name}
            )

    def seq_advance(self) -> None:
        while self.seq + 1 in self.ahead:
            self.seq += 1
            del self.ahead[self.seq]
        self.mirror.seq = max(self.mirror.seq, self.seq)

    async def log_read(self, *, after: int, until: int) -> list[tuple[int, bytes]]:
        """(seq, update) of the stored updates after `after` and before `until`; the
        whole document as one when some are already folded into the snapshot."""
        if until <= after + 1:
            return []
        missed = await database_sync_to_async(selectors.code_updates_between)(
            room_id=self.room_id, after_seq=after, before_seq=until
        )
        if missed is None:
            updates, _ = await database_sync_to_async(selectors.code_document_updates)(
                room_id=self.room_id
            )
            missed = [(until - 1, yjs.updates_compact(updates))]
        return missed

    async def send_update(self, update: bytes) -> None:
        for frame in yjs.update_frames(update, limit("CODE_FRAME_BYTES")):
            await self.send(bytes_data=frame)

    async def gap_fill(self) -> None:
        """Yjs applies updates in any order, so relayed updates go out at once; an
        update still missing after GAP_WAIT is read from the log (or, if already
        folded into the snapshot, the whole state is sent)."""
        try:
            while self.ahead:
                oldest = min(self.ahead.values())
                await asyncio.sleep(max(0.0, oldest + GAP_WAIT - time.monotonic()))
                if not self.ahead or min(self.ahead.values()) > oldest:
                    continue
                until = max(self.ahead) + 1
                missed = await self.log_read(after=self.seq, until=until)
                for seq, update in missed:
                    if seq > self.seq and seq not in self.ahead:
                        self.mirror.apply(update)
                        await self.send_update(update)
                self.seq = max(self.seq, until - 1)
                self.mirror.seq = max(self.mirror.seq, self.seq)
                self.ahead = {s: a for s, a in self.ahead.items() if s > self.seq}
        finally:
            self.gap_task = None

    # Channel-layer handlers.

    async def code_update(self, event) -> None:
        seq = event["seq"]
        if seq <= self.seq or seq in self.ahead:
            return
        if event["sender"] != self.channel_name:  # the sender's mirror has it already
            self.mirror.apply(event["update"])
            await self.send_update(event["update"])
        self.ahead[seq] = time.monotonic()
        self.seq_advance()
        if self.ahead and self.gap_task is None:
            self.gap_task = asyncio.create_task(self.gap_fill())

    async def code_awareness(self, event) -> None:
        if event["sender"] != self.channel_name:
            # Relayed frames were checked by their socket; note whose clients they are.
            for client_id, clock, state in yjs.awareness_entries(
                yjs.read_payload(event["frame"], 1)
            ):
                self.peers[client_id] = max(clock, self.peers.get(client_id, 0))
                if state == "null":
                    self.live_peers.discard(client_id)
                else:
                    self.live_peers.add(client_id)
            await self.send(bytes_data=event["frame"])

    async def code_awareness_query(self, event) -> None:
        if event["reply_to"] != self.channel_name:
            await self.awareness_query_answer(event["reply_to"])


# --- /ws/notifications ---------------------------------------------------------------------


class NotificationConsumer(AuthenticatedJsonConsumer):
    """The caller's workspace events (events.WorkspaceEvent), from every workspace they
    belong to. Membership changes follow the socket: a workspace the user joins is
    heard from then on, one they leave (or that is deleted) is not, and the socket
    stays open for the others."""

    requires_membership = False
    close_connections_per_message = False

    async def before_accept(self) -> None:
        self.workspace_ids: set[str] = set()
        await self.workspaces_follow()

    async def workspaces_follow(self) -> None:
        """Join the notification groups of the user's workspaces as they are now."""
        current = {
            str(ws_id)
            for ws_id in await database_sync_to_async(selectors.workspace_ids_for_user)(
                user=self.user
            )
        }
        gone, new = self.workspace_ids - current, current - self.workspace_ids
        self.workspace_ids = current  # before any await: events of a gone one stop here
        for ws_id in gone:
            await self.channel_layer.group_discard(notifications_group(ws_id), self.channel_name)
        for ws_id in new:
            await self.channel_layer.group_add(notifications_group(ws_id), self.channel_name)

    async def access_recheck(self) -> bool:
        if not await super().access_recheck():
            return False
        await self.workspaces_follow()
        return True

    async def disconnect(self, code) -> None:
        if not self.admitted:
            return
        for ws_id in self.workspace_ids:
            await self.channel_layer.group_discard(notifications_group(ws_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        pass  # clients have nothing to say on this stream

    async def workspace_event(self, event) -> None:
        if event["event"]["workspace"] in self.workspace_ids:  # a member still
            await self.send_json(event["event"])
