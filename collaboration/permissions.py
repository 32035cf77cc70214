"""The one place that decides who may read and write workspace-owned objects."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from .models import Role
from .selectors import role_allows, workspace_role

_NOT_ANNOTATED = object()


class WorkspaceRolePermission(permissions.BasePermission):
    """Members read; editors and owners write.

    Outsiders never reach this check for objects: the queryset is already
    restricted to the caller's workspaces, so they get 404.
    """

    message = "Your role in this workspace does not allow this action."
    write_role = Role.EDITOR

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        # WorkspaceScopedViewSet annotates a detail request's object with the role.
        role = getattr(obj, "caller_role", _NOT_ANNOTATED)
        if role is _NOT_ANNOTATED:
            role = workspace_role(user=request.user, workspace_id=view.workspace_id_of(obj))
        if request.method in permissions.SAFE_METHODS:
            return role is not None
        needed = getattr(view, "write_roles", {}).get(view.action, self.write_role)
        return role_allows(role, needed)


def require_role(*, user, workspace_id, needed: str = Role.EDITOR) -> str:
    """The caller's role in the workspace, if it allows `needed`: 404 for
    non-members (they may not learn it exists), 403 for too low a role."""
    role = workspace_role(user=user, workspace_id=workspace_id)
    if role is None:
        raise exceptions.NotFound("Workspace not found.")
    if not role_allows(role, needed):
        raise exceptions.PermissionDenied(WorkspaceRolePermission.message)
    return role
