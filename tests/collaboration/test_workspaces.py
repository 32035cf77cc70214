"""The workspace permission matrix: owner / editor / viewer / outsider / anonymous."""

from __future__ import annotations

import pytest

from collaboration.models import AuditEvent, Membership, Role, Workspace

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def who(team, name):
    return None if name == "anonymous" else getattr(team, name)


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 200), ("editor", 200), ("viewer", 200), ("outsider", 404), ("anonymous", 401)],
)
def test_retrieve(team, client_for, name, expected):
    response = client_for(who(team, name)).get(f"/api/workspaces/{team.workspace.pk}")
    assert response.status_code == expected
    if expected == 200:
        body = response.json()
        assert body["name"] == "Cardiology"
        assert body["role"] == Membership.objects.get(user=who(team, name)).role


def test_list_shows_only_my_workspaces(team, client_for):
    response = client_for(team.outsider).get("/api/workspaces")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [w["name"] for w in body["results"]] == ["Elsewhere"]


def test_list_shows_every_member_in_a_fixed_number_of_queries(
    team, client_for, django_assert_max_num_queries
):
    newcomers = UserFactory.create_batch(40)
    Membership.objects.bulk_create(
        [Membership(workspace=team.workspace, user=u, role=Role.VIEWER) for u in newcomers]
    )
    expected = {
        str(m.user_id): (m.user.username, m.role)
        for m in Membership.objects.filter(workspace=team.workspace).select_related("user")
    }
    with django_assert_max_num_queries(8):  # not one per member
        response = client_for(team.owner).get("/api/workspaces")
    assert response.status_code == 200
    (workspace,) = [w for w in response.json()["results"] if w["id"] == str(team.workspace.pk)]
    members = {m["user_id"]: (m["username"], m["role"]) for m in workspace["members"]}
    assert members == expected and len(members) == 43
    first = Membership.objects.filter(workspace=team.workspace).earliest("created_at")
    created = workspace["members"][0]["created_at"]
    assert created == first.created_at.isoformat().replace("+00:00", "Z")


def test_list_anonymous_is_401(team, api):
    assert api.get("/api/workspaces").status_code == 401


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 200), ("editor", 403), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_rename(team, client_for, name, expected):
    response = client_for(who(team, name)).patch(
        f"/api/workspaces/{team.workspace.pk}/", {"name": "Renamed"}, format="json"
    )
    assert response.status_code == expected
    team.workspace.refresh_from_db()
    assert (team.workspace.name == "Renamed") == (expected == 200)


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 204), ("editor", 403), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_delete(team, client_for, name, expected):
    response = client_for(who(team, name)).delete(f"/api/workspaces/{team.workspace.pk}")
    assert response.status_code == expected
    assert Workspace.objects.filter(pk=team.workspace.pk).exists() == (expected != 204)


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 201), ("editor", 403), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_add_member(team, client_for, name, expected):
    UserFactory(username="newbie")
    response = client_for(who(team, name)).post(
        f"/api/workspaces/{team.workspace.pk}/members",
        {"username": "newbie", "role": "editor"},
        format="json",
    )
    assert response.status_code == expected
    added = Membership.objects.filter(workspace=team.workspace, user__username="newbie")
    assert added.exists() == (expected == 201)


@pytest.mark.parametrize(
    "name, expected",
    [("owner", 204), ("editor", 403), ("viewer", 403), ("outsider", 404), ("anonymous", 401)],
)
def test_remove_member(team, client_for, name, expected):
    response = client_for(who(team, name)).delete(
        f"/api/workspaces/{team.workspace.pk}/members/{team.viewer.pk}"
    )
    assert response.status_code == expected
    still = Membership.objects.filter(workspace=team.workspace, user=team.viewer).exists()
    assert still == (expected != 204)


def test_create_workspace_makes_caller_owner(team, client_for):
    response = client_for(team.viewer).post("/api/workspaces", {"name": "Oncology"}, "json")
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert AuditEvent.objects.filter(action="workspace.create", user=team.viewer).exists()


def test_create_workspace_needs_a_name(team, client_for):
    response = client_for(team.owner).post("/api/workspaces", {"name": ""}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_add_unknown_user_names_the_field(team, client_for):
    response = client_for(team.owner).post(
        f"/api/workspaces/{team.workspace.pk}/members",
        {"username": "ghost", "role": "editor"},
        "json",
    )
    assert response.status_code == 400
    assert "ghost" in response.json()["username"][0]


def test_bad_role_names_the_field(team, client_for):
    response = client_for(team.owner).post(
        f"/api/workspaces/{team.workspace.pk}/members", {"username": "bob", "role": "god"}, "json"
    )
    assert response.status_code == 400
    assert "role" in response.json()


def test_role_change_is_audited_with_old_and_new(team, client_for):
    client_for(team.owner).post(
        f"/api/workspaces/{team.workspace.pk}/members",
        {"username": "carol", "role": "editor"},
        "json",
    )
    assert Membership.objects.get(workspace=team.workspace, user=team.viewer).role == Role.EDITOR
    event = AuditEvent.objects.get(action="membership.set")
    assert event.detail == {"username": "carol", "old_role": "viewer", "role": "editor"}


def test_last_owner_cannot_leave_or_be_demoted(team, client_for):
    owner = client_for(team.owner)
    demote = owner.post(
        f"/api/workspaces/{team.workspace.pk}/members",
        {"username": "alice", "role": "viewer"},
        "json",
    )
    assert demote.status_code == 400
    assert "at least one owner" in demote.json()["role"][0]
    leave = owner.delete(f"/api/workspaces/{team.workspace.pk}/members/{team.owner.pk}")
    assert leave.status_code == 400


def test_workspace_filter_rejects_bad_uuid(team, client_for):
    # The shared base viewset's ?workspace= filter, on a resource that uses it.
    response = client_for(team.owner).get("/api/train?workspace=not-a-uuid")
    assert response.status_code == 400
    assert "not a valid UUID" in response.json()["workspace"][0]


def test_workspace_filter_narrows_lists(team, client_for):
    client = client_for(team.owner)
    mine = client.get(f"/api/rooms?workspace={team.workspace.pk}").json()
    assert mine["count"] >= 1
    assert all(r["workspace"] == str(team.workspace.pk) for r in mine["results"])
    other = client.get(f"/api/rooms?workspace={team.outsider_workspace.pk}").json()
    assert other["count"] == 0


def test_unknown_api_path_is_json_404(team, client_for):
    response = client_for(team.owner).get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
