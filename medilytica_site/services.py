"""Authentication services: login with lockout, WebSocket tickets."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from collaboration.models import AuditEvent
from collaboration.services import audit_record

from .models import LoginLockout, WebSocketTicket


class LoginLocked(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed logins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def login_authenticate(*, username: str, password: str, request=None):
    """Check a username and password, counting failures per username.

    After LOGIN_MAX_FAILURES consecutive failures the username is locked for
    LOGIN_LOCKOUT_SECONDS, even for the right password. The lockout row is held
    with SELECT ... FOR UPDATE (an IMMEDIATE transaction on SQLite), so parallel
    guesses are checked one at a time and cannot all slip under the limit.
    Returns the user, or None for wrong credentials; raises LoginLocked.
    """
    key = username.strip().lower()[:150]
    now = timezone.now()
    with transaction.atomic():
        LoginLockout.objects.get_or_create(username=key)
        lockout = LoginLockout.objects.select_for_update().get(username=key)
        if lockout.locked_until and lockout.locked_until > now:
            audit_record(
                action="auth.login",
                object_type="user",
                request=request,
                outcome=AuditEvent.Outcome.DENIED,
                detail={"reason": "locked", "username": key},
            )
            raise LoginLocked(int((lockout.locked_until - now).total_seconds()) + 1)
        user = authenticate(request, username=username, password=password)
        if user is None:
            lockout.failures += 1
            if lockout.failures >= settings.LOGIN_MAX_FAILURES:
                lockout.locked_until = now + timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
                lockout.failures = 0
            lockout.save()
        else:
            lockout.failures = 0
            lockout.locked_until = None
            lockout.save()
    audit_record(
        action="auth.login",
        user=user,
        object_type="user",
        # A name that matches no user is no id: it goes in `detail`, since object_id holds
        # ids (64 characters) and a username may have 150 (PostgreSQL refused the row).
        object_id=user.pk if user else "",
        request=request,
        outcome=AuditEvent.Outcome.SUCCESS if user else AuditEvent.Outcome.FAILED,
        detail=None if user else {"username": key},
    )
    return user


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def ws_ticket_issue(*, user) -> str:
    ticket = secrets.token_urlsafe(32)
    WebSocketTicket.objects.filter(expires_at__lt=timezone.now()).delete()
    WebSocketTicket.objects.create(
        key_hash=_hash(ticket),
        user=user,
        expires_at=timezone.now() + timedelta(seconds=settings.WS_TICKET_TTL_SECONDS),
    )
    return ticket


def ws_ticket_redeem(*, ticket: str):
    """The ticket's user, once; None when unknown, used, expired or the user is inactive.

    The row is deleted by the redeemer; only the caller whose DELETE removed it
    wins, so two sockets racing with one ticket cannot both get in.
    """
    if not ticket or len(ticket) > 128:
        return None
    row = WebSocketTicket.objects.select_related("user").filter(key_hash=_hash(ticket)).first()
    if row is None:
        return None
    deleted, _ = WebSocketTicket.objects.filter(pk=row.pk).delete()
    if deleted != 1 or row.expires_at <= timezone.now() or not row.user.is_active:
        return None
    return row.user


class RefreshRejected(Exception):
    pass


def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: blacklist it and hand out a new pair.

    The outstanding-token row is locked while it is blacklisted, so a refresh
    token replayed in parallel is accepted once and refused every other time.
    """
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.token_blacklist.models import (
        BlacklistedToken,
        OutstandingToken,
    )
    from rest_framework_simplejwt.tokens import RefreshToken

    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise RefreshRejected(str(exc)) from None
    user = get_user_model().objects.filter(pk=token.get("user_id")).first()
    if user is None or not user.is_active:
        raise RefreshRejected("No active account found for the given token.")
    with transaction.atomic():
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=token["jti"]).first()
        if outstanding is None:
            raise RefreshRejected("Token is unknown.")
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        if not created:
            raise RefreshRejected("Token is blacklisted")
        new = RefreshToken.for_user(user)
    return {"access": str(new.access_token), "refresh": str(new)}
