"""Oversized and deeply nested JSON on every endpoint and socket that reads JSON.

Python's decoder recurses once per level, so 100 000 `[` raised RecursionError: a
500 from DRF's JSONParser, a crashed chat socket. And DRF read a JSON body of any
size: Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only on `request.body`, which
DRF's parser never touches. Both are refused now, with a message that says why.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from collaboration import safejson
from collaboration.models import ChatMessage
from mlmodels.models import ModelArtifact

from ..collaboration.conftest import json_of_type, ws_open
from ..medilytica_site.test_permission_matrix import ROUTES, concrete, world

__all__ = ["world"]

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000

WRITE_ROUTES = [
    (template, method)
    for template, methods in ROUTES
    for method in methods
    if method in ("post", "put", "patch")
]


def test_the_walk_finds_the_json_endpoints():
    found = {t for t, _ in WRITE_ROUTES}
    assert {
        "api/workspaces",
        "api/train/start",
        "api/models/{pk}/predict",
        "api/auth/token",
    } <= found


# --- the depth check itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 64 + "]" * 64,
        json.dumps({"text": "[" * 10_000}),  # brackets inside a string are text
        json.dumps({"text": 'say \\"[[[[' + "{" * 500}),
        json.dumps([{"a": [1, 2, {"b": "]]]]]"}]}] * 1000),
    ],
)
def test_depth_check_accepts_what_is_not_deep(text):
    assert safejson.loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["[" * 65 + "]" * 65, DEEP, DEEP_OBJECT, "[" * 100_000])
def test_depth_check_refuses_deep_documents_as_a_decode_error(text):
    with pytest.raises(json.JSONDecodeError, match="nested more than 64 levels"):
        safejson.loads(text)


def test_the_stdlib_decoder_really_overflows_on_these_documents():
    with pytest.raises(RecursionError):
        json.loads(DEEP)


# --- REST bodies ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(team, client_for, world, body):
    """Every write route: those that read a body say it nests too deep; the few that
    never read one (a ticket, a stop) answer as usual. None fails with a 500."""
    client = client_for(team.owner)
    failures, refused = [], []
    for template, method in WRITE_ROUTES:
        path = concrete(template, world)
        response = client.generic(method.upper(), path, body, content_type="application/json")
        if response.status_code in (405, 415):  # takes no JSON: multipart only
            continue
        detail = response.json().get("detail", "") if response.status_code == 400 else ""
        if "nested more than 64 levels" in detail:
            refused.append(template)
        elif response.status_code == 400 or response.status_code >= 500:
            failures.append((method, template, response.status_code, response.content[:200]))
    assert not failures, failures
    assert {"api/workspaces", "api/train/start", "api/models/{pk}/predict"} <= set(refused)
    assert len(refused) >= 10, refused


@pytest.mark.django_db
def test_a_deep_document_inside_a_json_field_is_refused(team, client_for, world):
    client = client_for(team.owner)
    start = {
        "dataset": str(world["data"]),
        "target": "outcome",
        "model_type": "decision_tree",
        "hyperparameters": json.loads("[" * 64 + "]" * 64),  # 64 deep inside 1: 65
    }
    response = client.post("/api/train/start", start, format="json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_413_naming_the_limit(team, client_for, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50_000
    client = client_for(team.owner)
    body = json.dumps({"name": "x" * 60_000})
    failures, refused = [], []
    for template, method in WRITE_ROUTES:
        response = client.generic(
            method.upper(), concrete(template, world), body, content_type="application/json"
        )
        if response.status_code in (405, 415):
            continue
        data = response.json()
        if response.status_code == 413:
            if "at most 50000 bytes" in data["detail"] and data["code"] == "too_large":
                refused.append(template)
            else:
                failures.append((method, template, data))
        elif response.status_code == 400 or response.status_code >= 500:
            failures.append((method, template, response.status_code, response.content[:200]))
    assert not failures, failures
    assert {"api/workspaces", "api/train/start", "api/auth/register"} <= set(refused)


@pytest.mark.django_db
def test_the_default_limit_holds_and_a_body_under_it_still_works(team, client_for, settings):
    client = client_for(team.owner)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = json.dumps({"name": "x" * limit})
    response = client.generic("POST", "/api/workspaces", too_big, content_type="application/json")
    assert response.status_code == 413 and "MAX_JSON_BODY" in response.json()["detail"]
    response = client.post("/api/workspaces", {"name": "Oncology"}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "Oncology"


@pytest.mark.django_db
def test_a_lying_content_length_does_not_let_more_through(team, client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"name": "y" * 20_000}).encode()
    response = client_for(team.owner).generic(
        "POST", "/api/workspaces", body, content_type="application/json", CONTENT_LENGTH="100"
    )
    assert response.status_code in (400, 413)  # truncated to 100 bytes, or refused


# --- JSON inside multipart fields and uploaded files -----------------------------------


@pytest.mark.django_db
def test_deep_json_in_a_multipart_field_is_a_400_naming_the_field(team, client_for):
    import torch

    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(2, 1).state_dict(), buffer)
    response = client_for(team.owner).post(
        "/api/models/upload",
        {
            "file": SimpleUploadedFile("net.pt", buffer.getvalue()),
            "name": "deep",
            "workspace": str(team.workspace.pk),
            "architecture": DEEP,
        },
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert "nested more than 64 levels" in str(response.json()["architecture"])
    assert not ModelArtifact.objects.exists()


@pytest.mark.django_db
def test_deep_json_inside_an_uploaded_bundle_is_rejected(team, client_for):
    from django.core.files.storage import storages

    from ..mlmodels.conftest import engine_result, register_result

    artifact = register_result(team, engine_result("neural_network", "classification"), name="N")
    with storages["models"].open(artifact.file_key) as handle:
        bundle = zipfile.ZipFile(io.BytesIO(handle.read()))
    entries = {name: bundle.read(name) for name in bundle.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in {**entries, "architecture.json": DEEP.encode()}.items():
            archive.writestr(name, data)
    response = client_for(team.owner).post(
        "/api/models/upload",
        {
            "file": SimpleUploadedFile("net.mlbundle", out.getvalue()),
            "name": "deep",
            "workspace": str(team.workspace.pk),
        },
        format="multipart",
    )
    # Read by a worker (here in the same thread), which rejects it.
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "rejected", body
    assert "nested more than 64 levels" in body["error"]
    assert not ModelArtifact.objects.filter(name="deep", status="ready").exists()


# --- socket frames ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_deep_chat_frame_is_answered_and_the_socket_lives(
    team, general, fresh_channel_layer
):
    ws = await ws_open(team.owner, f"/ws/chat/{general.pk}")
    try:
        await ws.send_to(text_data=json.dumps({"type": "message", "text": "x"})[:-1] + DEEP + "}")
        error = await json_of_type(ws, "error")
        assert error["code"] == "bad_request" and "nested more than 64 levels" in error["message"]
        await ws.send_json_to({"type": "message", "text": "still here"})
        echoed = await json_of_type(ws, "message")
        assert echoed["text"] == "still here"
    finally:
        await ws.disconnect()
    texts = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values_list("text", flat=True))
    )()
    assert texts == ["still here"]


@pytest.mark.django_db(transaction=True)
async def test_deep_frames_on_json_streams_are_dropped_and_the_socket_lives(
    team, fresh_channel_layer
):
    ws = await ws_open(team.owner, "/ws/echo")
    try:
        assert (await ws.receive_json_from(timeout=3))["type"] == "hello"
        await ws.send_to(text_data=DEEP)
        await ws.send_to(text_data="not json at all")
        await ws.send_json_to({"ping": 1})
        answer = await ws.receive_json_from(timeout=3)
        assert answer == {"type": "echo", "user": team.owner.username, "data": {"ping": 1}}
    finally:
        await ws.disconnect()


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _random_document(rng, level: int = 0):
    """Nested lists and objects whose strings hold brackets, quotes and backslashes."""
    pick = rng.random()
    if level > 9 or pick < 0.3:
        return "".join(rng.choice('[]{}"\\ab\n') for _ in range(rng.randint(0, 6)))
    if pick < 0.65:
        return [_random_document(rng, level + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}{rng.choice('[{}]')}": _random_document(rng, level + 1) for i in range(3)}


def test_depth_check_counts_exactly_the_nesting_of_valid_documents():
    import random

    rng = random.Random(7)
    for _ in range(3000):
        document = _random_document(rng)
        text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
        limit = rng.randint(0, 8)
        deep = _depth(document) > limit
        try:
            safejson.depth_check(text, limit)
            refused = False
        except safejson.JSONTooDeep:
            refused = True
        assert refused == deep, (text, limit)


# --- orjson decodes, the standard library decides -------------------------------------


SAME_AS_JSON = [
    '{"a": 1, "b": [1.5, -2, true, false, null], "c": "\\u00e9\\n\\"[{"}',
    '{"big": 123456789012345678901234567890}',  # orjson would read a float
    '{"edge": [9223372036854775807, -9223372036854775808, 18446744073709551615]}',
    '{"past64": [18446744073709551616, -9223372036854775809]}',
    '{"digits_in_text": "12345678901234567890", "n": 1}',
    '{"huge": 1e400}',  # the standard library reads infinity; orjson refuses
    '"\\ud800"',  # a lone surrogate: refused by orjson, read by json
    '{"a": 1, "a": 2}',
    "[0.1, 1e-7, 5e-324, 1.7976931348623157e308, -0.0]",
    '{"emoji": "\\ud83d\\ude00", "raw": "ü€"}',
]


@pytest.mark.parametrize("text", SAME_AS_JSON)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_loads_gives_what_the_standard_library_gives(text, as_bytes):
    data = text.encode("utf-8", "surrogatepass") if as_bytes else text
    got, expected = safejson.loads(data), json.loads(text)
    assert got == expected or (got != got and expected != expected)
    assert json.dumps(got) == json.dumps(expected)  # types too: 10**30 stays an int


@pytest.mark.parametrize(
    "text", ["", "  ", '{"a": 1} x', '{"a": NaN}', "[1,]", "\ufeff[1]", '{"a" 1}', "[Infinity]"]
)
def test_loads_refuses_what_the_standard_library_refuses_with_its_message(text):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text, parse_constant=_strict)
    with pytest.raises(json.JSONDecodeError) as got:
        safejson.loads(text, parse_constant=_strict)
    assert str(got.value) == str(expected.value)


def _strict(constant):
    raise json.JSONDecodeError(f"{constant} is not valid JSON", constant, 0)
