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
import time
import uuid
import weakref

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from pycrdt import (
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

from . import safejson, selectors, services, yjs
from .events import chat_group, code_group, notifications_group
from .limits import limit
from .models import AuditEvent, Role
from .selectors import role_allows, workspace_role

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_RATE_LIMITED = 4429
GAP_WAIT = 1.0  # seconds a socket waits for a missing notice before reading the database


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

    def describe(self) -> str:
        return f"at most {self.rate:g} frames a second (bursts of {self.burst})"


class WorkspaceMemberMixin:
    """Admits only authenticated members of the stream's workspace.

    Subclasses override `resolve_workspace_id()` (None = refuse with 4403),
    `before_accept()` (e.g. join groups, so nothing sent after the handshake is
    missed) and `on_admitted()`; `self.user`, `self.role`, `self.workspace_id`
    and `self.admitted` are set.
    """

    requires_membership = True
    admitted = False
    # Channels hops to the sync thread before every handler to close stale database
    # connections. A consumer whose handlers reach the database only through
    # database_sync_to_async (which closes them itself) sets this False: otherwise
    # every relayed frame of every socket queues on that one thread.
    close_connections_per_message = True

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
        await self.before_accept()
        await self.accept()
        self.admitted = True
        await self.on_admitted()

    async def dispatch(self, message) -> None:
        if self.close_connections_per_message:
            await super().dispatch(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def refuse(self, code: int) -> None:
        self.refused = True
        await self.accept()
        await self.close(code=code)

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
                room_id=self.room_id, user=self.user, text=text
            )
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


class CodeConsumer(RoomMixin, AuthenticatedBinaryConsumer):
    """The Yjs sync and awareness protocol of y-websocket, in binary frames.

    The database holds the room's document (snapshot + update log); this socket
    keeps a mirror of it to answer sync step 1 and to tell new edits from echoes.
    An edit is stored (and numbered) before it is relayed to the room's group.

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

    async def on_admitted(self) -> None:
        self.group = code_group(self.room_id)
        self.can_edit = role_allows(self.role, Role.EDITOR)
        self.refused_edits = 0
        self.frames = FrameBucket(rate=limit("CODE_SOCKET_RATE"), burst=limit("CODE_SOCKET_BURST"))
        self.closing = False
        # awareness client id -> (clock, state), of this socket's clients
        self.awareness: dict[int, tuple[int, str]] = {}
        self.ahead: dict[int, float] = {}  # seq -> arrival, of updates relayed past a gap
        self.gap_task: asyncio.Task | None = None
        await self.channel_layer.group_add(self.group, self.channel_name)
        # self.seq: every update up to this one is in the mirror and with the client.
        updates, self.seq = await database_sync_to_async(selectors.code_document_updates)(
            room_id=self.room_id
        )
        self.mirror = yjs.DocMirror(updates)
        await self.send(bytes_data=create_sync_message(self.mirror.doc))
        # A late joiner learns the others' cursors from their sockets.
        await self.channel_layer.group_send(
            self.group, {"type": "code.awareness_query", "reply_to": self.channel_name}
        )

    async def disconnect(self, code) -> None:
        if not self.admitted:
            return
        if self.gap_task is not None:
            self.gap_task.cancel()
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
            try:
                reply = handle_sync_message(frame[1:], self.mirror.doc)
            except (ValueError, RuntimeError, IndexError) as exc:
                raise yjs.ProtocolError(str(exc)) from None
            if reply is not None:
                await self.send(bytes_data=reply)
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
        data = self.mirror.accept(update)
        if data is None:
            return  # nothing new: an echo, or a resent update
        if not await self.charge(1 - self.ECHO_COST):
            return  # closed: the mirror, which holds the refused edit, goes with it
        try:
            await CodeLogWriter.for_loop().append(
                room_id=self.room_id, user=self.user, data=data, sender=self.channel_name
            )
        except Exception:
            # The mirror now holds an edit the database does not: start over. The
            # client resends it when it reconnects (its sync step 2).
            logger.exception("code room %s: update not stored", self.room_id)
            await self.close(code=CLOSE_SERVER_ERROR)

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

    async def edit_refuse(self) -> None:
        self.refused_edits += 1
        if self.refused_edits == 1:
            logger.info("code room %s: read-only edit by %s dropped", self.room_id, self.user)
            await database_sync_to_async(services.audit_record)(
                action="code.edit",
                user=self.user,
                object_type="room",
                object_id=self.room_id,
                workspace_id=self.workspace_id,
                request=self.scope,
                outcome=AuditEvent.Outcome.DENIED,
                detail={"role": self.role},
            )

    async def awareness_received(self, frame: bytes) -> None:
        if len(frame) > self.MAX_AWARENESS_BYTES:
            raise yjs.ProtocolError("awareness update too large")
        if not await self.charge(1 - self.ECHO_COST):
            return
        for client_id, clock, state in yjs.awareness_entries(yjs.read_payload(frame, 1)):
            if state == "null":
                self.awareness.pop(client_id, None)
            else:
                self.awareness[client_id] = (clock, state)
        await self.channel_layer.group_send(
            self.group, {"type": "code.awareness", "frame": frame, "sender": self.channel_name}
        )

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
                missed = await database_sync_to_async(selectors.code_updates_between)(
                    room_id=self.room_id, after_seq=self.seq, before_seq=until
                )
                if missed is None:
                    updates, _ = await database_sync_to_async(selectors.code_document_updates)(
                        room_id=self.room_id
                    )
                    missed = [(until - 1, yjs.updates_compact(updates))]
                for seq, update in missed:
                    if seq > self.seq and seq not in self.ahead:
                        self.mirror.apply(update)
                        await self.send(bytes_data=create_update_message(update))
                self.seq = max(self.seq, until - 1)
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
            await self.send(bytes_data=create_update_message(event["update"]))
        self.ahead[seq] = time.monotonic()
        self.seq_advance()
        if self.ahead and self.gap_task is None:
            self.gap_task = asyncio.create_task(self.gap_fill())

    async def code_awareness(self, event) -> None:
        if event["sender"] != self.channel_name:
            await self.send(bytes_data=event["frame"])

    async def code_awareness_query(self, event) -> None:
        if event["reply_to"] != self.channel_name:
            await self.awareness_query_answer(event["reply_to"])


# --- /ws/notifications ---------------------------------------------------------------------


class NotificationConsumer(AuthenticatedJsonConsumer):
    """The caller's workspace events (events.WorkspaceEvent), from every workspace
    they belong to when the socket opens. A workspace joined later needs a reconnect."""

    requires_membership = False
    close_connections_per_message = False

    async def before_accept(self) -> None:
        workspace_ids = await database_sync_to_async(selectors.workspace_ids_for_user)(
            user=self.user
        )
        self.groups_joined = [notifications_group(ws_id) for ws_id in workspace_ids]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code) -> None:
        if not self.admitted:
            return
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        pass  # clients have nothing to say on this stream

    async def workspace_event(self, event) -> None:
        await self.send_json(event["event"])
