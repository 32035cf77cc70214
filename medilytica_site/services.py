"""Authentication services: the login policy, usernames, WebSocket tickets."""

from __future__ import annotations

import hashlib
import math
import secrets
import unicodedata
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from .models import UsernameKey, WebSocketTicket


class LoginLocked(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed logins. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def login_failure_limit(request=None, credentials=None) -> int:
    """django-axes' failure limit, read on every check so LOGIN_MAX_FAILURES stays the setting."""
    return settings.LOGIN_MAX_FAILURES


def login_cool_off(request=None) -> timedelta:
    """django-axes' cool-off: how long a (username, address) stays locked."""
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def login_hold(*, username: str) -> None:
    """Inside a transaction, make logins to one account wait for each other.

    The lock is checked before the password and a failure counted after it, so
    parallel guesses would all pass the check (twenty guesses, twenty password
    checks). SELECT ... FOR UPDATE on the user's row on PostgreSQL; on SQLite the
    transaction's IMMEDIATE write lock does the same for every login at once.
    """
    list(
        get_user_model()
        .objects.select_for_update()
        .filter(username=username)
        .values_list("pk", flat=True)
    )


def login_authenticate(*, username: str, password: str, request):
    """Check a username and password under the login policy the admin's login page shares.

    django-axes (LockoutBackend) refuses a username for LOGIN_LOCKOUT_SECONDS after
    LOGIN_MAX_FAILURES failures from one address, even with the right password; a
    success clears the count. Failures and refusals are audited by the receivers in
    `signals.py`, whichever route the login took. Returns the user, or None for wrong
    credentials; raises LoginLocked.
    """
    http_request = getattr(request, "_request", request)  # axes marks the request Django sees
    with transaction.atomic():
        login_hold(username=username)
        user = authenticate(http_request, username=username, password=password)
    if user is None and getattr(http_request, "login_locked", False):
        raise LoginLocked(login_lock_seconds_left(request=http_request, username=username))
    return user


def login_lock_seconds_left(*, request, username: str) -> int:
    """Seconds until `username` may try again from the request's address (at most)."""
    last = AccessAttempt.objects.filter(
        username=username, ip_address=request.axes_ip_address
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return 1
    left = (last + login_cool_off() - timezone.now()).total_seconds()
    return max(1, math.ceil(left))


def token_obtain(*, user, request) -> dict[str, str]:
    """A JWT pair for a user who has just proved their password.

    Handing out tokens is a login like the session's: the same `user_logged_in`
    signal clears the failure count, sets last_login and writes the audit record.
    """
    from rest_framework_simplejwt.tokens import RefreshToken

    http_request = getattr(request, "_request", request)
    user_logged_in.send(sender=user.__class__, request=http_request, user=user)
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


# --- usernames ----------------------------------------------------------------------


class UsernameTaken(IntegrityError):
    """The database refused a username that looks like another user's."""

    message = "A user with that username, or one that looks the same, already exists."


def canonical_username(username: str) -> str:
    """The form two usernames share when they look alike: NFKC, case-folded, NFKC again
    (Unicode's NFKC_Casefold closure), so `ﬁ` is `fi`, `１` is `1`, `Straße` is `strasse`."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def username_key(username: str) -> str:
    """The stored, uniquely indexed key of a username: a digest of its canonical form,
    fixed in size (NFKC can make one character eighteen)."""
    return hashlib.sha256(canonical_username(username).encode()).hexdigest()


def username_lookalike_exists(*, username: str, exclude_user=None) -> bool:
    keys = UsernameKey.objects.filter(key=username_key(username))
    if exclude_user is not None:
        keys = keys.exclude(user=exclude_user)
    return keys.exists()


def username_key_sync(*, user, created: bool) -> None:
    """Store the user's username key; raises UsernameTaken when another user has it.

    Called on every save of a user (signals.py), so registration, createsuperuser, the
    admin and any command keep it. Outside a transaction (createsuperuser) a new user
    whose key is refused is deleted again, so no user is ever left without a key.
    """
    key = username_key(user.get_username())
    in_transaction = connection.in_atomic_block
    try:
        with transaction.atomic():
            if created:
                UsernameKey.objects.create(user=user, key=key)
            else:
                UsernameKey.objects.update_or_create(user=user, defaults={"key": key})
    except IntegrityError as exc:
        if created and not in_transaction:
            user.delete()
        raise UsernameTaken(UsernameTaken.message) from exc


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
