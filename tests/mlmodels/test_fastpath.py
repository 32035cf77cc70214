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


def _odd_cells_frame(model) -> object:
    """Rows a client may send: categories as other JSON types, unseen, missing; numbers
    missing or given as integers."""
    base = json_rows(clinical_frame(n=8, seed=5).drop(columns=list(TARGETS.values())))
    odd = [
        {"sex": 1, "smoker": "True"},
        {"sex": True, "smoker": 1},
        {"sex": 1.5, "smoker": None, "age": None, "bmi": None},
        {"sex": "X", "smoker": False, "stage": 9},
        {"sex": None, "smoker": "false", "age": 200},
        {"sex": "M", "smoker": 0.0, "bmi": -3},
    ]
    rows = [{**row, **change} for row, change in zip(base, odd, strict=False)]
    return rows_to_frame(rows, model.feature_schema)


@pytest.mark.parametrize("model_type", ["random_forest", "neural_network", "logistic_regression"])
def test_cells_of_every_json_type_get_the_pipelines_numbers(model_type):
    result = engine_result(model_type, "classification")
    model = _loaded(result)
    assert model._compiled is not None
    frame = _odd_cells_frame(model)
    expected = result.pipeline.predict_proba(frame[model.input_columns])
    assert np.array_equal(model.predict_proba(frame), expected)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    assert np.array_equal(model.predict_proba(columns), expected)


def test_the_engines_column_pipelines_are_not_called_at_predict_time(monkeypatch):
    result = engine_result("random_forest", "classification")
    model = _loaded(result)
    frame = _odd_cells_frame(model)
    expected = result.pipeline.predict_proba(frame[model.input_columns])

    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn's transform ran")

    monkeypatch.setattr(Pipeline, "transform", refuse)
    monkeypatch.setattr(ColumnTransformer, "transform", refuse)
    assert np.array_equal(model.predict_proba(frame), expected)


def test_the_check_covers_every_category_of_every_table():
    result = engine_result("random_forest", "classification")
    model = _loaded(result)
    _, categories = fastpath._column_transform(result.pipeline.steps[0][1])
    assert set(categories) == {"sex", "smoker"}
    probe = fastpath._with_every_category(model._probe(), categories)
    assert {"F", "M"} <= set(probe["sex"].dropna())
    assert {"True", "False"} <= {str(value) for value in probe["smoker"].dropna()}


def test_a_table_that_disagrees_turns_the_fast_path_off(monkeypatch):
    result = engine_result("random_forest", "classification")
    real = fastpath._category_table

    def swapped(transformer, columns):
        transform = real(transformer, columns)
        if transform is None:
            return None

        def wrong(data):
            return transform(data)[:, ::-1]

        wrong.categories = transform.categories
        return wrong

    monkeypatch.setattr(fastpath, "_category_table", swapped)
    assert _loaded(result)._compiled is None


def test_an_encoder_that_refuses_unknown_categories_is_left_to_scikit_learn():
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    from training.ml.preprocessing import categories_as_text

    frame = clinical_frame(n=60)
    strict = Pipeline(
        [
            ("text", FunctionTransformer(categories_as_text, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="error", sparse_output=False)),
        ]
    ).fit(frame[["sex"]])
    assert fastpath._category_table(strict, ["sex"]) is None
    scaled = make_pipeline(StandardScaler(with_mean=False)).fit(frame[["age"]])
    numbers = fastpath._numeric_steps(scaled, ["age"])
    assert np.array_equal(numbers(frame), scaled.transform(frame[["age"]]))
