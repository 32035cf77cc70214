from __future__ import annotations

from rest_framework import serializers

from .models import Membership, Role, Room, Workspace
from .selectors import chat_message_event

_DATETIME = serializers.DateTimeField()


class MembershipSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]

    def to_representation(self, membership: Membership) -> dict:
        # A workspace lists every member, and teams run to hundreds: the same four
        # fields, read directly rather than through DRF's walk over bound fields
        # (a third of the time of a 200-member workspace listing).
        return {
            "user_id": str(membership.user_id),
            "username": membership.user.username,
            "role": membership.role,
            "created_at": _DATETIME.to_representation(membership.created_at),
        }


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Workspace
        fields = [
            "id",
            "name",
            "description",
            "is_personal",
            "role",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "is_personal", "created_at", "updated_at"]

    def get_role(self, workspace: Workspace) -> str | None:
        user = self.context["request"].user
        return next((m.role for m in workspace.memberships.all() if m.user_id == user.pk), None)


class WorkspaceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class WorkspaceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class MemberInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class UserWorkspaceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    role = serializers.CharField()


class RoomSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "workspace", "name", "created_at"]
        read_only_fields = fields


class RoomInputSerializer(serializers.Serializer):
    workspace = serializers.UUIDField(required=False, allow_null=True)
    name = serializers.CharField(max_length=80)


class ChatUserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class ChatMessageSerializer(serializers.Serializer):
    """A message exactly as the chat socket sends it (events.ChatMessageEvent)."""

    type = serializers.CharField()
    id = serializers.UUIDField()
    seq = serializers.IntegerField()
    room = serializers.UUIDField()
    user = ChatUserSerializer(allow_null=True)
    kind = serializers.ChoiceField(choices=["user", "system"])
    text = serializers.CharField()
    data = serializers.DictField()
    timestamp = serializers.CharField()

    def to_representation(self, instance):
        return chat_message_event(instance)


class CodeTextSerializer(serializers.Serializer):
    text = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)


# --- error bodies, as medilytica_site.api.exception_handler sends them (documentation) ---


class ErrorSerializer(serializers.Serializer):
    """An error about the request as a whole: a message and a machine-readable code.
    Some errors add fields of their own (e.g. the problems of a prediction's rows)."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """A refused request: `{"detail", "code"}` when the request as a whole is wrong, or
    field errors `{"<field>": ["message", ...]}` naming each field and its problem."""

    detail = serializers.JSONField(required=False)
    code = serializers.JSONField(required=False)
