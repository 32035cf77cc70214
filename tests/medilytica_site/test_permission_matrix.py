"""The permission matrix, generated from the URL conf and the WebSocket routes.

Every REST route under /api/ and every WebSocket route is found by walking the
routing tables, so a route added later without the shared workspace restriction
fails here: anonymous callers get 401 / 4401, an outsider 404 / 4403, and a
viewer who writes 403, and nothing changes.
"""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLResolver, get_resolver

from collaboration.models import Room
from datasets.services import dataset_ingest
from medilytica_site.asgi import application
from medilytica_site.services import ws_ticket_issue
from medilytica_site.ws_urls import websocket_urlpatterns
from training import services as training_services

from ..mlmodels.conftest import engine_result, register_result

# Routes anyone may call, and what they are for.
PUBLIC = {
    "api/auth/register",
    "api/auth/token",
    "api/auth/token/refresh",
    "api/auth/login",
    "api/health",
    "api/health/live",
    "api/health/ready",
    "api/schema",
    "api/docs",
    "api/redoc",
}
# Writes a viewer may make: reading a model's predictions changes nothing.
VIEWER_WRITES = {"api/models/{pk}/predict"}
# Routes about the caller, not about one workspace's objects.
ACCOUNT = {"api/auth/logout", "api/auth/me", "api/auth/ws-ticket"}
# Sockets open to any signed-in user: their content is already per user.
WS_ANY_USER = {"ws/echo", "ws/notifications"}

GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def rest_routes() -> list[tuple[str, list[str]]]:
    """(route template like 'api/data/{pk}', its HTTP methods) for every API route."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    routes = []
    for raw, callback in walk(get_resolver().url_patterns):
        if not raw.startswith("api/") or raw.endswith(".*$"):
            continue
        template = GROUP.sub(lambda m: "{" + m.group(1) + "}", raw)
        template = template.replace("^", "").replace("/?$", "").replace("$", "")
        actions = getattr(callback, "actions", None)
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if actions:
            methods = list(actions)
        else:
            methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
        routes.append((template, methods))
    return routes


def ws_routes() -> list[str]:
    return [
        GROUP.sub(lambda m: "{" + m.group(1) + "}", str(p.pattern))
        .replace("^", "")
        .replace("/?$", "")
        .replace("$", "")
        for p in websocket_urlpatterns
    ]


ROUTES = rest_routes()
PRIVATE_ROUTES = [(t, m) for t, m in ROUTES if t not in PUBLIC]
OBJECT_ROUTES = [(t, m) for t, m in ROUTES if "{" in t]


def test_the_walk_finds_every_app():
    templates = {t for t, _ in ROUTES}
    for expected in (
        "api/workspaces/{pk}",
        "api/rooms/{pk}/messages",
        "api/data/preview/{pk}",
        "api/models/{pk}/predict",
        "api/train/stop/{run_id}",
        "api/viz/roc/{run_id}",
    ):
        assert expected in templates
    assert {"ws/training/{run_id}", "ws/chat/{room_id}", "ws/code/{room_id}"} <= set(ws_routes())


@pytest.fixture
def world(team, tmp_path):
    """One object of every kind in the team's workspace."""
    path = tmp_path / "tiny.csv"
    path.write_text(
        "age,sex,outcome\n" + "".join(f"{40 + i},{'FM'[i % 2]},{i % 2}\n" for i in range(40))
    )
    dataset = dataset_ingest(user=team.owner, workspace=team.workspace, source=str(path))
    config = training_services.run_config_build(
        dataset=dataset,
        data={"target": "outcome", "model_type": "decision_tree"},
        user=team.owner,
    )
    run = training_services.run_start(
        user=team.owner, dataset=dataset, config=config, enqueue=False
    )
    model = register_result(team, engine_result("random_forest", "classification"))
    room = Room.objects.get(workspace=team.workspace, name="general")
    return {
        "workspaces": team.workspace.pk,
        "data": dataset.pk,
        "train": run.pk,
        "viz": run.pk,
        "models": model.pk,
        "rooms": room.pk,
        "user_id": team.viewer.pk,
        "alias": "production",
        "run_id": run.pk,
        "room_id": room.pk,
    }


def concrete(template: str, world: dict) -> str:
    section = template.split("/")[1]

    def value(match):
        name = match.group(1)
        return str(world[section] if name == "pk" else world[name])

    return "/" + re.sub(r"\{(\w+)\}", value, template)


def call(client, method: str, path: str):
    return getattr(client, method)(path, {}, format="json") if method != "get" else client.get(path)


def test_every_route_called_public_exists():
    # A renamed route must leave this list too, or it would escape the 401 check.
    assert {t for t, _ in ROUTES} >= PUBLIC


@pytest.mark.django_db
@pytest.mark.parametrize("template, methods", PRIVATE_ROUTES, ids=[t for t, _ in PRIVATE_ROUTES])
def test_anonymous_callers_get_401(api, world, template, methods):
    for method in methods:
        response = call(api, method, concrete(template, world))
        assert response.status_code == 401, (method, template, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("template, methods", OBJECT_ROUTES, ids=[t for t, _ in OBJECT_ROUTES])
def test_outsiders_get_404_for_every_object(team, client_for, world, template, methods):
    client = client_for(team.outsider)
    for method in methods:
        response = call(client, method, concrete(template, world))
        assert response.status_code == 404, (method, template, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("template, methods", OBJECT_ROUTES, ids=[t for t, _ in OBJECT_ROUTES])
def test_viewers_cannot_write(team, client_for, world, template, methods):
    client = client_for(team.viewer)
    for method in methods:
        if method == "get" or template in VIEWER_WRITES:
            continue
        response = call(client, method, concrete(template, world))
        assert response.status_code == 403, (method, template, response.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template", ["api/data/upload", "api/models/upload", "api/train/start", "api/rooms"]
)
def test_viewers_cannot_create_in_the_workspace(team, client_for, world, template):
    body = {"workspace": str(team.workspace.pk), "dataset": str(world["data"]), "name": "x",
            "target": "outcome", "model_type": "decision_tree"}  # fmt: skip
    if template.endswith("upload"):
        body["file"] = SimpleUploadedFile("x.csv", b"a,b\n1,2\n3,4\n")
        response = client_for(team.viewer).post("/" + template, body, format="multipart")
    else:
        response = client_for(team.viewer).post("/" + template, body, format="json")
    assert response.status_code == 403, response.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("template", ws_routes())
async def test_sockets_refuse_anonymous_and_outsiders(team, world, template):
    path = "/" + re.sub(r"\{(\w+)\}", lambda m: str(world[m.group(1)]), template)
    anonymous = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
    await anonymous.connect()
    assert await anonymous.receive_output() == {"type": "websocket.close", "code": 4401}
    if template in WS_ANY_USER:
        return
    ticket = await database_sync_to_async(ws_ticket_issue)(user=team.outsider)
    outsider = WebsocketCommunicator(
        application, f"{path}?ticket={ticket}", headers=[(b"origin", b"http://localhost")]
    )
    await outsider.connect()
    assert await outsider.receive_output() == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db
@pytest.mark.parametrize("template, methods", OBJECT_ROUTES, ids=[t for t, _ in OBJECT_ROUTES])
def test_a_36_character_look_alike_id_is_404_not_500(team, client_for, world, template, methods):
    """Found by schemathesis: ids that match [0-9a-f-]{36} but are not UUIDs."""
    fake = {key: "A4Deb7Dae33fB0-07335-894AA1bBf1A0e9F" for key in world if key != "alias"}
    client = client_for(team.owner)
    for method in methods:
        response = call(client, method, concrete(template, {**world, **fake}))
        assert response.status_code == 404, (method, template, response.status_code)
