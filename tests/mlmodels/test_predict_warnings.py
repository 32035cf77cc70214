"""Predict tells what it did (issue #16, point 6): per-row warnings for what it accepted
but could not use as sent, and a binary classifier's operating point."""

from __future__ import annotations

import jsonschema
import pytest

from datasets.services import dataset_delete, dataset_ingest
from mlmodels import services
from mlmodels.services import model_cache
from tests.training.test_contracts import strict

from .conftest import clinical_frame, engine_result

pytestmark = pytest.mark.django_db

CLEAN = {"age": 61.0, "bmi": 27.0, "sex": "F", "smoker": True, "stage": 2}


def predict(client, model, rows):
    response = client.post(f"/api/models/{model.pk}/predict", {"rows": rows}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_each_row_lists_what_the_model_could_not_use(team, client_for, forest):
    rows = [
        CLEAN,
        {**CLEAN, "sex": "X"},
        {**CLEAN, "sex": " f "},
        {**CLEAN, "ward": "icu", "note": None},
        {**CLEAN, "sex": None, "smoker": False},  # missing and a known boolean: nothing
    ]
    body = predict(client_for(team.viewer), forest, rows)
    warnings = body["warnings"]
    assert len(warnings) == len(rows) == len(body["predictions"])
    assert warnings[0] == [] and warnings[4] == []
    [unseen] = warnings[1]
    assert unseen["code"] == "unseen_category"
    assert (unseen["column"], unseen["value"]) == ("sex", "X")
    assert "'X'" in unseen["message"]
    [case] = warnings[2]
    # Not remapped: said, with the category it resembles.
    assert (case["code"], case["column"], case["value"], case["known"]) == (
        "category_case",
        "sex",
        " f ",
        "F",
    )
    assert body["predictions"][2] == body["predictions"][1]  # both read as unseen
    assert [(w["code"], w["column"]) for w in warnings[3]] == [
        ("ignored_column", "note"),
        ("ignored_column", "ward"),
    ]


def _register(team, *, schema=None, dataset=None, threshold=None, extra_threshold=None):
    result = engine_result("random_forest", "classification")
    summary = result.to_dict()
    return services.model_register(
        workspace=team.workspace,
        user=team.editor,
        name="Sepsis risk",
        pipeline=result.pipeline,
        framework="sklearn",
        task="classification",
        feature_schema=schema if schema is not None else summary["feature_schema"],
        target="outcome",
        class_labels=summary["class_labels"],
        metrics={},
        hyperparameters={},
        dataset=dataset,
        threshold=threshold,
        extra={"threshold": extra_threshold, "positive_class": "sick"},
    )


def test_numbers_outside_the_stored_training_range_are_flagged(team, client_for):
    schema = [
        {**entry, "min": 30.0, "max": 90.0} if entry["name"] == "age" else entry
        for entry in engine_result("random_forest", "classification").to_dict()["feature_schema"]
    ]
    model = _register(team, schema=schema)
    assert {"name": "age", "type": "number", "nullable": True, "min": 30.0, "max": 90.0} in (
        model.feature_schema
    )
    rows = [{**CLEAN, "age": 91.5}, {**CLEAN, "age": 30}, {**CLEAN, "age": None}]
    warnings = predict(client_for(team.viewer), model, [*rows, {**CLEAN, "age": 12}])["warnings"]
    assert warnings[1:3] == [[], []]
    assert [
        (w["code"], w["column"], w["value"], w["min"], w["max"]) for w in warnings[0] + warnings[3]
    ] == [("out_of_range", "age", 91.5, 30.0, 90.0), ("out_of_range", "age", 12.0, 30.0, 90.0)]


def test_the_training_range_is_kept_with_the_model_once_the_dataset_is_gone(
    team, client_for, tmp_path
):
    frame = clinical_frame()
    path = tmp_path / "clinic.csv"
    frame.to_csv(path, index=False)
    dataset = dataset_ingest(
        user=team.owner, workspace=team.workspace, source=str(path), name="clinic"
    )
    model = _register(team, dataset=dataset)
    dataset_delete(dataset=dataset, user=team.owner)
    model_cache.clear()
    rows = [{**CLEAN, "age": frame.age.max() + 1, "bmi": frame.bmi.min() - 1}]
    [warnings] = predict(client_for(team.viewer), model, rows)["warnings"]
    assert [(w["column"], w["min"], w["max"]) for w in warnings] == [
        ("age", frame.age.min(), frame.age.max()),
        ("bmi", pytest.approx(frame.bmi.min()), pytest.approx(frame.bmi.max())),
    ]


@pytest.mark.parametrize(
    ("threshold", "stored", "expected"),
    [
        (0.3, {"value": 0.3, "rule": "sensitivity>=0.9"}, (0.3, "sick", "sensitivity>=0.9")),
        (0.4, {"value": 0.4, "method": "youden_j"}, (0.4, "sick", "youden")),  # older models
        (None, None, (None, "sick", None)),  # no threshold: the most probable class decides
    ],
)
def test_a_binary_classifier_states_its_operating_point(
    team, client_for, threshold, stored, expected
):
    model = _register(team, threshold=threshold, extra_threshold=stored)
    body = predict(client_for(team.viewer), model, [CLEAN])
    assert (body["threshold"], body["positive_class"], body["threshold_rule"]) == expected


def test_the_predict_body_matches_its_openapi_component(team, client_for, forest):
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]
    components = {name: strict(node) for name, node in components["schemas"].items()}
    rows = [CLEAN, {**CLEAN, "sex": "x", "extra": 1}, {**CLEAN, "sex": "Z"}]
    model = _register(team, schema=[{**e, "min": 0, "max": 1} for e in forest.feature_schema])
    for body in (predict(client_for(team.viewer), m, rows) for m in (forest, model)):
        assert any(body["warnings"])
        schema = {**components["PredictOutput"], "$defs": components}
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
