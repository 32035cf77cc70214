"""The registry over REST: who may do what, versions, aliases, predict, card, graph."""

from __future__ import annotations

import pytest
from django.core.files.storage import storages

from collaboration.models import AuditEvent
from mlmodels.models import ModelAlias, ModelArtifact
from mlmodels.services import model_cache

from .conftest import clinical_frame, engine_result, json_rows, register_result

pytestmark = pytest.mark.django_db

ROLES = ["owner", "editor", "viewer", "outsider", "anonymous"]


def _client(team, client_for, role):
    return client_for(None if role == "anonymous" else getattr(team, role))


def _rows(n=3):
    return json_rows(clinical_frame().drop(columns=["outcome", "los"]).head(n))


# --- the permission matrix ---------------------------------------------------------------

READ = {"owner": 200, "editor": 200, "viewer": 200, "outsider": 404, "anonymous": 401}
WRITE = {"owner": 2, "editor": 2, "viewer": 403, "outsider": 404, "anonymous": 401}


def _call(client, endpoint, model):
    base = f"/api/models/{model.pk}"
    if endpoint == "retrieve":
        return client.get(base)
    if endpoint == "download":
        return client.get(f"{base}/download")
    if endpoint == "predict":
        return client.post(f"{base}/predict", {"rows": _rows()}, format="json")
    if endpoint == "card":
        return client.get(f"{base}/card")
    if endpoint == "card_md":
        return client.get(f"{base}/card?format=md")
    if endpoint == "graph":
        return client.get(f"{base}/graph/")
    if endpoint == "patch":
        return client.patch(base, {"intended_use": "Triage support"}, format="json")
    if endpoint == "delete":
        return client.delete(base)
    if endpoint == "alias_set":
        return client.post(f"{base}/aliases", {"alias": "production"}, format="json")
    if endpoint == "alias_unset":
        return client.delete(f"{base}/aliases/candidate")
    raise AssertionError(endpoint)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "endpoint", ["retrieve", "download", "predict", "card", "card_md", "graph"]
)
def test_read_endpoints(team, client_for, forest, endpoint, role):
    response = _call(_client(team, client_for, role), endpoint, forest)
    assert response.status_code == READ[role], response.content[:300]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ["patch", "delete", "alias_set", "alias_unset"])
def test_write_endpoints(team, client_for, forest, endpoint, role):
    from mlmodels.services import model_alias_set

    model_alias_set(artifact=forest, alias="candidate", user=team.owner)
    response = _call(_client(team, client_for, role), endpoint, forest)
    expected = WRITE[role]
    if expected == 2:
        assert 200 <= response.status_code < 300, response.content[:300]
    else:
        assert response.status_code == expected, response.content[:300]
        assert ModelArtifact.objects.filter(pk=forest.pk, intended_use="").exists()
        assert ModelAlias.objects.filter(artifact=forest, alias="candidate").exists()


@pytest.mark.parametrize("role", ROLES)
def test_list(team, client_for, forest, role):
    response = _client(team, client_for, role).get("/api/models")
    if role == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["results"]]
    assert ids == ([] if role == "outsider" else [str(forest.pk)])


@pytest.mark.parametrize("role", ROLES)
def test_upload_permissions(team, client_for, role):
    from .test_upload import skops_upload

    response = _client(team, client_for, role).post(
        "/api/models/upload",
        {"file": skops_upload(), "name": "Uploaded", "workspace": str(team.workspace.pk)},
        format="multipart",
    )
    expected = {"owner": 202, "editor": 202, "viewer": 403, "outsider": 404, "anonymous": 401}
    assert response.status_code == expected[role], response.content[:300]
    assert ModelArtifact.objects.filter(name="Uploaded").exists() == (expected[role] == 202)


# --- listing, versions and aliases -------------------------------------------------------


def test_versions_follow_the_normalised_name(team):
    result = engine_result("random_forest", "classification")
    first = register_result(team, result, name="Sepsis risk")
    second = register_result(team, result, name="  SEPSIS   risk ")
    other = register_result(team, result, name="Sepsis risk 2")
    elsewhere = register_result(
        team, result, name="Sepsis risk", workspace=team.outsider_workspace, user=team.outsider
    )
    assert (first.version, second.version, other.version, elsewhere.version) == (1, 2, 1, 1)
    assert second.name == "SEPSIS risk"


def test_list_filters_and_ordering(team, client_for):
    register_result(team, engine_result("random_forest", "classification"), name="A")
    register_result(team, engine_result("linear_regression", "regression"), name="B")
    register_result(team, engine_result("random_forest", "classification"), name="a")
    client = client_for(team.viewer)

    def names(query):
        response = client.get(f"/api/models?{query}")
        assert response.status_code == 200, response.content
        return [(item["name"], item["version"]) for item in response.json()["results"]]

    assert names("name=a&ordering=version") == [("A", 1), ("a", 2)]
    assert names("task=regression") == [("B", 1)]
    assert names("framework=sklearn&ordering=-version")[0] == ("a", 2)
    assert names(f"workspace={team.outsider_workspace.pk}") == []
    assert client.get("/api/models?workspace=nope").status_code == 400


def test_alias_moves_are_audited(team, client_for):
    result = engine_result("random_forest", "classification")
    v1 = register_result(team, result)
    v2 = register_result(team, result)
    client = client_for(team.editor)
    assert (
        client.post(f"/api/models/{v1.pk}/aliases/", {"alias": " Production "}).status_code == 200
    )
    response = client.post(f"/api/models/{v2.pk}/aliases", {"alias": "production"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 2
    moves = AuditEvent.objects.filter(action="model.alias.set").order_by("created_at")
    assert [(e.detail["old_version"], e.detail["new_version"]) for e in moves] == [
        (None, 1),
        (1, 2),
    ]
    listed = client.get("/api/models?alias=production").json()["results"]
    assert [item["id"] for item in listed] == [str(v2.pk)]
    assert client.get(f"/api/models/{v2.pk}").json()["aliases"] == ["production"]
    # Only the version it points at can drop it.
    assert client.delete(f"/api/models/{v1.pk}/aliases/production").status_code == 404
    assert client.delete(f"/api/models/{v2.pk}/aliases/production").status_code == 204
    unset = AuditEvent.objects.get(action="model.alias.unset")
    assert (unset.detail["old_version"], unset.detail["new_version"]) == (2, None)
    bad = client.post(f"/api/models/{v2.pk}/aliases", {"alias": "../x"}, format="json")
    assert bad.status_code == 400 and "alias" in bad.json()


def test_patch_and_delete(team, client_for, forest):
    client = client_for(team.editor)
    response = client.patch(
        f"/api/models/{forest.pk}", {"intended_use": "Triage", "limitations": "Adults only"}
    )
    assert response.status_code == 200
    assert (response.json()["intended_use"], response.json()["limitations"]) == (
        "Triage",
        "Adults only",
    )
    assert client.put(f"/api/models/{forest.pk}", {}).status_code == 405
    assert storages["models"].exists(forest.file_key)
    response = client.delete(f"/api/models/{forest.pk}")
    assert response.status_code == 204
    assert not ModelArtifact.objects.filter(pk=forest.pk).exists()
    assert AuditEvent.objects.filter(action="model.delete", object_id=str(forest.pk)).exists()


def test_delete_removes_the_file_after_commit(
    team, client_for, forest, django_capture_on_commit_callbacks
):
    storage = storages["models"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(team.owner).delete(f"/api/models/{forest.pk}/").status_code == 204
    assert not storage.exists(forest.file_key)


def test_download_is_an_audited_attachment(team, client_for, forest):
    response = client_for(team.viewer).get(f"/api/models/{forest.pk}/download")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="sepsis-risk-v1.skops"'
    body = b"".join(response.streaming_content)
    import hashlib

    assert hashlib.sha256(body).hexdigest() == forest.file_sha256
    event = AuditEvent.objects.get(action="model.download")
    assert (event.user, event.object_id) == (team.viewer, str(forest.pk))


# --- predict -------------------------------------------------------------------------------


def test_predict_answers_classes_and_probabilities(team, client_for, forest):
    client = client_for(team.viewer)
    response = client.post(f"/api/models/{forest.pk}/predict", {"rows": _rows(5)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["classes"] == ["sick", "well"]
    assert len(body["predictions"]) == 5 and set(body["predictions"]) <= {"sick", "well"}
    assert all(abs(sum(p) - 1) < 1e-6 for p in body["probabilities"])
    # Loaded once per process: a second request is served from the cache.
    loads = model_cache.loads
    client.post(f"/api/models/{forest.pk}/predict/", {"rows": _rows(1)}, format="json")
    assert model_cache.loads == loads


def test_predict_reads_the_model_and_the_callers_role_in_one_query_then_audits(
    team, client_for, forest, django_assert_num_queries
):
    client = client_for(team.viewer)
    client.post(f"/api/models/{forest.pk}/predict", {"rows": _rows(1)}, format="json")  # loads
    with django_assert_num_queries(2) as context:
        response = client.post(
            f"/api/models/{forest.pk}/predict",
            {"rows": _rows(3)},
            format="json",
            REMOTE_ADDR="198.51.100.4",
        )
    assert response.status_code == 200, response.content
    assert "role" in context.captured_queries[0]["sql"]
    assert "INSERT" in context.captured_queries[1]["sql"]
    # The rows are patients' data: who predicted, from where, and how many rows.
    event = AuditEvent.objects.filter(action="model.predict").latest("created_at")
    assert (event.user, event.remote_addr) == (team.viewer, "198.51.100.4")
    assert event.object_id == str(forest.pk) and event.detail == {"rows": 3}


def test_predict_regression_has_no_probabilities(team, client_for):
    model = register_result(team, engine_result("linear_regression", "regression"), name="LOS")
    response = client_for(team.viewer).post(
        f"/api/models/{model.pk}/predict", {"rows": _rows(2)}, format="json"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"predictions", "warnings"}
    assert all(isinstance(value, float) for value in response.json()["predictions"])


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([{"age": 50, "bmi": 20, "sex": "F", "smoker": True}], "missing column(s): stage"),
        (
            [{"age": "old", "bmi": 20, "sex": "F", "smoker": True, "stage": 1}],
            "'age' expects number",
        ),
        (
            [{"age": 50, "bmi": 20, "sex": "F", "smoker": True, "stage": "II"}],
            "'stage' expects number",
        ),
        (
            [{"age": 50, "bmi": 20, "sex": ["F"], "smoker": True, "stage": 1}],
            "'sex' expects category",
        ),
        (["not an object"], "are not objects"),
    ],
)
def test_predict_names_bad_columns(team, client_for, forest, rows, fragment):
    response = client_for(team.viewer).post(
        f"/api/models/{forest.pk}/predict", {"rows": rows}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert fragment in body["detail"]


def test_predict_refuses_bad_bodies(team, client_for, forest):
    client = client_for(team.viewer)
    url = f"/api/models/{forest.pk}/predict"
    assert client.post(url, {"rows": []}, format="json").status_code == 400
    assert client.post(url, {"rows": "x"}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 400
    too_many = {"rows": [{"age": 1}] * 10_001}
    response = client.post(url, too_many, format="json")
    assert response.status_code == 400 and "rows" in response.json()


def test_predict_accepts_nulls_and_extra_keys(team, client_for, forest):
    row = {"age": None, "bmi": None, "sex": None, "smoker": None, "stage": None, "note": "x"}
    response = client_for(team.viewer).post(
        f"/api/models/{forest.pk}/predict", {"rows": [row]}, format="json"
    )
    assert response.status_code == 200, response.content


# --- card and graph ------------------------------------------------------------------------


def test_card_json_and_markdown(team, client_for, forest):
    client = client_for(team.editor)
    client.patch(f"/api/models/{forest.pk}", {"intended_use": "Flag | sepsis"}, format="json")
    card = client.get(f"/api/models/{forest.pk}/card").json()
    assert card["intended_use"] == "Flag | sepsis"
    assert card["training_data"]["target_balance"] == {"sick": 120, "well": 120}
    assert card["decision_threshold"] == forest.threshold
    # The operating point and what was left out, as the run recorded them.
    assert card["positive_class"] == "sick" and card["threshold_rule"] == "youden"
    assert card["excluded_columns"] == forest.extra.get("excluded_columns", [])
    assert card["lineage"]["seed"] == 42
    assert "scikit-learn" in card["lineage"]["libraries"]
    assert card["metrics"] and card["lineage"]["hyperparameters"]["n_estimators"] == 12
    response = client.get(f"/api/models/{forest.pk}/card?format=md")
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("# Model card: Sepsis risk v1")
    assert "Flag \\| sepsis" in text and "## Limitations" in text and "| accuracy |" in text
    assert client.get(f"/api/models/{forest.pk}/card", HTTP_ACCEPT="text/markdown")[
        "Content-Type"
    ].startswith("text/markdown")


def test_graph_of_forest_and_network(team, client_for, forest):
    client = client_for(team.viewer)
    graph = client.get(f"/api/models/{forest.pk}/graph").json()
    assert {node["type"] for node in graph["nodes"]} >= {"feature", "ensemble", "output"}
    assert all({"from", "to", "weight"} <= set(edge) for edge in graph["edges"])
    mlp = register_result(team, engine_result("neural_network", "classification"), name="Net")
    graph = client.get(f"/api/models/{mlp.pk}/graph").json()
    assert [node["type"] for node in graph["nodes"]] == ["input", "hidden", "hidden", "output"]
    assert all(edge["weight"] > 0 for edge in graph["edges"])
