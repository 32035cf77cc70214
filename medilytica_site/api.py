"""Shared REST plumbing: pagination and the error format of DESIGN.md section 4."""

from __future__ import annotations

import errno

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """DRF's handler, plus a machine-readable `code` beside every `detail`, 4xx (not
    500s) for bodies Django refuses as too big or suspicious and for a full storage,
    and 503 while Redis is unreachable."""
    # Django's own 404 and 403 (get_object_or_404, a selector's Http404) as DRF's, so
    # they carry the codes not_found and permission_denied like every other error.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = exceptions.ValidationError(
            {
                "detail": "The request body is larger than the server accepts: "
                f"at most {limit} bytes (MAX_JSON_BODY).",
                "code": "too_large",
            }
        )
        exc.status_code = 413
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "The request was malformed.")
    elif isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        # A full disk or quota while storing what the client sent (the service removed
        # any partial file). 413: there is no room for this content now; 507 is a 5xx,
        # which clients read as a server fault rather than something they can act on.
        exc = exceptions.APIException(
            "Storage is full: there is no room to store this. Delete what you no longer "
            "need, or ask an administrator for more space.",
            code="storage_full",
        )
        exc.status_code = 413
    elif isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        # Redis (cache, throttle counters, tickets, task queue) is away for a moment: say
        # so, and when to try again, rather than a bare 500.
        exc = exceptions.APIException(
            "A service the server depends on (Redis) is unreachable; try again shortly.",
            code="service_unavailable",
        )
        exc.status_code = 503
        exc.wait = 5
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        response.data["code"] = codes if isinstance(codes, str) else "error"
    return response
