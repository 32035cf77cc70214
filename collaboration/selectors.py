"""Reads that decide access. Every app restricts its querysets through these.
Also the reads of rooms, chat history, presence and code documents."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from . import yjs
from .events import ChatMessageEvent, ChatUser
from .limits import limit
from .models import (
    ROLE_RANK,
    ChatMessage,
    CodeDocument,
    CodeUpdate,
    Membership,
    Role,
    Room,
    RoomPresence,
    Workspace,
)


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    if not user or not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def workspace_role(*, user, workspace_id) -> str | None:
    """The caller's role in a workspace, or None when they are not a member."""
    if not user or not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(workspace_id=workspace_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def role_of(user, workspace_id) -> Subquery:
    """The user's role in the workspace given (an id or an ``OuterRef``) as a subquery,
    for annotating a row with its reader's role; NULL for non-members."""
    return Subquery(
        Membership.objects.filter(workspace_id=workspace_id, user=user).values("role")[:1]
    )


def role_allows(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]


def workspace_get_for_user(*, user, workspace_id) -> Workspace:
    """The workspace if the user is a member; Http404 otherwise (never 403, so
    an outsider cannot tell whether it exists)."""
    try:
        return workspaces_for_user(user=user).get(pk=workspace_id)
    except (Workspace.DoesNotExist, ValueError):
        raise Http404 from None


def restrict_to_member(queryset: QuerySet, *, user, workspace_field: str = "workspace") -> QuerySet:
    """Limit any queryset to rows whose workspace the user belongs to."""
    if not user or not user.is_authenticated:
        return queryset.none()
    member_of = Membership.objects.filter(user=user).values("workspace_id")
    return queryset.filter(**{f"{workspace_field}_id__in": member_of})


def personal_workspace(*, user) -> Workspace | None:
    return Workspace.objects.filter(
        is_personal=True, created_by=user, memberships__user=user
    ).first()


def workspace_ids_for_user(*, user) -> list[uuid.UUID]:
    return list(workspaces_for_user(user=user).values_list("pk", flat=True))


# --- rooms and chat ----------------------------------------------------------------------


def room_workspace_id(*, room_id) -> uuid.UUID | None:
    """The workspace of a room, or None for an unknown room or a malformed id."""
    try:
        room_id = uuid.UUID(str(room_id))
    except ValueError:
        return None
    return Room.objects.filter(pk=room_id).values_list("workspace_id", flat=True).first()


def chat_user(user) -> ChatUser | None:
    return None if user is None else {"id": str(user.pk), "username": user.username}


def chat_message_event(message: ChatMessage) -> ChatMessageEvent:
    """A message as every client sees it, on the socket and from REST alike."""
    return {
        "type": "message",
        "id": str(message.pk),
        "seq": message.seq,
        "room": str(message.room_id),
        "user": chat_user(message.user),
        "kind": message.kind,
        "text": message.text,
        "data": message.data,
        "timestamp": message.created_at.isoformat(),
    }


def chat_message_relay(event: ChatMessageEvent) -> dict:
    """The channel-layer message that carries a saved message to the room's sockets:
    its seq, and its frame encoded once for all of them."""
    return {"type": "chat.message", "seq": event["seq"], "frame": json.dumps(event)}


def chat_messages_newest_first(*, room_id, before_seq: int | None = None) -> QuerySet[ChatMessage]:
    messages = ChatMessage.objects.filter(room_id=room_id).select_related("user")
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    return messages.order_by("-seq")


def chat_history_recent(*, room_id, limit: int) -> list[ChatMessageEvent]:
    """The room's last `limit` messages, oldest first."""
    newest = chat_messages_newest_first(room_id=room_id)[:limit]
    return [chat_message_event(m) for m in reversed(newest)]


def chat_messages_between(*, room_id, after_seq: int, before_seq: int) -> list[ChatMessageEvent]:
    """Messages with after_seq < seq < before_seq, oldest first (a consumer fills a gap)."""
    messages = ChatMessage.objects.filter(
        room_id=room_id, seq__gt=after_seq, seq__lt=before_seq
    ).select_related("user")
    return [chat_message_event(m) for m in messages.order_by("seq")]


def presence_users(*, room_id) -> list[ChatUser]:
    """Users with an open chat socket in the room (on any server process), by name."""
    cutoff = timezone.now() - timedelta(seconds=limit("PRESENCE_STALE_SECONDS"))
    present = RoomPresence.objects.filter(room_id=room_id, seen_at__gte=cutoff).values("user_id")
    users = get_user_model().objects.filter(pk__in=present).order_by("username")
    return [chat_user(u) for u in users]


# --- code documents ----------------------------------------------------------------------


def code_document_state(document: CodeDocument) -> list[bytes]:
    """The document's snapshot, then its log after it up to last_seq, in order."""
    log = CodeUpdate.objects.filter(
        document=document, seq__gt=document.snapshot_seq, seq__lte=document.last_seq
    ).order_by("seq")
    return [
        bytes(document.snapshot or b""),
        *(bytes(d) for d in log.values_list("data", flat=True)),
    ]


def code_document_updates(*, room_id) -> tuple[list[bytes], int]:
    """Everything needed to rebuild a room's document: the snapshot, then the log
    after it; and the seq of the last update included."""
    document = CodeDocument.objects.filter(room_id=room_id).first()
    if document is None:
        return [], 0
    return code_document_state(document), document.last_seq


def code_document_last_seq(*, room_id) -> int:
    """The seq of the room's last stored code update (0 when none)."""
    last = CodeDocument.objects.filter(room_id=room_id).values_list("last_seq", flat=True)
    return next(iter(last), 0)


def code_updates_between(
    *, room_id, after_seq: int, before_seq: int
) -> list[tuple[int, bytes]] | None:
    """(seq, update) with after_seq < seq < before_seq in order, or None when some of
    them are already folded into the snapshot (the caller then needs the whole state)."""
    rows = list(
        CodeUpdate.objects.filter(document_id=room_id, seq__gt=after_seq, seq__lt=before_seq)
        .order_by("seq")
        .values_list("seq", "data")
    )
    if len(rows) != before_seq - after_seq - 1:
        return None
    return [(seq, bytes(data)) for seq, data in rows]


def code_document_text(*, room: Room) -> tuple[str, datetime | None]:
    """The text of the room's shared `code` type, and when it last changed."""
    document = CodeDocument.objects.filter(room_id=room.pk).first()
    updates = code_document_state(document) if document else []
    return yjs.doc_text(yjs.doc_from_updates(updates)), (document.updated_at if document else None)


# --- open sockets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SocketAccess:
    signed_in: bool  # the user exists, is active and (for a session socket) its session holds
    role: str | None  # in the socket's workspace; None for none or not a member


def socket_access(*, user_id, workspace_id=None, session_key: str | None = None) -> SocketAccess:
    """What an open socket's user may do now. A socket that rode a session cookie
    (`session_key`) needs that session to still sign in this user, as Django checks it
    per request (logout, password change); a ticket's socket needs an active user."""
    users, fields = get_user_model().objects.filter(pk=user_id), ["is_active"]
    if workspace_id is not None:
        users, fields = (
            users.annotate(role=role_of(OuterRef("pk"), workspace_id)),
            [*fields, "role"],
        )
    row = users.values(*fields).first()
    if row is None or not row["is_active"]:
        return SocketAccess(False, None)
    role = row.get("role")
    if session_key is not None and not _session_signs_in(session_key, user_id):
        return SocketAccess(False, role)
    return SocketAccess(True, role)


def _session_signs_in(session_key: str, user_id) -> bool:
    from django.conf import settings
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if session.get(SESSION_KEY) != str(user_id):
        return False
    user = get_user_model().objects.get(pk=user_id)
    stored = session.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, h) for h in hashes)
