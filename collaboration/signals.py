"""Who must hear that a user's access changed, however it changed: through a service,
the admin or the ORM (a workspace's deletion removes its memberships in cascade, and
each removal is heard). Each receiver only announces; the sockets re-read the database.

Not heard: QuerySet.update() of memberships or of is_active, which sends no signal;
the sockets' periodic re-check (WS_ACCESS_RECHECK_SECONDS) covers it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Membership
from .services import access_changed_notify


@receiver(post_save, sender=Membership, dispatch_uid="access_membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="access_membership_deleted")
def membership_changed(sender, instance: Membership, **kwargs) -> None:
    access_changed_notify(
        user_id=instance.user_id, reason="membership", workspace_id=instance.workspace_id
    )


@receiver(post_save, sender=get_user_model(), dispatch_uid="access_user_saved")
def user_deactivated(sender, instance, created: bool = False, **kwargs) -> None:
    if not created and not instance.is_active:
        access_changed_notify(user_id=instance.pk, reason="user")


@receiver(user_logged_out, dispatch_uid="access_logged_out")
def session_ended(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    session = getattr(request, "session", None)
    access_changed_notify(
        user_id=user.pk,
        reason="logout",
        session_key=session.session_key if session is not None else None,
    )
