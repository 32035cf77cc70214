from __future__ import annotations

from rest_framework import serializers

from .models import Membership, Role, Workspace


class MembershipSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]


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
