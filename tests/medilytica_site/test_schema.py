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


# Where a response may hold any JSON, and why. Everything else a client reads is typed.
FREE_FORM_ALLOWED = {
    # A 400 names each field with its messages, or the request as a whole; DRF words
    # nested fields' errors as nested objects, so neither the keys nor the values are fixed.
    "ValidationError.detail": "DRF field errors: a message, a list, or nested field errors",
    "ValidationError.code": "DRF field errors: a code, or nested codes",
}
TYPED = {"type", "$ref", "oneOf", "anyOf", "allOf", "enum"}


def response_schemas(schema):
    """(name, schema) of every response body, and of every component they reach."""
    components = schema["components"]["schemas"]
    seen: set[str] = set()
    stack = []
    for name, operation in operations(schema):
        for code, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                stack.append((f"{name} {code} {media}", content["schema"]))
    while stack:
        where, node = stack.pop()
        yield where, node
        for ref in refs(node):
            component = ref.rsplit("/", 1)[-1]
            if component not in seen:
                seen.add(component)
                stack.append((component, components[component]))


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def untyped(node, where):
    """Paths inside `node` that say nothing of their content: an object with neither
    properties nor typed additionalProperties, or a value with no type at all."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "object" and "properties" not in node:
        extra = node.get("additionalProperties")
        if not (isinstance(extra, dict) and TYPED & set(extra)):
            yield where
    for key, value in node.get("properties", {}).items():
        if isinstance(value, dict) and not TYPED & set(value):
            yield f"{where}.{key}"
        yield from untyped(value, f"{where}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from untyped(node[key], f"{where}[{key}]")
    for key in ("oneOf", "anyOf", "allOf"):
        for i, option in enumerate(node.get(key, [])):
            yield from untyped(option, f"{where}.{key}[{i}]")


def test_every_response_is_typed_down_to_its_leaves(schema):
    found = {path for where, node in response_schemas(schema) for path in untyped(node, where)}
    assert found - set(FREE_FORM_ALLOWED) == set()
    assert set(FREE_FORM_ALLOWED) <= found, "an allowed free-form spot is typed now: drop it"


def test_the_walker_finds_free_form_objects():
    bare = {"type": "object", "properties": {"a": {}, "b": {"type": "object"}}}
    mapped = {"type": "object", "additionalProperties": {"type": "number", "nullable": True}}
    assert set(untyped(bare, "X")) == {"X.a", "X.b"}
    assert set(untyped({"type": "object", "additionalProperties": {}}, "Y")) == {"Y"}
    assert list(untyped(mapped, "Z")) == []


def test_results_and_viz_bodies_name_their_components(schema):
    responses = {name: op["responses"] for name, op in operations(schema)}
    expected = {
        "GET /api/train/results/{run_id}/": "RunResults",
        "GET /api/viz/roc/{run_id}/": "RocCurve",
        "GET /api/viz/confusion/{run_id}/": "ConfusionMatrix",
        "GET /api/viz/graph/{run_id}/": "ModelGraph",
        "GET /api/viz/metrics/{run_id}/": "MetricsHistory",
        "GET /api/train/status/{run_id}/": "RunStatus",
        "GET /api/train/model-types/": "ModelTypes",
        "GET /api/auth/me/": "Me",
        "GET /api/models/{id}/card/": "ModelCard",
    }
    for name, component in expected.items():
        assert body_ref(responses[name]["200"]) == f"#/components/schemas/{component}", name
    components = schema["components"]["schemas"]
    metrics = components["Metrics"]["properties"]
    clinical = {"sensitivity", "specificity", "balanced_accuracy", "mcc", "brier_score", "roc_auc"}
    assert clinical <= set(metrics)
    assert set(components["ConfusionMatrix"]["required"]) == {"labels", "matrix", "normalized"}
    roc = components["RocCurve"]["properties"]
    assert {"fpr", "tpr", "thresholds", "auc", "per_class", "micro"} <= set(roc)
    assert {"id", "label", "type", "color"} <= set(components["ModelGraphNode"]["properties"])
