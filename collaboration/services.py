"""All writes of the collaboration app. Views, consumers, commands and the admin call these."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from .models import AuditEvent, Membership, Role, Workspace


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
    *, user, name: str, description: str = "", is_personal: bool = False
) -> Workspace:
    workspace = Workspace.objects.create(
        name=name, description=description, is_personal=is_personal, created_by=user
    )
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    audit_record(
        action="workspace.create",
        user=user,
        object_type="workspace",
        object_id=workspace.pk,
        workspace_id=workspace.pk,
    )
    return workspace


def workspace_update(*, workspace: Workspace, user, **fields: Any) -> Workspace:
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
    )
    return workspace


@transaction.atomic
def workspace_delete(*, workspace: Workspace, user) -> None:
    audit_record(
        action="workspace.delete",
        user=user,
        object_type="workspace",
        object_id=workspace.pk,
        workspace_id=workspace.pk,
    )
    workspace.delete()


@transaction.atomic
def membership_set(*, workspace: Workspace, user, username: str, role: str) -> Membership:
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
    )
    return current


@transaction.atomic
def membership_remove(*, workspace: Workspace, user, member_id) -> None:
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


def notify_workspace(*, type: str, workspace_id, object_id, data: dict | None = None) -> None:
    """Tell the workspace's members about an event once the current transaction commits."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.utils import timezone

    from .events import notifications_group, workspace_event

    event = workspace_event(
        type=type, workspace_id=workspace_id, object_id=object_id, data=data, time=timezone.now()
    )

    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(
                notifications_group(workspace_id), {"type": "workspace.event", "event": event}
            )

    transaction.on_commit(send, robust=True)


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
