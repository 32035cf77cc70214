"""Receivers that hold for every route into an account, Django's own included.

The admin's login page, the API's login views and `manage.py createsuperuser` share no
code of ours; Django's signals are the one place all of them pass (STYLE.md keeps
business logic out of signals: these only call a service)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from collaboration.models import AuditEvent
from collaboration.services import audit_record

from . import services


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


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="medilytica_username_key")
def keep_username_key(sender, instance, created, update_fields=None, **kwargs) -> None:
    if update_fields is not None and "username" not in update_fields:
        return  # e.g. last_login on every login: the name did not change
    services.username_key_sync(user=instance, created=created)
