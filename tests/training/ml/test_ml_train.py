"""train(): every model type x task, metrics cross-checked against scikit-learn's own
functions on the pipeline's predictions for the held-out rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    matthews_corrcoef,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from training.ml import TrainConfig, train

from .test_ml_preprocessing import PROFILE_FLAGS

# Small settings: the whole engine suite has to stay well under 90 s on two cores.
FAST = {
    "logistic_regression": {"max_iter": 200},
    "linear_regression": {},
    "decision_tree": {"max_depth": 6},
    "random_forest": {"n_estimators": 12, "max_depth": 8},
    "gradient_boosting": {"max_iter": 15},
    "neural_network": {"epochs": 4, "hidden_layers": [32, 16], "batch_size": 64},
}
STAGES = {
    "logistic_regression": None,
    "linear_regression": 1,
    "decision_tree": 1,
    "random_forest": 10,
    "gradient_boosting": 10,
    "neural_network": 4,
}
CASES = [
    ("breast_cancer", "logistic_regression"),
    ("breast_cancer", "decision_tree"),
    ("breast_cancer", "random_forest"),
    ("breast_cancer", "gradient_boosting"),
    ("breast_cancer", "neural_network"),
    ("digits", "logistic_regression"),
    ("digits", "decision_tree"),
    ("digits", "random_forest"),
    ("digits", "gradient_boosting"),
    ("digits", "neural_network"),
    ("diabetes", "linear_regression"),
    ("diabetes", "decision_tree"),
    ("diabetes", "random_forest"),
    ("diabetes", "gradient_boosting"),
    ("diabetes", "neural_network"),
]


def held_out(df: pd.DataFrame, result, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    rows = df.loc[result.split_index["test"]]
    return rows.drop(columns=[target]), rows[target].to_numpy()


def check_classification(result, X_test, y_test):
    pipeline = result.pipeline
    classes = pipeline.classes_
    assert [*classes] == result.class_labels
    predicted = pipeline.predict(X_test)
    proba = pipeline.predict_proba(X_test)
    metrics = result.metrics
    assert metrics["n_test"] == len(y_test) == result.n_test
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_test, predicted))
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_test, predicted))
    assert metrics["f1_macro"] == pytest.approx(f1_score(y_test, predicted, average="macro"))
    assert metrics["mcc"] == pytest.approx(matthews_corrcoef(y_test, predicted))
    assert metrics["log_loss"] == pytest.approx(log_loss(y_test, proba, labels=classes))
    assert (
        result.confusion_matrix["matrix"]
        == confusion_matrix(y_test, predicted, labels=classes).tolist()
    )
    rows = np.asarray(result.confusion_matrix["normalized"])
    assert np.allclose(rows.sum(axis=1), 1.0)
    per_class = metrics["per_class"][str(classes[0])]
    assert per_class["recall"] == pytest.approx(
        recall_score(y_test, predicted, labels=[classes[0]], average="macro")
    )
    if len(classes) == 2:
        positive = result.positive_class
        index = [*classes].index(positive)
        truth = y_test == positive
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, proba[:, index]))
        assert metrics["average_precision"] == pytest.approx(
            average_precision_score(truth, proba[:, index])
        )
        assert metrics["brier_score"] == pytest.approx(brier_score_loss(truth, proba[:, index]))
        assert metrics["sensitivity"] == pytest.approx(
            recall_score(y_test, predicted, pos_label=positive)
        )
        negative = classes[1 - index]
        assert metrics["specificity"] == pytest.approx(
            recall_score(y_test, predicted, pos_label=negative)
        )
        assert metrics["precision"] == pytest.approx(
            precision_score(y_test, predicted, pos_label=positive, zero_division=0)
        )
        assert result.roc_curve["auc"] == pytest.approx(metrics["roc_auc"])
        assert result.roc_curve["positive_class"] == positive
        assert result.threshold["chosen_on"] == "out_of_fold"
        assert 0.0 <= result.threshold["value"] <= 1.0
    else:
        assert metrics["roc_auc"] == pytest.approx(
            roc_auc_score(y_test, proba, multi_class="ovr", average="macro", labels=classes)
        )
        assert metrics["roc_auc_micro"] == pytest.approx(
            roc_auc_score(pd.get_dummies(y_test).to_numpy(), proba, average="micro")
        )
        assert metrics["brier_score"] == pytest.approx(
            brier_score_loss(y_test, proba, labels=classes)
        )
        assert set(result.roc_curve["per_class"]) == {str(c) for c in classes}
        assert result.threshold is None
    for curve in (result.roc_curve["fpr"], result.pr_curve["precision"]):
        assert 2 <= len(curve) <= 200


def check_regression(result, X_test, y_test):
    predicted = result.pipeline.predict(X_test)
    metrics = result.metrics
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y_test, predicted))
    assert metrics["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y_test, predicted)))
    assert metrics["r2"] == pytest.approx(r2_score(y_test, predicted))
    residuals = y_test - predicted
    assert result.residuals["mean"] == pytest.approx(residuals.mean())
    assert result.residuals["quantiles"]["0.5"] == pytest.approx(np.median(residuals))
    sample = result.predictions_sample
    assert len(sample["actual"]) == len(sample["predicted"]) == min(200, len(y_test))
    assert set(sample["actual"]) <= set(y_test.tolist())
    assert result.confusion_matrix is None and result.roc_curve is None


@pytest.mark.parametrize(("dataset", "model_type"), CASES)
def test_every_model_and_task(request, dataset, model_type):
    df = request.getfixturevalue(dataset)
    epochs, stages = [], []
    result = train(
        df,
        TrainConfig(target="target", model_type=model_type, hyperparameters=FAST[model_type]),
        on_epoch=epochs.append,
        on_stage=stages.append,
    )
    assert result.status == "succeeded"
    assert result.task == ("regression" if dataset == "diabetes" else "classification")
    assert result.n_train + result.n_val + result.n_test == len(df)
    assert result.n_test == pytest.approx(0.2 * len(df), abs=1)
    X_test, y_test = held_out(df, result, "target")
    if result.task == "classification":
        check_classification(result, X_test, y_test)
        keys = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    else:
        check_regression(result, X_test, y_test)
        keys = {"epoch", "loss", "val_loss", "mae", "val_mae"}

    # One on_epoch and one on_stage per stage: every model has a training curve.
    expected = STAGES[model_type] or len(epochs)
    assert len(epochs) == len(stages) == expected >= 1
    assert all(set(row) == keys for row in epochs)
    assert [s["stage"] for s in stages] == list(range(1, expected + 1))
    assert stages[-1]["fraction"] == 1.0
    assert all(0 < s["fraction"] <= 1 for s in stages)
    history = result.training_history
    assert history["epochs"] == [row["epoch"] for row in epochs]
    assert history["val_loss"] == [row["val_loss"] for row in epochs]
    second = "accuracy" if result.task == "classification" else "mae"
    assert history[f"train_{second}"] == [row[second] for row in epochs]

    importance = result.feature_importance
    assert set(importance["features"]) <= set(df.columns) - {"target"}
    assert importance["scores"] == sorted(importance["scores"], reverse=True)
    expected_method = {
        "gradient_boosting": "permutation",
        "neural_network": "permutation",
        "logistic_regression": "coefficient",
        "linear_regression": "coefficient",
    }.get(model_type, "impurity")
    assert importance["method"] == expected_method
    assert result.graph["nodes"] and result.graph["edges"]
    json.dumps(result.to_dict(), allow_nan=False)


def test_generated_clinical_data(clinical):
    """Missing values, categoricals, an imbalanced target, identifiers, a constant column."""
    result = train(
        clinical,
        TrainConfig(
            target="readmitted",
            model_type="random_forest",
            hyperparameters={"n_estimators": 20},
            features=None,
            group_column="site",
            identifiers=PROFILE_FLAGS,
        ),
    )
    dropped = {d["name"] for d in result.excluded_columns}
    assert dropped == {"patient_id", "full_name", "contact", "dob", "lab_unit"}
    assert [f["name"] for f in result.feature_schema] == [
        "age",
        "bmi",
        "sex",
        "smoker",
        "ward",
        "site",
        "length_of_stay",
    ]
    assert {f["name"]: f["kind"] for f in result.feature_schema}["smoker"] == "categorical"
    assert set(result.feature_importance["features"]) == {f["name"] for f in result.feature_schema}
    # "yes" names the event.
    assert result.positive_class == "yes" and result.class_labels == ["no", "yes"]

    X_test, y_test = held_out(clinical, result, "readmitted")
    check_classification(result, X_test, y_test)
    threshold = result.threshold
    score = result.pipeline.predict_proba(X_test)[:, 1]
    tuned = np.where(score >= threshold["value"], "yes", "no")
    assert threshold["metrics"]["sensitivity"] == pytest.approx(
        recall_score(y_test, tuned, pos_label="yes")
    )
    assert threshold["metrics"]["specificity"] == pytest.approx(
        recall_score(y_test, tuned, pos_label="no")
    )
    assert (
        threshold["confusion_matrix"]["matrix"]
        == confusion_matrix(y_test, tuned, labels=["no", "yes"]).tolist()
    )

    groups = result.subgroup_metrics
    assert groups["column"] == "site"
    assert sum(g["n"] for g in groups["groups"]) == result.n_test
    predicted = result.pipeline.predict(X_test)
    for group in groups["groups"]:
        mask = X_test["site"].to_numpy() == group["value"]
        assert group["n"] == mask.sum()
        assert group["accuracy"] == pytest.approx(accuracy_score(y_test[mask], predicted[mask]))


def test_pipeline_predicts_raw_rows_with_unseen_and_missing_values(clinical):
    config = TrainConfig(
        target="readmitted", model_type="logistic_regression", identifiers=PROFILE_FLAGS
    )
    result = train(clinical, config)
    rows = pd.DataFrame(
        [
            {
                "age": 71,
                "bmi": None,
                "sex": "X",
                "smoker": True,
                "ward": "oncology",
                "site": "west",
                "length_of_stay": 4.5,
            },
            {
                "age": None,
                "bmi": 31.0,
                "sex": None,
                "smoker": False,
                "ward": None,
                "site": None,
                "length_of_stay": None,
            },
        ]
    )
    predicted = result.pipeline.predict(rows)
    assert set(predicted) <= {"no", "yes"}
    proba = result.pipeline.predict_proba(rows)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1.0)
    # Unused raw columns (identifiers) may come along and are ignored.
    extra = rows.assign(patient_id=[1, 2], contact=["a@b.org", "c@d.org"])
    assert np.array_equal(result.pipeline.predict(extra), predicted)


def test_preprocessing_is_fitted_on_the_training_rows_only(clinical):
    result = train(
        clinical,
        TrainConfig(
            target="length_of_stay", model_type="linear_regression", features=["age", "bmi", "ward"]
        ),
    )
    scaler = result.pipeline.named_steps["preprocess"].named_transformers_["numeric"][-1]
    train_rows = clinical.loc[result.split_index["train"], "age"]
    assert scaler.mean_[0] == pytest.approx(train_rows.fillna(train_rows.median()).mean())
    assert scaler.mean_[0] != pytest.approx(
        clinical["age"].fillna(clinical["age"].median()).mean(), abs=1e-9
    )


def test_regression_with_categoricals_and_group(clinical):
    result = train(
        clinical,
        TrainConfig(
            target="length_of_stay",
            model_type="gradient_boosting",
            hyperparameters={"max_iter": 20},
            group_column="ward",
        ),
    )
    assert result.task == "regression"
    X_test, y_test = held_out(clinical, result, "length_of_stay")
    check_regression(result, X_test, y_test)
    values = [g["value"] for g in result.subgroup_metrics["groups"]]
    assert None in values  # missing ward values form their own group
    assert "readmitted" in {f["name"] for f in result.feature_schema}


def test_identifiers_are_kept_when_asked(clinical):
    result = train(
        clinical,
        TrainConfig(
            target="readmitted",
            model_type="decision_tree",
            include_identifiers=True,
            identifiers=PROFILE_FLAGS,
        ),
    )
    used = {f["name"] for f in result.feature_schema}
    assert {"patient_id", "full_name", "contact"} <= used
    assert {d["name"] for d in result.excluded_columns} == {"dob", "lab_unit"}


def test_rows_without_target_are_left_out_and_reported(breast_cancer):
    df = breast_cancer.astype({"target": float})
    df.loc[df.index[:25], "target"] = np.nan
    result = train(df, TrainConfig(target="target", model_type="decision_tree"))
    assert result.n_rows_without_target == 25
    assert result.n_train + result.n_val + result.n_test == len(df) - 25
    assert result.class_labels == [0, 1]  # integer-like floats become integer labels
    assert any("25 rows" in note for note in result.warnings)


def test_positive_class_can_be_chosen(breast_cancer):
    result = train(
        breast_cancer,
        TrainConfig(target="target", model_type="logistic_regression", positive_class="0"),
    )
    assert result.positive_class == 0  # malignant, in scikit-learn's coding
    assert result.roc_curve["positive_class"] == 0
    assert result.metrics["positive_class"] == result.threshold["positive_class"] == 0
    default = train(breast_cancer, TrainConfig(target="target", model_type="logistic_regression"))
    assert default.positive_class == 1  # the label "1" names the event, whatever its count


@pytest.mark.parametrize(
    "model_type", ["logistic_regression", "decision_tree", "random_forest", "gradient_boosting"]
)
def test_stage_metrics_describe_the_model_at_that_stage(digits, model_type):
    """The last stage's numbers are the final model's, on the rows they claim to use
    (digits: more training rows than the 1,000-row stage sample)."""
    epochs = []
    result = train(
        digits,
        TrainConfig(target="target", model_type=model_type, hyperparameters=FAST[model_type]),
        on_epoch=epochs.append,
    )
    last = epochs[-1]
    val = digits.loc[result.split_index["val"][:1000]]
    proba = result.pipeline.predict_proba(val.drop(columns="target"))
    assert last["val_accuracy"] == accuracy_score(val["target"], result.pipeline.predict(val))
    if model_type in ("logistic_regression", "gradient_boosting"):  # no hard 0/1 probabilities
        assert last["val_loss"] == pytest.approx(log_loss(val["target"], proba, labels=range(10)))
    # Training rows scored against other rows' labels would sit near 0.1 on ten classes.
    assert last["accuracy"] > 0.75
    if model_type == "gradient_boosting":  # HGB's own subsample: all training rows, in order
        rows = digits.loc[result.split_index["train"][:1000]]
        assert last["accuracy"] == accuracy_score(rows["target"], result.pipeline.predict(rows))
