"""The admin site, whose login page is under the same policy as the API's logins."""

from __future__ import annotations

import math

from django.contrib import admin
from django.db import transaction
from django.http import HttpResponse

from . import services
from .throttling import LoginRateThrottle


class MediLyticaAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        """The API's throttle per address, then Django's login form; the lockout and
        the audit come with `authenticate` (LockoutBackend, signals.py)."""
        if request.method != "POST":
            return super().login(request, extra_context)
        throttle = LoginRateThrottle()
        if not throttle.allow_request(request, None):
            response = HttpResponse(
                "Too many login attempts from this address.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(max(1, math.ceil(throttle.wait())))
            return response
        with transaction.atomic():
            services.login_hold(username=request.POST.get("username", ""))
            return super().login(request, extra_context)
