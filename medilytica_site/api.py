"""Shared REST plumbing: pagination and the error format of DESIGN.md section 4."""

from __future__ import annotations

import errno
import re

import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.signals import got_request_exception
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    """DRF's page numbers, with `page` and `page_size` checked: a value that is not a
    whole number in range is a 400 naming it, where DRF answers 404 for `page=0` and
    quietly serves its default page for `page_size=0`, `-3`, `1.5` or `501`. A page
    past the last is still 404, as in DRF."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        return query_int(
            request, self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
        )

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return query_int(request, self.page_query_param, default=1)


def query_int(request, name: str, *, default: int, minimum: int = 1, maximum: int | None = None):
    """The query parameter `name` as an int within [minimum, maximum], `default` when it is
    absent or empty; anything else is a 400 that names the parameter."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    bounds = f"from {minimum}" + (f" to {maximum}" if maximum is not None else "")
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise exceptions.ValidationError({name: [f"Must be a whole number {bounds}."]})
    value = int(raw) if len(raw) <= 30 else None  # more digits than any count here
    if value is None or value < minimum or (maximum is not None and value > maximum):
        raise exceptions.ValidationError({name: [f"Must be {bounds}; got {raw[:30]}."]})
    return value


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


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


class ServerErrorsAsJSON:
    """Middleware-shaped; the request handler wraps its whole chain in it
    (medilytica_site/handler.py), so it is outside every middleware.

    An exception that nothing handled, under /api/, answers 500 `{"detail", "code":
    "server_error"}` whatever DEBUG says, instead of Django's HTML: the debug page (which
    shows settings and source to the caller) or its plain 500 page. Django has already
    logged the traceback to `django.request` and sent `got_request_exception` by then;
    that signal is how an unhandled exception is told from a view's own 500."""

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_mark_unhandled, dispatch_uid="medilytica_site.api")

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "_unhandled_exception", False) and request.path.startswith("/api/"):
            response.close()
            response = JsonResponse(
                {"detail": "A server error occurred.", "code": "server_error"}, status=500
            )
        return response


def _mark_unhandled(sender, request=None, **kwargs) -> None:
    if request is not None:
        request._unhandled_exception = True
