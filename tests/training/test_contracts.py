"""The OpenAPI schema describes what the endpoints really send: real runs of every kind
(binary, multi-class, regression; linear, tree, boosting, network) are fetched and
each body is validated against its component, with no undeclared key allowed.
And `GET /api/train/model-types` is the engine's specs, exactly."""

from __future__ import annotations

import copy

import jsonschema
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from training.ml.config import HYPERPARAMETERS, MODEL_TYPES, check_hyperparameters
from training.models import RunStatus, TrainingRun
from training.serializers import MODEL_TYPES as START_MODEL_TYPES

from .conftest import _ingest

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return {name: strict(node) for name, node in schema["components"]["schemas"].items()}


def strict(node):
    """An OpenAPI 3.0 schema as JSON Schema: `nullable` as a null option, and objects
    that declare properties closed to any other key."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    properties = node.get("properties", {})
    node = {key: strict(value) for key, value in node.items() if key != "properties"}
    if properties:
        node["properties"] = {name: strict(value) for name, value in properties.items()}
    if "$ref" in node:
        node["$ref"] = "#/$defs/" + node["$ref"].rsplit("/", 1)[-1]
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def check(components, name: str, body) -> None:
    schema = {**components[name], "$defs": components}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def train(client, dataset, capture, **config):
    payload = {"dataset": str(dataset.pk), **config}
    with capture(execute=True):
        response = client.post("/api/train/start", payload, format="json")
    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


@pytest.fixture
def iris(team, tmp_path):
    data = load_iris(as_frame=True)
    frame = data.data.copy()
    frame["species"] = np.asarray(data.target_names)[data.target]
    frame["site"] = np.where(np.arange(len(frame)) % 3 == 0, "north", None)
    return _ingest(team, frame, "iris", tmp_path)


@pytest.fixture
def cancer_sites(team, cancer_frame, tmp_path):
    frame = cancer_frame.copy()
    frame["site"] = pd.Series(np.arange(len(frame)) % 4).map({0: "a", 1: "b", 2: "c", 3: None})
    return _ingest(team, frame, "cancer_sites", tmp_path)


RUNS = [
    (
        "cancer_sites",
        {
            "model_type": "logistic_regression",
            "group_column": "site",
            "positive_class": "malignant",
            "cv_folds": 3,
        },
    ),
    (
        "cancer_sites",
        {
            "model_type": "neural_network",
            "positive_class": "malignant",
            "hyperparameters": {"hidden_layers": [8], "epochs": 3},
        },
    ),
    ("iris", {"model_type": "decision_tree", "target": "species", "group_column": "site"}),
    ("iris", {"model_type": "gradient_boosting", "hyperparameters": {"max_iter": 5}}),
    ("diabetes", {"model_type": "random_forest", "hyperparameters": {"n_estimators": 5}}),
    ("diabetes", {"model_type": "linear_regression", "group_column": "sex"}),
]
TARGETS = {"cancer_sites": "diagnosis", "iris": "species", "diabetes": "progression"}


@pytest.mark.parametrize(("dataset_name", "config"), RUNS)
def test_every_run_body_matches_its_component(
    team, client_for, components, request, django_capture_on_commit_callbacks, dataset_name, config
):
    dataset = request.getfixturevalue(dataset_name)
    client = client_for(team.owner)
    config = {"target": TARGETS[dataset_name], **config}
    run = train(client, dataset, django_capture_on_commit_callbacks, **config)
    bodies = {
        "RunResults": f"/api/train/results/{run.pk}",
        "RunStatus": f"/api/train/status/{run.pk}",
        "Run": f"/api/train/{run.pk}",
        "MetricsHistory": f"/api/viz/metrics/{run.pk}",
        "ModelGraph": f"/api/viz/graph/{run.pk}",
        "ModelArtifact": f"/api/models/{run.model_id}",
        "ModelCard": f"/api/models/{run.model_id}/card",
    }
    if run.task == "classification":
        bodies["ConfusionMatrix"] = f"/api/viz/confusion/{run.pk}"
        bodies["RocCurve"] = f"/api/viz/roc/{run.pk}"
    for component, path in bodies.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        check(components, component, response.json())
    results = client.get(bodies["RunResults"]).json()
    if "group_column" in config:
        assert results["subgroup_metrics"]["groups"]
    if run.task == "classification" and len(results["confusion_matrix"]["labels"]) == 2:
        assert {"sensitivity", "specificity", "brier_score"} <= set(results["metrics"])
        assert results["threshold"]["method"] == "youden_j"
    check(components, "Dataset", client.get(f"/api/data/{dataset.pk}").json())


def test_a_broken_body_fails_the_check(components):
    with pytest.raises(jsonschema.ValidationError):
        check(components, "ConfusionMatrix", {"labels": [1], "matrix": [["1"]], "normalized": []})
    with pytest.raises(jsonschema.ValidationError):  # an undeclared key
        check(components, "LatestMetrics", {"epoch": 1, "loss": 0.1, "surprise": 1})


# --- GET /api/train/model-types --------------------------------------------------------


def test_model_types_needs_a_signed_in_user(client_for, team):
    assert client_for(None).get("/api/train/model-types").status_code == 401
    assert client_for(team.outsider).get("/api/train/model-types/").status_code == 200


def test_model_types_are_the_engines_specs_exactly(client_for, team, components):
    body = client_for(team.viewer).get("/api/train/model-types").json()
    check(components, "ModelTypes", body)
    by_type = {entry["model_type"]: entry for entry in body["model_types"]}
    assert list(by_type) == list(MODEL_TYPES)
    assert set(START_MODEL_TYPES) == set(MODEL_TYPES)  # the start form's choices
    for model_type, tasks in MODEL_TYPES.items():
        entry = by_type[model_type]
        assert entry["tasks"] == list(tasks)
        params = {p["name"]: p for p in entry["hyperparameters"]}
        assert list(params) == list(HYPERPARAMETERS[model_type])
        for name, spec in HYPERPARAMETERS[model_type].items():
            param = params[name]
            applies = [task for task in tasks if task in spec.tasks]
            assert param["tasks"] == applies
            assert param["kind"] == spec.kind
            assert (param["minimum"], param["maximum"]) == (spec.minimum, spec.maximum)
            assert param["exclusive_minimum"] == spec.exclusive_minimum
            assert param["exclusive_maximum"] == spec.exclusive_maximum
            assert param["nullable"] == spec.nullable
            assert param["help"] == spec.help
            for task in applies:
                default = spec.default_for(task)
                expected = list(default) if isinstance(default, tuple) else default
                assert param["default"][task] == expected
                assert param["choices"][task] == list(spec.choices_for(task))


def test_every_default_passes_the_engines_validation(client_for, team):
    body = client_for(team.owner).get("/api/train/model-types").json()
    for entry in body["model_types"]:
        for param in entry["hyperparameters"]:
            for task, default in param["default"].items():
                check_hyperparameters(entry["model_type"], task, {param["name"]: default})
                for choice in param["choices"][task]:
                    check_hyperparameters(entry["model_type"], task, {param["name"]: choice})
