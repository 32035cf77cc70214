"""REST for rooms: /api/rooms, /api/rooms/{id}/messages, /api/rooms/{id}/code.
Members read, editors create, viewers get 403, outsiders 404, anonymous 401."""

from __future__ import annotations

import importlib

import pytest
from pycrdt import Doc, Text

from collaboration.models import ChatMessage, CodeDocument, Room
from collaboration.services import chat_message_create, code_update_append, workspace_create

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

READERS = ["owner", "editor", "viewer"]


def as_(team, who, client_for):
    return client_for(None if who == "anonymous" else getattr(team, who))


def test_every_workspace_starts_with_a_general_room(team):
    names = list(Room.objects.filter(workspace=team.workspace).values_list("name", flat=True))
    assert names == ["general"]
    assert CodeDocument.objects.filter(room__workspace=team.workspace).count() == 1


def test_the_data_migration_gives_old_workspaces_a_general_room(team):
    from django.apps import apps

    Room.objects.all().delete()
    migration = importlib.import_module("collaboration.migrations.0003_general_rooms")
    migration.general_rooms_create(apps, None)
    migration.general_rooms_create(apps, None)  # a second run adds nothing
    assert Room.objects.filter(name="general").count() == 2  # team's and the outsider's
    assert CodeDocument.objects.count() == 2


@pytest.mark.parametrize(
    "who,status", [("owner", 200), ("editor", 200), ("viewer", 200), ("anonymous", 401)]
)
def test_list(team, general, client_for, who, status):
    response = as_(team, who, client_for).get("/api/rooms")
    assert response.status_code == status
    if status == 200:
        ids = [r["id"] for r in response.json()["results"]]
        assert ids == [str(general.pk)]


def test_outsider_lists_only_their_own_rooms(team, general, client_for):
    body = client_for(team.outsider).get("/api/rooms/").json()
    assert [r["workspace"] for r in body["results"]] == [str(team.outsider_workspace.pk)]
    filtered = client_for(team.outsider).get(f"/api/rooms?workspace={team.workspace.pk}")
    assert filtered.json()["results"] == []


@pytest.mark.parametrize(
    "who,status",
    [("owner", 201), ("editor", 201), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_create(team, client_for, who, status):
    response = as_(team, who, client_for).post(
        "/api/rooms", {"workspace": str(team.workspace.pk), "name": f"{who}-room"}, format="json"
    )
    assert response.status_code == status, response.content
    exists = Room.objects.filter(workspace=team.workspace, name=f"{who}-room").exists()
    assert exists == (status == 201)
    if status == 201:
        body = response.json()
        assert body["name"] == f"{who}-room" and body["workspace"] == str(team.workspace.pk)


def test_create_refuses_a_duplicate_name_and_defaults_to_the_personal_workspace(team, client_for):
    editor = client_for(team.editor)
    response = editor.post(
        "/api/rooms/", {"workspace": str(team.workspace.pk), "name": "General"}, format="json"
    )
    assert response.status_code == 400 and "name" in response.json()
    user = UserFactory(username="solo")
    personal = workspace_create(user=user, name="solo's", is_personal=True)
    response = client_for(user).post("/api/rooms", {"name": "scratch"}, format="json")
    assert response.status_code == 201
    assert response.json()["workspace"] == str(personal.pk)


@pytest.mark.parametrize(
    "who,status",
    [("owner", 200), ("editor", 200), ("viewer", 200), ("outsider", 404), ("anonymous", 401)],
)
@pytest.mark.parametrize("suffix", ["", "/messages", "/code", "/messages/", "/code/"])
def test_read_room_history_and_code(team, general, client_for, who, status, suffix):
    response = as_(team, who, client_for).get(f"/api/rooms/{general.pk}{suffix}")
    assert response.status_code == status


def test_messages_newest_first_paged_with_before(team, general, client_for):
    for i in range(60):
        chat_message_create(room_id=general.pk, user=team.editor, text=f"m{i}", kind="system")
    client = client_for(team.viewer)
    first = client.get(f"/api/rooms/{general.pk}/messages").json()
    assert first["count"] == 60
    texts = [m["text"] for m in first["results"]]
    assert texts == [f"m{i}" for i in range(59, 9, -1)]  # 50 per page, newest first
    oldest_shown = first["results"][-1]["id"]
    second = client.get(f"/api/rooms/{general.pk}/messages?before={oldest_shown}").json()
    assert [m["text"] for m in second["results"]] == [f"m{i}" for i in range(9, -1, -1)]
    assert second["results"][0]["type"] == "message"


@pytest.mark.parametrize("before", ["not-a-uuid", "6a1c0e7e-3b1f-4a57-9a0a-8a3a2f8f0e11"])
def test_messages_before_must_name_a_message_of_this_room(team, general, client_for, before):
    response = client_for(team.viewer).get(f"/api/rooms/{general.pk}/messages?before={before}")
    assert response.status_code == 400 and "before" in response.json()


def test_messages_of_another_room_do_not_leak(team, general, client_for):
    other = Room.objects.get(workspace=team.outsider_workspace)
    ChatMessage.objects.create(room=other, seq=1, text="private", user=team.outsider)
    body = client_for(team.owner).get(f"/api/rooms/{general.pk}/messages").json()
    assert body["results"] == []
    response = client_for(team.owner).get(f"/api/rooms/{other.pk}/messages")
    assert response.status_code == 404


def test_code_returns_the_text_of_the_shared_code_type(team, general, client_for):
    empty = client_for(team.viewer).get(f"/api/rooms/{general.pk}/code").json()
    assert empty == {"text": "", "updated_at": None}
    doc = Doc()
    code = doc.get("code", type=Text)
    code += "print('hi')\n"
    code_update_append(room_id=general.pk, user=team.editor, data=doc.get_update())
    body = client_for(team.viewer).get(f"/api/rooms/{general.pk}/code").json()
    assert body["text"] == "print('hi')\n" and body["updated_at"]
