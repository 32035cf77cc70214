"""Predict's fast path gives the pipeline's own numbers, and steps aside when it can't."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from mlmodels import fastpath
from mlmodels.features import rows_to_frame, schema_normalise
from mlmodels.loading import LoadedModel
from training.ml import MODEL_TYPES

from .conftest import TARGETS, clinical_frame, engine_result, json_rows

CASES = [(model_type, task) for model_type, tasks in MODEL_TYPES.items() for task in tasks]


def _loaded(result) -> LoadedModel:
    summary = result.to_dict()
    return LoadedModel(
        pipeline=result.pipeline,
        task=result.task,
        feature_schema=schema_normalise(summary["feature_schema"]),
        classes=summary.get("class_labels"),
    )


def _request_frame(schema) -> object:
    features = clinical_frame(n=300, seed=11).drop(columns=list(TARGETS.values()))
    features.loc[::7, ["bmi", "sex"]] = [None, None]  # imputers
    features.loc[::5, "sex"] = "X"  # a category never seen in training
    return rows_to_frame(json_rows(features), schema)


@pytest.mark.parametrize(("model_type", "task"), CASES)
def test_every_engine_model_takes_the_fast_path_with_identical_numbers(model_type, task):
    result = engine_result(model_type, task)
    model = _loaded(result)
    assert model._compiled is not None, "engine pipelines should all compile"
    frame = _request_frame(model.feature_schema)
    inputs = frame[model.input_columns]
    if task == "classification":
        assert np.array_equal(model.predict_proba(frame), result.pipeline.predict_proba(inputs))
    else:
        assert np.array_equal(model.predict(frame), result.pipeline.predict(inputs))
    # And through the API's entry point, for one row as a client sends it.
    one = frame.head(1)
    answer = model.predict_rows(json_rows(one))
    if task == "classification":
        expected = np.round(result.pipeline.predict_proba(one[model.input_columns]), 6)
        assert answer["probabilities"] == expected.tolist()
    else:
        assert answer["predictions"] == result.pipeline.predict(one[model.input_columns]).tolist()


def test_a_pipeline_of_another_shape_is_served_as_it_is():
    frame = clinical_frame(n=120)
    X, y = frame[["age", "bmi"]].fillna(0), frame["outcome"]
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    model = LoadedModel(
        pipeline=pipeline,
        task="classification",
        feature_schema=schema_normalise({"age": "number", "bmi": "number"}),
        classes=list(pipeline.classes_),
    )
    assert model._compiled is None
    rows = json_rows(X.head(5))
    assert model.predict_rows(rows)["predictions"] == list(pipeline.predict(X.head(5)))


def test_pandas_output_and_passthrough_columns_are_left_to_scikit_learn():
    frame = clinical_frame(n=120)
    X, y = frame[["age", "stage"]], frame["outcome"]
    passthrough = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer([("age", StandardScaler(), ["age"])], remainder="passthrough"),
            ),
            ("estimator", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(X, y)
    assert fastpath.compile_pipeline(passthrough, X.head(2)) is None
    pandas_out = Pipeline(
        [
            ("preprocess", ColumnTransformer([("age", StandardScaler(), ["age", "stage"])])),
            ("estimator", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).set_output(transform="pandas")
    pandas_out.fit(X, y)
    assert fastpath.compile_pipeline(pandas_out, X.head(2)) is None


def test_a_fast_path_that_disagrees_with_the_pipeline_is_turned_off(monkeypatch):
    result = engine_result("random_forest", "classification")
    real = fastpath._forest_methods

    def skewed(final):
        proba, predict = real(final)
        return (lambda X: proba(X)[:, ::-1]), predict

    monkeypatch.setattr(fastpath, "_forest_methods", skewed)
    model = _loaded(result)
    assert model._compiled is None
    frame = _request_frame(model.feature_schema)
    assert np.array_equal(
        model.predict_proba(frame), result.pipeline.predict_proba(frame[model.input_columns])
    )
