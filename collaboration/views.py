from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from . import selectors, services
from .models import ChatMessage, Membership, Role, Room, Workspace
from .selectors import workspaces_for_user
from .serializers import (
    ChatMessageSerializer,
    CodeTextSerializer,
    MemberInputSerializer,
    MembershipSerializer,
    RoomInputSerializer,
    RoomSerializer,
    WorkspaceInputSerializer,
    WorkspaceSerializer,
    WorkspaceUpdateSerializer,
)
from .viewsets import UUID_RE, WorkspaceScopedViewSet, error_response, parse_uuid


def as_drf_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    )


class WorkspaceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    WorkspaceScopedViewSet,
):
    """Workspaces the caller belongs to. Owners rename, delete and manage members."""

    # Members come with each workspace: one query for all of them, with only the
    # columns the listing shows (a user row is wide, and a team can be hundreds).
    queryset = Workspace.objects.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.select_related("user").only(
                "workspace_id", "user_id", "role", "created_at", "user__username"
            ),
        )
    )
    serializer_class = WorkspaceSerializer
    write_roles = {
        "partial_update": Role.OWNER,
        "destroy": Role.OWNER,
        "members": Role.OWNER,
        "member_remove": Role.OWNER,
    }

    def get_queryset(self):
        return self.queryset.filter(pk__in=workspaces_for_user(user=self.request.user).values("pk"))

    def workspace_id_of(self, obj):
        return obj.pk

    @extend_schema(request=WorkspaceInputSerializer, responses={201: WorkspaceSerializer})
    def create(self, request):
        data = WorkspaceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = services.workspace_create(
            user=request.user, request=request, **data.validated_data
        )
        workspace = self.get_queryset().get(pk=workspace.pk)
        return Response(self.get_serializer(workspace).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WorkspaceUpdateSerializer, responses=WorkspaceSerializer)
    def partial_update(self, request, pk=None):
        workspace = self.get_object()
        data = WorkspaceUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.workspace_update(
            workspace=workspace, user=request.user, request=request, **data.validated_data
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=workspace.pk)).data)

    def destroy(self, request, pk=None):
        services.workspace_delete(workspace=self.get_object(), user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=MemberInputSerializer, responses={201: MembershipSerializer})
    @action(detail=True, methods=["post"])
    def members(self, request, pk=None):
        workspace = self.get_object()
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            membership = services.membership_set(
                workspace=workspace, user=request.user, request=request, **data.validated_data
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={
            204: None,
            400: error_response("Not a member, or the workspace's last owner.", field_errors=True),
        },
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=rf"members/(?P<user_id>{UUID_RE})",
        url_name="member-remove",
    )
    def member_remove(self, request, pk=None, user_id=None):
        workspace = self.get_object()
        member_id = parse_uuid(user_id, field="user_id")
        try:
            services.membership_remove(
                workspace=workspace, user=request.user, member_id=member_id, request=request
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Rooms of the caller's workspaces. Editors create them; every member reads
    their message history (newest first, `?before=<message id>`) and code text."""

    queryset = Room.objects.all()
    serializer_class = RoomSerializer

    @extend_schema(request=RoomInputSerializer, responses={201: RoomSerializer})
    def create(self, request):
        data = RoomInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = self.workspace_for_write(data.validated_data.get("workspace"))
        try:
            room = services.room_create(
                workspace=workspace, user=request.user, name=data.validated_data["name"]
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(RoomSerializer(room).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("before", str, description="a message id of this room")],
        responses=ChatMessageSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def messages(self, request, pk=None):
        room = self.get_object()
        before_seq = None
        before = request.query_params.get("before")
        if before:
            before_id = parse_uuid(before, field="before")
            before_seq = (
                ChatMessage.objects.filter(room=room, pk=before_id)
                .values_list("seq", flat=True)
                .first()
            )
            if before_seq is None:
                raise exceptions.ValidationError({"before": ["No message with this id here."]})
        messages = selectors.chat_messages_newest_first(room_id=room.pk, before_seq=before_seq)
        page = self.paginate_queryset(messages)
        return self.get_paginated_response(ChatMessageSerializer(page, many=True).data)

    @extend_schema(responses=CodeTextSerializer)
    @action(detail=True, methods=["get"])
    def code(self, request, pk=None):
        text, updated_at = selectors.code_document_text(room=self.get_object())
        return Response(CodeTextSerializer({"text": text, "updated_at": updated_at}).data)
