"""All writes of the collaboration app. Views, consumers, commands and the admin call these."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from . import yjs
from .events import (
    AccessChanged,
    AccessReason,
    ChatUser,
    access_group,
    chat_group,
    notifications_group,
    session_tag,
    workspace_event,
)
from .limits import limit
from .models import (
    ROLE_RANK,
    AuditEvent,
    ChatMessage,
    CodeDocument,
    CodeUpdate,
    Membership,
    Role,
    Room,
    RoomPresence,
    Workspace,
)

logger = logging.getLogger(__name__)


def client_address(request) -> str | None:
    """The peer address of an HTTP request or an ASGI scope."""
    if request is None:
        return None
    if isinstance(request, dict):  # ASGI scope
        client = request.get("client")
        return client[0] if client else None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    user=None,
    object_type: str = "",
    object_id: Any = "",
    workspace_id=None,
    request=None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one audit event. `request` may be an HttpRequest or an ASGI scope."""
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return AuditEvent.objects.create(
        user=user,
        username=user.get_username() if user else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        workspace_id=workspace_id,
        remote_addr=client_address(request),
        outcome=outcome,
        detail=detail or {},
    )


@transaction.atomic
def workspace_create(
    *, user, name: str, description: str = "", is_personal: bool = False, request=None
) -> Workspace:
    workspace = Workspace.objects.create(
        name=name, description=description, is_personal=is_personal, created_by=user
    )
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    _room_insert(workspace=workspace, user=user, name=Room.GENERAL)
    audit_record(
        action="workspace.create",
        user=user,
        object_type="workspace",
        object_id=workspace.pk,
        workspace_id=workspace.pk,
        request=request,
    )
    return workspace


def workspace_update(*, workspace: Workspace, user, request=None, **fields: Any) -> Workspace:
    for name in ("name", "description"):
        if name in fields:
            setattr(workspace, name, fields[name])
    workspace.save(update_fields=["name", "description", "updated_at"])
    audit_record(
        action="workspace.update",
        user=user,
        object_type="workspace",
        object_id=workspace.pk,
        workspace_id=workspace.pk,
        request=request,
    )
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, user, request=None) -> None:
    audit_record(
        action="workspace.delete",
        user=user,
        object_type="workspace",
        object_id=workspace.pk,
        workspace_id=workspace.pk,
        request=request,
    )
    workspace.delete()


@transaction.atomic
def membership_set(
    *, workspace: Workspace, user, username: str, role: str, request=None
) -> Membership:
    """Add a member or change their role. The last owner cannot be demoted."""
    User = get_user_model()
    try:
        member = User.objects.get(username=username, is_active=True)
    except User.DoesNotExist:
        raise ValidationError({"username": f"No active user named {username!r}."}) from None
    # Lock the workspace's memberships so two concurrent demotions cannot both pass the check.
    memberships = list(Membership.objects.select_for_update().filter(workspace=workspace))
    current = next((m for m in memberships if m.user_id == member.pk), None)
    owners = [m for m in memberships if m.role == Role.OWNER]
    if current and current.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise ValidationError({"role": "A workspace keeps at least one owner."})
    if current:
        old_role = current.role
        current.role = role
        current.save(update_fields=["role"])
    else:
        old_role = None
        current = Membership.objects.create(workspace=workspace, user=member, role=role)
    audit_record(
        action="membership.set",
        user=user,
        object_type="user",
        object_id=member.pk,
        workspace_id=workspace.pk,
        detail={"username": member.username, "old_role": old_role, "role": role},
        request=request,
    )
    return current


@transaction.atomic
def membership_remove(*, workspace: Workspace, user, member_id, request=None) -> None:
    memberships = list(Membership.objects.select_for_update().filter(workspace=workspace))
    target = next((m for m in memberships if str(m.user_id) == str(member_id)), None)
    if target is None:
        raise ValidationError({"user": "That user is not a member of this workspace."})
    owners = [m for m in memberships if m.role == Role.OWNER]
    if target.role == Role.OWNER and len(owners) == 1:
        raise ValidationError({"user": "A workspace keeps at least one owner."})
    target.delete()
    audit_record(
        action="membership.remove",
        user=user,
        object_type="user",
        object_id=member_id,
        workspace_id=workspace.pk,
        request=request,
    )


@transaction.atomic
def user_register(*, username: str, password: str, email: str = "", request=None):
    """Create an account and its personal workspace in one transaction."""
    User = get_user_model()
    user = User.objects.create_user(username=username, password=password, email=email)
    workspace_create(user=user, name=f"{username}'s workspace", is_personal=True)
    audit_record(
        action="user.register", user=user, object_type="user", object_id=user.pk, request=request
    )
    return user


# Workspace events that also appear as a system line in the workspace's general room.
SYSTEM_MESSAGE_TEXTS = {
    "run.completed": "Training run {name} completed.",
    "model.registered": "Model {name} was registered.",
}


def notify_workspace(*, type: str, workspace_id, object_id, data: dict | None = None) -> None:
    """Tell the workspace's members about an event once the current transaction commits.

    Events in SYSTEM_MESSAGE_TEXTS are also posted as a system message in the
    workspace's general room, in the caller's transaction. Call from sync code.
    """
    event = workspace_event(
        type=type, workspace_id=workspace_id, object_id=object_id, data=data, time=timezone.now()
    )
    transaction.on_commit(
        partial(
            _group_send,
            notifications_group(workspace_id),
            {"type": "workspace.event", "event": event},
        ),
        robust=True,
    )

    template = SYSTEM_MESSAGE_TEXTS.get(type)
    if template is not None:
        name = str((data or {}).get("name") or object_id)
        try:
            with transaction.atomic():  # a savepoint: a failure here never undoes the caller's work
                chat_post_system_message(
                    workspace_id=workspace_id,
                    text=template.format(name=name),
                    data={"event": event},
                )
        except (DatabaseError, Workspace.DoesNotExist):
            logger.exception("system message for %s in workspace %s not posted", type, workspace_id)


def access_changed_notify(
    *, user_id, reason: AccessReason, workspace_id=None, session_key: str | None = None
) -> None:
    """Tell the user's open sockets, once the transaction commits, that their access
    changed; each re-reads it (or, on a logout, closes if it rode that session).
    The membership and user signals call this, so admin and ORM changes count too."""
    message: AccessChanged = {
        "type": "access.changed",
        "reason": reason,
        "workspace": str(workspace_id) if workspace_id is not None else None,
        "session": session_tag(session_key),
    }
    transaction.on_commit(partial(_group_send, access_group(user_id), message), robust=True)


def _members_allowed(*, workspace_filter: dict, user_ids: set, needed: str) -> set:
    """Which of the users are active members with at least the role `needed`, read under
    a lock of their membership rows: a concurrent removal or demotion waits for the
    caller's commit, or has committed and is seen (PostgreSQL; SQLite runs writers
    one at a time anyway)."""
    rows = (
        Membership.objects.select_for_update(of=("self",))
        .filter(user_id__in=user_ids, user__is_active=True, **workspace_filter)
        .order_by("pk")
        .values_list("user_id", "role")
    )
    return {uid for uid, role in rows if ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]}


def demo_user_ensure(*, password: str | None = None, password_file=None) -> tuple:
    """The demo account and its personal workspace, created on first use.

    The password comes from `password` (DEMO_PASSWORD), else it is generated once
    and kept in `password_file` (mode 0600) so every `make run` can print it.
    There is never a fixed default password. Returns (user, workspace, password).
    """
    import os
    import secrets

    from django.contrib.auth import get_user_model

    from .selectors import personal_workspace

    if not password and password_file is not None:
        if os.path.exists(password_file):
            with open(password_file) as fh:
                password = fh.read().strip()
        else:
            password = secrets.token_urlsafe(12)
            os.makedirs(os.path.dirname(password_file), exist_ok=True)
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(password)
    if not password:
        raise ValueError("A demo password is needed (DEMO_PASSWORD or a password file).")
    User = get_user_model()
    user = User.objects.filter(username="demo").first()
    if user is None:
        user = user_register(username="demo", password=password, email="demo@example.org")
    elif not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, personal_workspace(user=user), password


# --- rooms ------------------------------------------------------------------------------


def _room_insert(*, workspace: Workspace, user, name: str) -> Room:
    room = Room.objects.create(workspace=workspace, name=name, created_by=user)
    CodeDocument.objects.create(room=room)
    return room


@transaction.atomic
def room_create(*, workspace: Workspace, user, name: str) -> Room:
    """A new room in the workspace; names are unique per workspace, ignoring case."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A room needs a name."})
    if Room.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise ValidationError({"name": f"This workspace already has a room named {name!r}."})
    room = _room_insert(workspace=workspace, user=user, name=name)
    audit_record(
        action="room.create",
        user=user,
        object_type="room",
        object_id=room.pk,
        workspace_id=workspace.pk,
        detail={"name": name},
    )
    return room


def room_general_ensure(*, workspace_id) -> Room:
    """The workspace's general room, created if it is missing."""
    room = Room.objects.filter(workspace_id=workspace_id, name=Room.GENERAL).first()
    if room is None:
        with transaction.atomic():
            workspace = Workspace.objects.get(pk=workspace_id)
            room = _room_insert(workspace=workspace, user=None, name=Room.GENERAL)
    return room


# --- chat -------------------------------------------------------------------------------


def _author(user):
    """The user to store as a message's or update's author: None for anonymous."""
    return user if user is not None and user.is_authenticated else None


class ChatRejected(Exception):
    """A message the server will not save; `code` is one of events.ChatErrorCode."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ChatForbidden(ChatRejected):
    """The sender is no longer an active member of the room's workspace."""

    def __init__(self):
        super().__init__("bad_request", "You are no longer a member of this workspace.")


def _chat_text_check(text) -> None:
    if not isinstance(text, str):
        raise ChatRejected("bad_request", "A message needs a text string.")
    if not text.strip():
        raise ChatRejected("empty", "The message is empty.")
    if len(text) > limit("CHAT_MAX_LENGTH"):
        raise ChatRejected(
            "too_long",
            f"A message may have at most {limit('CHAT_MAX_LENGTH')} characters "
            f"(this one has {len(text)}).",
        )
    if "\x00" in text:
        raise ChatRejected("invalid", "The message contains a NUL character.")


@transaction.atomic
def chat_message_create(
    *,
    room_id,
    user,
    text: str,
    kind: str = ChatMessage.Kind.USER,
    data: dict | None = None,
    request=None,
) -> ChatMessage:
    """Save a message as the room's next one (no broadcast; see chat_message_post).

    User messages are checked for length and for the per-user rate, which is
    counted in the database so that every server process sees the same count, and
    audited with their author and address (`request`: an HttpRequest or an ASGI
    scope). Raises ChatRejected.
    """
    now = timezone.now()
    if kind == ChatMessage.Kind.USER:
        _chat_text_check(text)
        # Access as it is now, not as it was when the socket opened (DESIGN.md section 5).
        if user is None or not _members_allowed(
            workspace_filter={"workspace__rooms": room_id}, user_ids={user.pk}, needed=Role.VIEWER
        ):
            raise ChatForbidden()
    else:
        text = str(text)[: limit("CHAT_MAX_LENGTH")]
    # Taking the next seq locks the room row until commit: a room's messages are
    # numbered without gaps, in commit order.
    if not Room.objects.filter(pk=room_id).update(last_message_seq=F("last_message_seq") + 1):
        raise ChatRejected("bad_request", "This room no longer exists.")
    if kind == ChatMessage.Kind.USER:
        window = timedelta(seconds=limit("CHAT_RATE_WINDOW"))
        recent = list(
            ChatMessage.objects.filter(user=user, created_at__gt=now - window)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[: limit("CHAT_RATE_LIMIT")]
        )
        if len(recent) >= limit("CHAT_RATE_LIMIT"):
            wait = (recent[-1] + window - now).total_seconds()
            raise ChatRejected(
                "rate_limited",
                f"At most {limit('CHAT_RATE_LIMIT')} messages in {limit('CHAT_RATE_WINDOW')} s; "
                f"try again in {max(wait, 0.1):.1f} s.",
            )
    seq, workspace_id = (
        Room.objects.filter(pk=room_id).values_list("last_message_seq", "workspace_id").get()
    )
    message = ChatMessage.objects.create(
        room_id=room_id,
        seq=seq,
        user=_author(user),
        kind=kind,
        text=text,
        # Round-trip through JSON so what is stored is exactly what is broadcast.
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
        created_at=now,
    )
    if kind == ChatMessage.Kind.USER:
        audit_record(
            action="chat.message",
            user=user,
            object_type="chat_message",
            object_id=message.pk,
            workspace_id=workspace_id,
            request=request,
        )
    return message


def _group_send(group: str, message: dict) -> None:
    """Broadcast after a commit. A layer failure (Redis away) is logged, never raised:
    the database already holds what was sent, and Django's robust on_commit itself
    fails on a partial's error (it reads `__qualname__`, Django ticket #36487)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # clients catch up from the database
        logger.warning("broadcast to %s failed", group, exc_info=True)


def chat_message_post(
    *,
    room_id,
    user,
    text: str,
    kind: str = ChatMessage.Kind.USER,
    data: dict | None = None,
) -> ChatMessage:
    """Save a message and broadcast it to the room once the transaction commits.
    For sync callers; the chat consumer saves and then sends itself."""
    from .selectors import chat_message_event, chat_message_relay

    message = chat_message_create(room_id=room_id, user=user, text=text, kind=kind, data=data)
    relay = chat_message_relay(chat_message_event(message))
    transaction.on_commit(partial(_group_send, chat_group(room_id), relay), robust=True)
    return message


def chat_post_system_message(*, workspace_id, text: str, data: dict | None = None) -> ChatMessage:
    """Post a system line (no author) into the workspace's general room, saved and then
    broadcast like any message. Other apps call this, or notify_workspace does for them."""
    room = room_general_ensure(workspace_id=workspace_id)
    return chat_message_post(
        room_id=room.pk, user=None, text=text, kind=ChatMessage.Kind.SYSTEM, data=data
    )


# --- presence ---------------------------------------------------------------------------


def _presence_state(room_id) -> tuple[int, list[ChatUser]]:
    from .selectors import presence_users

    # 0 for a room deleted meanwhile (with its workspace): its sockets are closing.
    version = Room.objects.filter(pk=room_id).values_list("presence_version", flat=True).first()
    return version or 0, presence_users(room_id=room_id)


def _presence_change(room_id) -> None:
    """Bump the room's presence version (and lock its row) and drop stale sockets."""
    Room.objects.filter(pk=room_id).update(presence_version=F("presence_version") + 1)
    cutoff = timezone.now() - timedelta(seconds=limit("PRESENCE_STALE_SECONDS"))
    RoomPresence.objects.filter(room_id=room_id, seen_at__lt=cutoff).delete()


@transaction.atomic
def presence_join(*, room_id, user, channel_name: str) -> tuple[int, list[ChatUser]]:
    """Record an open chat socket; returns the room's (presence version, users)."""
    _presence_change(room_id)
    RoomPresence.objects.update_or_create(
        channel_name=channel_name,
        defaults={"room_id": room_id, "user": user, "seen_at": timezone.now()},
    )
    return _presence_state(room_id)


@transaction.atomic
def presence_leave(*, room_id, channel_name: str) -> tuple[int, list[ChatUser]]:
    _presence_change(room_id)
    RoomPresence.objects.filter(channel_name=channel_name).delete()
    return _presence_state(room_id)


def presence_touch(*, room_id, user, channel_name: str) -> tuple[int, list[ChatUser]] | None:
    """Heartbeat of an open socket. Returns the new presence when it changed (a stale
    socket was dropped, or this one had been taken for stale), else None."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=limit("PRESENCE_STALE_SECONDS"))
    mine = RoomPresence.objects.filter(channel_name=channel_name).update(seen_at=now)
    if mine and not RoomPresence.objects.filter(room_id=room_id, seen_at__lt=cutoff).exists():
        return None
    return presence_join(room_id=room_id, user=user, channel_name=channel_name)


# --- code documents ---------------------------------------------------------------------


class CodeEditRefused(Exception):
    """Updates whose authors may no longer edit their room (removed, demoted to viewer,
    deactivated); nothing of the batch was stored. `user_ids` names those authors."""

    def __init__(self, user_ids: set):
        super().__init__(f"no longer allowed to edit: {sorted(map(str, user_ids))}")
        self.user_ids = user_ids


def _code_editors_check(updates: list[tuple[Any, Any, bytes]]) -> None:
    by_room: dict[Any, set] = {}
    for room_id, user, _ in updates:
        by_room.setdefault(room_id, set()).add(user.pk if _author(user) else None)
    refused: set = set()
    for room_id, user_ids in by_room.items():
        allowed = _members_allowed(
            workspace_filter={"workspace__rooms": room_id},
            user_ids=user_ids - {None},
            needed=Role.EDITOR,
        )
        refused |= user_ids - allowed
    if refused:
        raise CodeEditRefused(refused)


def code_update_append(*, room_id, user, data: bytes) -> int:
    """Store one Yjs update of the room's document; returns its seq."""
    return code_updates_append(updates=[(room_id, user, data)])[0]


@transaction.atomic
def code_updates_append(*, updates: list[tuple[Any, Any, bytes]]) -> list[int]:
    """Store (room id, user, update) triples in one transaction; returns their seqs.

    A room's updates keep their order. Seqs are handed out under the document row's
    lock, so they have no gaps. Every CODE_COMPACT_EVERY updates a room's log is
    folded into its snapshot. Every author must still be an editor of the room's
    workspace, checked in this transaction; otherwise nothing is stored and
    CodeEditRefused is raised.
    """
    _code_editors_check(updates)
    now = timezone.now()
    by_room: dict[Any, list[int]] = {}
    for index, (room_id, _, _) in enumerate(updates):
        by_room.setdefault(room_id, []).append(index)
    seqs = [0] * len(updates)
    for room_id, indexes in by_room.items():
        bump = {"last_seq": F("last_seq") + len(indexes), "updated_at": now}
        if not CodeDocument.objects.filter(room_id=room_id).update(**bump):
            CodeDocument.objects.get_or_create(room_id=room_id)
            CodeDocument.objects.filter(room_id=room_id).update(**bump)
        document = CodeDocument.objects.get(room_id=room_id)
        first = document.last_seq - len(indexes) + 1
        rows = []
        for offset, index in enumerate(indexes):
            _, user, data = updates[index]
            seqs[index] = first + offset
            rows.append(
                CodeUpdate(
                    document=document,
                    seq=first + offset,
                    data=data,
                    user=_author(user),
                    created_at=now,
                )
            )
        CodeUpdate.objects.bulk_create(rows)
        if document.last_seq - document.snapshot_seq >= limit("CODE_COMPACT_EVERY"):
            _code_document_compact(document)
    return seqs


def _code_document_compact(document: CodeDocument) -> None:
    from .selectors import code_document_state

    snapshot = yjs.updates_compact(code_document_state(document))
    # The previous round of updates goes; this round stays for consumers catching up.
    CodeUpdate.objects.filter(document=document, seq__lte=document.snapshot_seq).delete()
    CodeDocument.objects.filter(pk=document.pk).update(
        snapshot=snapshot, snapshot_seq=document.last_seq
    )
