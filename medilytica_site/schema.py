"""The OpenAPI schema's error responses, derived from what each view really does.

drf-spectacular documents only the success response of an operation. Every one of
ours can also fail in ways its view configuration decides: authentication (401),
CSRF and roles (403), path ids and pages that are not there (404), bodies that are
malformed, too large or of the wrong media type (400, 413, 415), throttles (429).
`AutoSchema` adds those responses, with the bodies `medilytica_site.api.exception_handler`
sends, to every operation they apply to; a view declares only what is particular to
it (409 for a run without results, 503 for health) in its `extend_schema`.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers

from collaboration.viewsets import error_response as error

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
VALIDATION = error("The request is malformed or a field is invalid.", field_errors=True)
UNAUTHENTICATED = error("No valid credentials (JWT bearer token or session).")
FORBIDDEN = error("The caller's role in the workspace does not allow this, or no CSRF token.")
NOT_FOUND = error("No such object among the caller's workspaces, or no such page.")
TOO_LARGE = error("The request body is larger than the server accepts.")
UNSUPPORTED_MEDIA = error("The body's Content-Type is not one this operation accepts.")
THROTTLED = error("Too many requests; retry after the number of seconds in Retry-After.")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses each operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self.error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def error_responses(self) -> dict[str, OpenApiResponse]:
        view, method = self.view, self.method
        body = self.get_request_serializer() if method in ("POST", "PUT", "PATCH") else None
        has_body = body is not None
        requires_auth = not all(isinstance(p, permissions.AllowAny) for p in view.get_permissions())
        errors: dict[str, OpenApiResponse] = {}
        if has_body or self._has_query_parameters():
            errors["400"] = VALIDATION
        # An invalid bearer token is refused even where no login is needed.
        if requires_auth or view.get_authenticators():
            errors["401"] = UNAUTHENTICATED
        if requires_auth and method in UNSAFE_METHODS:
            errors["403"] = FORBIDDEN
        if "{" in self.path or self._is_paginated() or names_an_object(body):
            errors["404"] = NOT_FOUND
        if has_body:
            errors["413"] = TOO_LARGE
            errors["415"] = UNSUPPORTED_MEDIA
        if view.get_throttles():
            errors["429"] = THROTTLED
        return errors

    def _has_query_parameters(self) -> bool:
        return any(p.get("in") == "query" for p in self._get_parameters())

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None


def names_an_object(body) -> bool:
    """A body field that refers to a workspace, dataset, ... by id: one the caller
    cannot see is a 404, as it is in a path."""
    candidates = body.values() if isinstance(body, dict) else [body]
    return any(
        isinstance(field, serializers.UUIDField | serializers.RelatedField)
        for candidate in map(force_instance, candidates)
        if isinstance(candidate, serializers.Serializer)
        for field in candidate.fields.values()
        if not field.read_only
    )
