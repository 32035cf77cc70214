"""Base viewset that every workspace-owned REST resource builds on.

Subclasses set `queryset` and `serializer_class`; this class makes sure the
queryset only ever holds rows of the caller's workspaces (others get 404),
that writes need the editor role (viewers get 403) and that `?workspace=<id>`
filters lists.
"""

from __future__ import annotations

import uuid

from django.db.models import OuterRef
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, viewsets
from rest_framework.routers import SimpleRouter

from .models import Role, Workspace
from .permissions import WorkspaceRolePermission, require_role
from .selectors import personal_workspace, restrict_to_member, role_of
from .serializers import ErrorSerializer, ValidationErrorSerializer

# A canonical UUID and nothing else: a 36-character look-alike never reaches a view,
# where the ORM would raise on it (found by schemathesis).
UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def error_response(description: str, *, field_errors: bool = False) -> OpenApiResponse:
    """An error response for `extend_schema`: `{"detail", "code"}`, or with `field_errors`
    a 400 that may name fields instead. The errors every operation shares (401, 404 for
    a path id, ...) are added by medilytica_site.schema.AutoSchema."""
    serializer = ValidationErrorSerializer if field_errors else ErrorSerializer
    return OpenApiResponse(serializer, description=description)


def parse_uuid(value, *, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise exceptions.ValidationError({field: [f"{value!r} is not a valid UUID."]}) from None


class WorkspaceScopedViewSet(viewsets.GenericViewSet):
    permission_classes = [WorkspaceRolePermission]
    workspace_field = "workspace"
    # Per-action role needed to write, e.g. {"destroy": Role.OWNER}; default editor.
    write_roles: dict[str, str] = {}
    lookup_value_regex = UUID_RE

    def get_queryset(self):
        queryset = restrict_to_member(
            super().get_queryset(), user=self.request.user, workspace_field=self.workspace_field
        )
        workspace = self.request.query_params.get("workspace")
        if workspace:
            workspace_id = parse_uuid(workspace, field="workspace")
            queryset = queryset.filter(**{f"{self.workspace_field}_id": workspace_id})
        if (self.lookup_url_kwarg or self.lookup_field) in self.kwargs:
            # One object: its row brings the caller's role, which the permission check
            # reads, instead of a query of its own on every detail request.
            queryset = queryset.annotate(
                caller_role=role_of(self.request.user, OuterRef(f"{self.workspace_field}_id"))
            )
        return queryset

    def workspace_id_of(self, obj):
        return getattr(obj, f"{self.workspace_field}_id")

    def workspace_for_write(self, workspace_id=None, *, needed: str = Role.EDITOR) -> Workspace:
        """The workspace a new object goes into: the given one, or the caller's
        personal workspace. 404 for non-members, 403 for too low a role."""
        user = self.request.user
        if workspace_id in (None, ""):
            workspace = personal_workspace(user=user)
            if workspace is None:
                raise exceptions.ValidationError({"workspace": ["This field is required."]})
            return workspace
        workspace_id = parse_uuid(workspace_id, field="workspace")
        require_role(user=user, workspace_id=workspace_id, needed=needed)
        return Workspace.objects.get(pk=workspace_id)


class OptionalSlashRouter(SimpleRouter):
    """A router whose routes match with or without a trailing slash (DESIGN.md section 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
