"""Authentication state that must be shared by every web process."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebSocketTicket(models.Model):
    """A single-use, short-lived credential for opening a WebSocket with a JWT.

    Browsers cannot set headers on a WebSocket handshake, so a JWT client trades
    its token for a ticket and passes it as `?ticket=`. Only the SHA-256 of the
    ticket is stored.
    """

    key_hash = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ticket for {self.user_id} until {self.expires_at:%H:%M:%S}"


class UsernameKey(models.Model):
    """The key that makes usernames unique as people read them: the digest of the
    name's NFKC case-folded form (`services.username_key`). Unique in the database, so
    `ﬁ` beside `fi`, or `STRASSE` beside `Straße`, is refused whatever path creates or
    renames the user. One row a user, kept by `services.username_key_sync`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="username_key",
    )
    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return f"username key of {self.user_id}"
