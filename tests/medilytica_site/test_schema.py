"""The OpenAPI schema documents the errors each operation really gives (medilytica_site/
schema.py), and drf-spectacular generates it without a warning."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

ERROR = "#/components/schemas/Error"
VALIDATION_ERROR = "#/components/schemas/ValidationError"


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def body_ref(response: dict) -> str:
    return response["content"]["application/json"]["schema"]["$ref"]


def test_spectacular_validates_with_no_warning(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert (tmp_path / "s.yml").stat().st_size > 10_000


def test_error_bodies_are_components_of_the_documented_shape(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["code", "detail"]
    assert set(components["ValidationError"]["properties"]) == {"detail", "code"}
    assert "required" not in components["ValidationError"]  # field errors name fields


def test_object_routes_document_404_and_signed_in_routes_401(schema):
    for name, operation in operations(schema):
        responses = operation["responses"]
        if "{" in name:
            assert body_ref(responses["404"]) == ERROR, name
        if any(operation.get("security", [])):  # it takes credentials
            assert body_ref(responses["401"]) == ERROR, name


def test_bodies_document_400_413_415_and_writes_403(schema):
    for name, operation in operations(schema):
        responses = operation["responses"]
        if "requestBody" in operation:
            assert body_ref(responses["400"]) == VALIDATION_ERROR, name
            assert {"413", "415"} <= set(responses), name
        if name.startswith(("POST", "PATCH", "DELETE")) and any(operation.get("security", [])):
            assert body_ref(responses["403"]) == ERROR, name


def test_particular_errors_are_declared_where_they_happen(schema):
    responses = {name: op["responses"] for name, op in operations(schema)}
    assert set(responses["GET /api/health/"]) == {"200", "503"}
    assert "401" in responses["POST /api/auth/token/"]
    assert "403" in responses["POST /api/auth/login/"]
    for name in ("results", "stop"):
        verb = "POST" if name == "stop" else "GET"
        assert body_ref(responses[f"{verb} /api/train/{name}/{{run_id}}/"]["409"]) == ERROR
    assert "409" in responses["POST /api/models/{id}/predict/"]
    assert "400" in responses["DELETE /api/workspaces/{id}/members/{user_id}/"]
    assert "429" in responses["GET /api/data/"]  # throttled
    assert "404" in responses["GET /api/data/"]  # a page past the end
    download = responses["GET /api/data/{id}/download/"]["200"]["content"]
    assert {"text/csv", "text/tab-separated-values", "application/gzip"} <= set(download)
