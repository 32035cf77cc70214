"""What the collaboration sockets send, declared once (DESIGN.md section 5).

Every notification is a `WorkspaceEvent`; `notify_workspace` in services sends one
after the surrounding transaction commits, so no client hears of a row that
does not exist. Chat frames are the `Chat*` shapes below. `validate_event` checks
a sent frame against its shape, for tests of every app.

Group names come from ids only (Channels allows `[A-Za-z0-9._-]`, < 100 chars).
"""

from __future__ import annotations

import hashlib
import types
import typing
from datetime import datetime
from typing import Literal

import typing_extensions

# typing_extensions' TypedDict: pydantic reads it on Python 3.11 (contracts.py's schema).
from typing_extensions import TypedDict

EventType = Literal[
    "run.started",
    "run.completed",
    "run.failed",
    "model.registered",
    "model.progress",
    "model.rejected",
    "dataset.uploaded",
    "dataset.progress",
    "dataset.rejected",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__


class WorkspaceEventData(TypedDict, total=False):
    """What an event says about its object; the keys depend on the event type:
    run.started name, model_type; run.completed name, status, model (its id or None);
    run.failed name, error; model.registered name, version, framework, task (a
    trained model, or an upload that a worker has checked); model.progress name,
    version, stage, fraction (a worker is checking an upload); model.rejected name,
    version, error;
    dataset.uploaded name (the upload is ready); dataset.progress name, stage, fraction
    (a worker is parsing it); dataset.rejected name, error."""

    name: str
    model_type: str
    status: str
    model: str | None
    error: str
    version: int
    framework: str
    task: str
    stage: str
    fraction: float


class WorkspaceEvent(TypedDict):
    type: EventType
    workspace: str
    object_id: str
    time: str  # ISO 8601, UTC
    data: WorkspaceEventData


def notifications_group(workspace_id) -> str:
    """Channel-layer group of a workspace's notifications (ids only, never user text)."""
    return f"notifications.{workspace_id}"


def chat_group(room_id) -> str:
    """Channel-layer group of a room's chat sockets."""
    return f"chat.{room_id}"


def code_group(room_id) -> str:
    """Channel-layer group of a room's code-editing sockets."""
    return f"code.{room_id}"


def access_group(user_id) -> str:
    """Channel-layer group of every open socket of one user: access changes reach it."""
    return f"access.user.{user_id}"


# Why a user's access changed: a membership of theirs was added, changed or removed
# (its workspace deleted, too); the account was deactivated; a session of theirs ended.
AccessReason = Literal["membership", "user", "logout"]


class AccessChanged(TypedDict):
    """Channel-layer message (never a client frame) to `access_group(user)`: re-read
    your access. `workspace` narrows a membership change to one workspace; `session`
    names the session that logged out (session_tag), None when none did (a JWT logout)."""

    type: Literal["access.changed"]
    reason: AccessReason
    workspace: str | None
    session: str | None


def session_tag(session_key: str | None) -> str | None:
    """What an access message says of a session: a digest, so that no session key
    travels through the channel layer."""
    if not session_key:
        return None
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def workspace_event(
    *,
    type: EventType,
    workspace_id,
    object_id,
    data: WorkspaceEventData | None = None,
    time: datetime,
) -> WorkspaceEvent:
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown workspace event type {type!r}")
    return {
        "type": type,
        "workspace": str(workspace_id),
        "object_id": str(object_id),
        "time": time.isoformat(),
        "data": data or {},
    }


# --- /ws/chat/{room_id} --------------------------------------------------------------

ChatErrorCode = Literal["too_long", "empty", "invalid", "rate_limited", "bad_request"]


class ChatUser(TypedDict):
    id: str
    username: str


class ChatMessageData(TypedDict, total=False):
    """Empty for a user's message; a system message carries the event it announces."""

    event: WorkspaceEvent


class ChatMessageEvent(TypedDict):
    """A saved chat message; `seq` orders a room's messages without gaps."""

    type: Literal["message"]
    id: str
    seq: int
    room: str
    user: ChatUser | None  # None for system messages
    kind: Literal["user", "system"]
    text: str  # plain text: clients must render it as text, never as HTML
    data: ChatMessageData
    timestamp: str  # server time, ISO 8601 UTC


class ChatHistoryEvent(TypedDict):
    type: Literal["history"]
    messages: list[ChatMessageEvent]  # the latest ones, oldest first


class ChatPresenceEvent(TypedDict):
    type: Literal["presence"]
    users: list[ChatUser]  # by username


class ChatTypingEvent(TypedDict):
    type: Literal["typing"]
    user: ChatUser


class ChatErrorEvent(TypedDict):
    type: Literal["error"]
    code: ChatErrorCode
    message: str


class ChatSendMessage(TypedDict):
    """Client to server: post a message (saved, then broadcast as a ChatMessageEvent)."""

    type: Literal["message"]
    text: str


class ChatTypingNotice(TypedDict):
    """Client to server: the user is typing (relayed to the others as ChatTypingEvent)."""

    type: Literal["typing"]


ChatServerMessage = (
    ChatHistoryEvent | ChatPresenceEvent | ChatMessageEvent | ChatTypingEvent | ChatErrorEvent
)
ChatClientMessage = ChatSendMessage | ChatTypingNotice
NotificationMessage = WorkspaceEvent


def validate_event(schema: type, value, *, path: str = "event") -> None:
    """Raise ValueError where `value` does not match the TypedDict (or type) `schema`:
    a missing or extra key, a wrong type, a value outside a Literal."""
    origin = typing.get_origin(schema)
    if isinstance(schema, type) and typing_extensions.is_typeddict(schema):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object, got {value!r}")
        hints = typing_extensions.get_type_hints(schema)
        if not schema.__required_keys__ <= set(value) <= set(hints):
            raise ValueError(f"{path}: keys {sorted(value)} are not {sorted(hints)}")
        for key, hint in hints.items():
            if key in value:
                validate_event(hint, value[key], path=f"{path}.{key}")
    elif origin is Literal:
        if value not in typing.get_args(schema):
            raise ValueError(f"{path}: {value!r} is not one of {typing.get_args(schema)}")
    elif origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(schema):
            try:
                return validate_event(option, value, path=path)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    elif origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object, got {value!r}")
        _, item = typing.get_args(schema)
        for key, element in value.items():
            validate_event(item, element, path=f"{path}.{key}")
    elif origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list, got {value!r}")
        (item,) = typing.get_args(schema)
        for i, element in enumerate(value):
            validate_event(item, element, path=f"{path}[{i}]")
    elif schema is type(None):
        if value is not None:
            raise ValueError(f"{path}: expected null, got {value!r}")
    elif schema is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
    elif schema is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{path}: expected a number, got {value!r}")
    elif not isinstance(value, origin or schema):
        raise ValueError(f"{path}: expected {schema}, got {value!r}")
