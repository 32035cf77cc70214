from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from collaboration.serializers import UserWorkspaceSerializer

from . import services


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, max_length=256, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)

    def validate_username(self, value: str) -> str:
        User = get_user_model()
        User.username_validator(value)
        # The database refuses a look-alike too (UsernameKey); this says so before trying.
        if services.username_lookalike_exists(username=value):
            raise serializers.ValidationError(services.UsernameTaken.message, code="unique")
        return value

    def validate(self, attrs):
        User = get_user_model()
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(required=False, max_length=2000)


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.CharField()
    workspaces = UserWorkspaceSerializer(many=True)


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
