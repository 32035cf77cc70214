from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .events import EVENT_TYPES
from .models import Membership, Role, Room, Workspace
from .selectors import chat_message_event

_DATETIME = serializers.DateTimeField()

SCALAR_SCHEMA = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


@extend_schema_field(SCALAR_SCHEMA)
class ScalarField(serializers.JSONField):
    """A JSON string, number or boolean whose type the data decides: a class label as it
    was uploaded (1, "yes", true), a column's minimum, a category's value."""


def described_json(schema, **kwargs) -> serializers.JSONField:
    """A field that returns stored JSON as it is, documented in the OpenAPI schema as
    `schema` (a serializer, or a schema dict). For a model's JSON column whose shape
    another serializer declares: serializing through that one would drop the keys it
    does not name, and cost a walk over every value."""
    field_class = type("DescribedJSONField", (serializers.JSONField,), {})
    return extend_schema_field(schema)(field_class)(**kwargs)


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


class WorkspaceEventDataSerializer(serializers.Serializer):
    """What an event says about its object; which keys depends on the event type
    (events.WorkspaceEventData)."""

    name = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    model_type = serializers.CharField(required=False)
    model = serializers.UUIDField(required=False, allow_null=True)
    error = serializers.CharField(required=False)
    version = serializers.IntegerField(required=False)
    framework = serializers.CharField(required=False)
    task = serializers.CharField(required=False)


class WorkspaceEventSerializer(serializers.Serializer):
    """A notification as /ws/notifications sends it (events.WorkspaceEvent)."""

    type = serializers.ChoiceField(choices=EVENT_TYPES)
    workspace = serializers.UUIDField()
    object_id = serializers.UUIDField()
    time = serializers.CharField(help_text="ISO 8601, UTC.")
    data = WorkspaceEventDataSerializer()


class ChatMessageDataSerializer(serializers.Serializer):
    event = WorkspaceEventSerializer(
        required=False, help_text="The workspace event a system message announces."
    )


class ChatMessageSerializer(serializers.Serializer):
    """A message exactly as the chat socket sends it (events.ChatMessageEvent)."""

    type = serializers.CharField()
    id = serializers.UUIDField()
    seq = serializers.IntegerField()
    room = serializers.UUIDField()
    user = ChatUserSerializer(allow_null=True)
    kind = serializers.ChoiceField(choices=["user", "system"])
    text = serializers.CharField()
    data = ChatMessageDataSerializer()
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
