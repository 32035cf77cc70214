"""The lockout check of the one login policy, for every route that calls `authenticate`."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.core.exceptions import PermissionDenied


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, which also marks the request it refused: Django reports a
    refused login as a failed one (`user_login_failed`), and the audit and the API's
    answer must tell a locked account from a wrong password."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except PermissionDenied:
            request.login_locked = True
            raise
