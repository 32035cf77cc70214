"""Reads that decide access. Every app restricts its querysets through these."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from .models import ROLE_RANK, Membership, Role, Workspace


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
