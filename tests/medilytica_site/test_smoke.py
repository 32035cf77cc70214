import pytest


@pytest.mark.django_db
def test_register_creates_personal_workspace(api):
    response = api.post(
        "/api/auth/register", {"username": "dora", "password": "a-long-enough-pass-42"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert [w["role"] for w in response.json()["workspaces"]] == ["owner"]
