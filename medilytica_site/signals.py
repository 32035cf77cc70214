"""Receivers that hold for every route into an account, Django's own included.

The admin's login page and the API's login views share no code of ours; Django's
signals are the one place both pass."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from collaboration.models import AuditEvent
from collaboration.services import audit_record


@receiver(user_login_failed, dispatch_uid="medilytica_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """A wrong password, or a login the lockout refused (`LockoutBackend` marks it)."""
    locked = getattr(request, "login_locked", False)
    # A name that matches no user is no id: it goes in `detail` (object_id holds ids).
    detail = {"username": str(credentials.get("username", ""))[:150]}
    if locked:
        detail["reason"] = "locked"
    audit_record(
        action="auth.login",
        object_type="user",
        request=request,
        outcome=AuditEvent.Outcome.DENIED if locked else AuditEvent.Outcome.FAILED,
        detail=detail,
    )


@receiver(user_logged_in, dispatch_uid="medilytica_audit_logged_in")
def audit_logged_in(sender, request, user, **kwargs) -> None:
    audit_record(
        action="auth.login", user=user, object_type="user", object_id=user.pk, request=request
    )
