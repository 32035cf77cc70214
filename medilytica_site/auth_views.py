"""The auth endpoints of DESIGN.md section 4: register, JWT, session login, me, tickets."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login, logout
from django.db import IntegrityError
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from collaboration import services as collaboration_services
from collaboration.models import Membership
from collaboration.viewsets import error_response

from . import services
from .serializers import (
    CredentialsSerializer,
    DetailSerializer,
    LogoutSerializer,
    MeSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TicketSerializer,
    TokenPairSerializer,
)
from .throttling import LoginRateThrottle

CREDENTIALS_REFUSED = error_response("Wrong credentials or token (with a WWW-Authenticate header).")


class Locked(exceptions.Throttled):
    default_detail = "Too many failed logins."
    default_code = "locked"


def _me(user) -> dict:
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "workspaces": [
            {"id": m.workspace_id, "name": m.workspace.name, "role": m.role} for m in memberships
        ],
    }


def _authenticate(request, data) -> object:
    credentials = CredentialsSerializer(data=data)
    credentials.is_valid(raise_exception=True)
    try:
        user = services.login_authenticate(request=request, **credentials.validated_data)
    except services.LoginLocked as exc:
        raise Locked(wait=exc.retry_after, detail=str(exc)) from None
    if user is None:
        raise exceptions.AuthenticationFailed(
            "No active account found with the given credentials.", code="bad_credentials"
        )
    return user


def lockout_response(request, response=None, credentials=None) -> HttpResponseBase:
    """django-axes' AXES_LOCKOUT_CALLABLE: the answer to a login the lockout refused, or
    to the failure that set the lock. The API's views answer by the contract themselves
    (401 for the failure, 429 `locked` with Retry-After after it), so theirs stands; the
    admin's login page gets a plain 429."""
    if request.path.startswith("/api/") and isinstance(response, HttpResponseBase):
        return response
    username = request.POST.get("username", "")
    retry_after = services.login_lock_seconds_left(request=request, username=username)
    refused = HttpResponse(
        str(services.LoginLocked(retry_after)), status=429, content_type="text/plain; charset=utf-8"
    )
    refused["Retry-After"] = str(retry_after)
    return refused


class LoginThrottleMixin:
    """Credential endpoints: throttled per address, and a failed login is 401 (with a
    WWW-Authenticate challenge) although the view itself takes no authentication."""

    throttle_classes = [LoginRateThrottle]

    def get_authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(request=RegisterSerializer, responses={201: MeSerializer, 403: DetailSerializer})
    def post(self, request):
        if not settings.ALLOW_REGISTRATION:
            raise exceptions.PermissionDenied("Registration is closed on this server.")
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = collaboration_services.user_register(request=request, **data.validated_data)
        except IntegrityError:  # a look-alike registered in the meantime
            raise exceptions.ValidationError(
                {"username": [services.UsernameTaken.message]}, code="unique"
            ) from None
        return Response(_me(user), status=status.HTTP_201_CREATED)


class TokenObtainView(LoginThrottleMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=CredentialsSerializer,
        responses={200: TokenPairSerializer, 401: CREDENTIALS_REFUSED},
    )
    def post(self, request):
        user = _authenticate(request, request.data)
        return Response(services.token_obtain(user=user, request=request))


class TokenRefreshView(LoginThrottleMixin, APIView):
    """Rotates the refresh token; the old one is blacklisted and can never be used again."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        request=RefreshSerializer,
        responses={200: TokenPairSerializer, 401: CREDENTIALS_REFUSED},
    )
    def post(self, request):
        data = RefreshSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            pair = services.token_refresh(refresh=data.validated_data["refresh"])
        except services.RefreshRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None
        return Response(pair)


class SessionLoginView(LoginThrottleMixin, APIView):
    """Session login for same-origin browsers. GET hands out the CSRF cookie;
    POST needs it back in the X-CSRFToken header, like every session write."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: DetailSerializer})
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response(
            {
                "detail": "Send username and password with the CSRF token.",
                "csrf_token": get_token(request),
            }
        )

    @extend_schema(
        request=CredentialsSerializer,
        responses={
            200: MeSerializer,
            401: CREDENTIALS_REFUSED,
            403: error_response("No CSRF token, or not the one of the CSRF cookie."),
        },
    )
    @method_decorator(csrf_protect)
    def post(self, request):
        user = _authenticate(request, request.data)
        login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        return Response(_me(user))


class LogoutView(APIView):
    """Blacklists the given refresh token and ends the session, whichever the client has."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=LogoutSerializer, responses={200: DetailSerializer})
    def post(self, request):
        data = LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = data.validated_data.get("refresh")
        if refresh:
            try:
                token = RefreshToken(refresh)
            except TokenError as exc:
                raise exceptions.ValidationError({"refresh": [str(exc)]}) from None
            if str(token.get("user_id")) != str(request.user.pk):
                raise exceptions.ValidationError({"refresh": ["Token belongs to another user."]})
            token.blacklist()
        logout(request._request)
        return Response({"detail": "Logged out."})


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(_me(request.user))


class WebSocketTicketView(APIView):
    @extend_schema(request=None, responses={200: TicketSerializer})
    def post(self, request):
        ticket = services.ws_ticket_issue(user=request.user)
        return Response({"ticket": ticket, "expires_in": settings.WS_TICKET_TTL_SECONDS})
