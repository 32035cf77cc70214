"""Shared REST plumbing: pagination and the error format of DESIGN.md section 4."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc, context):
    """DRF's handler, plus a machine-readable `code` beside every `detail`, and
    400s (not 500s) for bodies Django refuses as too big or suspicious."""
    if isinstance(exc, RequestDataTooBig):
        exc = exceptions.ValidationError(
            {"detail": "The request body is larger than the server accepts.", "code": "too_large"}
        )
        exc.status_code = 413
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "The request was malformed.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        response.data["code"] = codes if isinstance(codes, str) else "error"
    return response
