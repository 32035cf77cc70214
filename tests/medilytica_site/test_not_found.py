"""One error vocabulary: every 404 under /api/ is `{"detail", "code": "not_found"}`,
whichever way it arose (a selector's Http404, get_object, a view's own NotFound, an
id that is not a UUID, an unknown path). Routes are found by walking the URL conf,
so a route added later is checked too."""

from __future__ import annotations

import re
import uuid

import pytest

from .test_permission_matrix import rest_routes

pytestmark = pytest.mark.django_db

PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Placeholders that are not ids, and a value of the right form for each.
NOT_IDS = {"alias": "production"}


def routes_with_ids():
    for template, methods in rest_routes():
        if PLACEHOLDER.search(template):
            for method in methods:
                yield template, method


def fill(template: str) -> str:
    return "/" + PLACEHOLDER.sub(lambda m: NOT_IDS.get(m.group(1)) or str(uuid.uuid4()), template)


@pytest.mark.parametrize(("template", "method"), list(routes_with_ids()))
def test_an_id_that_does_not_exist_is_a_not_found_body(team, client_for, template, method):
    client = client_for(team.owner)
    response = getattr(client, method)(fill(template), {}, format="json")
    assert response.status_code == 404, (method, template, response.content)
    assert response.json() == {"detail": response.json()["detail"], "code": "not_found"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/data/not-a-uuid",
        "/api/train/status/12345678-1234-1234-1234-12345678901z",
        "/api/viz/roc/0",
        "/api/no/such/path",
        "/api/data/%0A/",  # found by schemathesis: `.` stopped at the line break
        "/api/%0D%0Ax",
    ],
)
def test_ids_that_are_not_uuids_and_unknown_paths_are_not_found(team, client_for, path, settings):
    settings.DEBUG = True  # as under `make run`: Django's own 404 page would be HTML
    response = client_for(team.owner).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_a_finished_run_without_a_graph_is_not_found_in_words(
    team, client_for, django_capture_on_commit_callbacks
):
    from training.models import RunStatus, TrainingRun

    run = TrainingRun.objects.create(
        workspace=team.workspace,
        created_by=team.owner,
        target="y",
        model_type="random_forest",
        status=RunStatus.SUCCEEDED,
        results={"metrics": {}},
    )
    response = client_for(team.viewer).get(f"/api/viz/graph/{run.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
