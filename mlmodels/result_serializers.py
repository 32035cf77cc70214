"""The engine's evaluation artefacts as the API returns them (documentation only).

A run's results (`GET /api/train/results/{id}`, the viz endpoints) and a registered
model (`GET /api/models/{id}`, its card) carry the same metrics, curves and subgroup
tables that `training/ml/evaluation.py` makes; they are declared once here, in the
lower app, so both read the same shapes. The views return the stored JSON as it is:
these serializers describe it for the OpenAPI schema and the web app's generated
types, field for field with the engine's code. A key that only some runs have
(binary-only metrics, the multi-class curves) is optional, not nullable.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collaboration.serializers import SCALAR_SCHEMA, ScalarField


def _number(**kwargs) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, **kwargs)


def _optional_number(help_text: str = "") -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, required=False, help_text=help_text)


def _numbers(**kwargs) -> serializers.ListField:
    """A curve's values; NaN and infinities are stored as null."""
    return serializers.ListField(child=serializers.FloatField(allow_null=True), **kwargs)


def _label(**kwargs) -> ScalarField:
    return ScalarField(**kwargs)


@extend_schema_field(
    {
        "oneOf": [
            *SCALAR_SCHEMA["oneOf"],
            {"type": "array", "items": SCALAR_SCHEMA},
        ],
        "nullable": True,
    }
)
class HyperparameterValueField(serializers.JSONField):
    """A hyperparameter's value: a number, a choice, a flag, a list (of layer sizes), or
    null. The engine's parameters and an uploaded estimator's plain ones alike."""


def hyperparameters_field(**kwargs) -> serializers.DictField:
    return serializers.DictField(child=HyperparameterValueField(), **kwargs)


class ClassMetricsSerializer(serializers.Serializer):
    precision = _number()
    recall = _number()
    f1 = _number()
    support = serializers.IntegerField()


class BinaryScoresSerializer(serializers.Serializer):
    """Scores of a binary classifier at one decision rule (evaluation._binary_scores)."""

    accuracy = _number()
    balanced_accuracy = _number()
    sensitivity = _number(help_text="Recall of the positive class.")
    specificity = _number(help_text="Recall of the negative class.")
    precision = _number(help_text="Of the positive class (positive predictive value).")
    npv = _number(help_text="Negative predictive value: precision of the negative class.")
    recall = _number()
    f1 = _number()
    mcc = _number(help_text="Matthews correlation coefficient.")


class IntervalSerializer(serializers.Serializer):
    estimate = _number(help_text="On the test rows.")
    lower = _number()
    upper = _number()


class ConfidenceIntervalsSerializer(serializers.Serializer):
    """Binary: 95% percentile intervals from a stratified bootstrap of the test rows
    (positives and negatives resampled separately, so PPV / NPV keep the test
    prevalence), at the operating threshold."""

    method = serializers.ChoiceField(choices=["stratified_bootstrap_percentile"])
    resamples = serializers.IntegerField()
    level = serializers.FloatField()
    seed = serializers.IntegerField()
    threshold = serializers.FloatField(help_text="Sensitivity to NPV are at this cut-off.")
    metrics = serializers.DictField(
        child=IntervalSerializer(),
        help_text="roc_auc, sensitivity, specificity, ppv, npv, brier_score.",
    )


class FoldSummarySerializer(serializers.Serializer):
    mean = _number()
    std = _number(help_text="Sample standard deviation (ddof=1).")
    values = _numbers(help_text="One per fold.")


class CrossValidationSerializer(serializers.Serializer):
    """k-fold cross-validation over the training part (train + validation rows), when
    the run asked for cv_folds. Binary: roc_auc, brier_score, and sensitivity,
    specificity, ppv, npv, accuracy at the operating threshold (chosen on the same
    out-of-fold predictions, so slightly optimistic); multi-class: accuracy,
    balanced_accuracy; regression: mae, rmse, r2."""

    folds = serializers.IntegerField()
    n_rows = serializers.IntegerField(help_text="Rows cross-validated (at most 20,000).")
    metrics = serializers.DictField(child=FoldSummarySerializer())


class MetricsSerializer(serializers.Serializer):
    """Test-split metrics. Classification: accuracy to per_class, plus sensitivity to
    brier_score for binary targets (at probability 0.5), with the operating threshold
    (threshold, threshold_rule, at_threshold) and bootstrap intervals, or the macro /
    micro ROC and PR areas for multi-class. Regression: mae, mse, rmse, r2. A run
    stopped before any stage, and an uploaded model, has none."""

    n_test = serializers.IntegerField(required=False, help_text="Rows of the test split.")
    accuracy = _optional_number()
    balanced_accuracy = _optional_number()
    precision_macro = _optional_number()
    recall_macro = _optional_number()
    f1_macro = _optional_number()
    mcc = _optional_number("Matthews correlation coefficient.")
    log_loss = _optional_number()
    per_class = serializers.DictField(
        child=ClassMetricsSerializer(), required=False, help_text="By class label (as text)."
    )
    sensitivity = _optional_number("Binary: recall of the positive class.")
    specificity = _optional_number("Binary: recall of the negative class.")
    precision = _optional_number("Binary: of the positive class.")
    recall = _optional_number("Binary: of the positive class.")
    f1 = _optional_number("Binary: of the positive class.")
    roc_auc = _optional_number("Binary, or the macro average of the one-vs-rest curves.")
    roc_auc_micro = _optional_number("Multi-class.")
    average_precision = _optional_number("Binary, or the macro average.")
    average_precision_micro = _optional_number("Multi-class.")
    brier_score = _optional_number()
    mae = _optional_number("Regression.")
    mse = _optional_number("Regression.")
    rmse = _optional_number("Regression.")
    r2 = _optional_number("Regression; null with a single test row.")
    npv = _optional_number("Binary: negative predictive value.")
    positive_class = _label(required=False, help_text="Binary: the class meaning the event.")
    threshold = _optional_number("Binary: the cut-off predict applies to the positive class.")
    threshold_rule = serializers.CharField(required=False, help_text="Binary: how it was chosen.")
    at_threshold = BinaryScoresSerializer(
        required=False, help_text="Binary: the scores at the operating threshold."
    )
    confidence_intervals = ConfidenceIntervalsSerializer(required=False)
    cross_validation = CrossValidationSerializer(required=False)


class ConfusionMatrixSerializer(serializers.Serializer):
    labels = serializers.ListField(child=_label(), help_text="Class labels, in matrix order.")
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="matrix[i][j]: rows of true class i predicted as class j.",
    )
    normalized = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="Each row divided by its class's support (0 for an empty class).",
    )


class RocPointsSerializer(serializers.Serializer):
    fpr = _numbers()
    tpr = _numbers()
    thresholds = _numbers(required=False, help_text="The first is null (infinity).")
    auc = _number()


class RocCurveSerializer(RocPointsSerializer):
    """Binary: the positive class's curve. Multi-class: the macro-average curve (on a
    fixed fpr grid, so no thresholds), the micro-average and one curve per class
    (null for a class absent from the test split)."""

    positive_class = _label(required=False, help_text="Binary only.")
    average = serializers.ChoiceField(choices=["macro"], required=False)
    micro = RocPointsSerializer(required=False)
    per_class = serializers.DictField(
        child=RocPointsSerializer(allow_null=True), required=False, help_text="By class label."
    )


class PrPointsSerializer(serializers.Serializer):
    precision = _numbers()
    recall = _numbers()
    thresholds = _numbers(help_text="One fewer than the points: the last is null.")
    average_precision = _number()


class PrCurveSerializer(PrPointsSerializer):
    """Binary: the positive class's curve. Multi-class: the micro-average, and one
    curve per class."""

    positive_class = _label(required=False, help_text="Binary only.")
    average = serializers.ChoiceField(choices=["micro"], required=False)
    per_class = serializers.DictField(child=PrPointsSerializer(allow_null=True), required=False)


class CalibrationPointsSerializer(serializers.Serializer):
    prob_true = _numbers(help_text="Observed frequency of the class in each bin.")
    prob_pred = _numbers(help_text="Mean predicted probability in each bin.")
    n_bins = serializers.IntegerField()
    strategy = serializers.ChoiceField(choices=["uniform"])


class CalibrationSerializer(serializers.Serializer):
    """Binary: the positive class's reliability curve; multi-class: one per class."""

    prob_true = _numbers(required=False)
    prob_pred = _numbers(required=False)
    n_bins = serializers.IntegerField()
    strategy = serializers.ChoiceField(choices=["uniform"], required=False)
    positive_class = _label(required=False)
    per_class = serializers.DictField(
        child=CalibrationPointsSerializer(allow_null=True), required=False
    )


class ThresholdSerializer(serializers.Serializer):
    """The operating point of a binary classifier, the cut-off predict applies: chosen
    by `rule` on out-of-fold predictions over the training part (`chosen_on`
    "out_of_fold"), or fixed at 0.5; the test metrics and confusion matrix at it."""

    value = serializers.FloatField(help_text="Predict positive when P(positive) >= value.")
    rule = serializers.CharField(help_text="youden, sensitivity>=X, specificity>=X or 0.5.")
    method = serializers.ChoiceField(choices=["youden_j", "sensitivity", "specificity", "fixed"])
    chosen_on = serializers.ChoiceField(choices=["out_of_fold", "fixed"])
    cv_folds = serializers.IntegerField(allow_null=True, help_text="Folds of the choice.")
    n_rows = serializers.IntegerField(allow_null=True, help_text="Out-of-fold rows used.")
    validation_youden_j = _number(help_text="Youden's J out-of-fold (kept name).")
    oof_youden_j = _number()
    oof_sensitivity = _number()
    oof_specificity = _number()
    positive_class = _label()
    metrics = BinaryScoresSerializer()
    confusion_matrix = ConfusionMatrixSerializer()


class ExcludedColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    reason = serializers.CharField()


class FeatureImportanceSerializer(serializers.Serializer):
    features = serializers.ListField(child=serializers.CharField(), help_text="Raw columns.")
    scores = _numbers(help_text="Parallel to features, highest first.")
    method = serializers.ChoiceField(choices=["impurity", "coefficient", "permutation"])
    scoring = serializers.ChoiceField(
        choices=["accuracy", "r2"], required=False, help_text="Permutation only."
    )
    n_rows = serializers.IntegerField(required=False, help_text="Permutation only.")


class SubgroupSerializer(serializers.Serializer):
    value = _label(allow_null=True, help_text="null: the rows where the column is missing.")
    n = serializers.IntegerField()
    accuracy = _optional_number()
    balanced_accuracy = _optional_number()
    f1_macro = _optional_number()
    sensitivity = _optional_number("Binary.")
    specificity = _optional_number("Binary.")
    roc_auc = _optional_number("Binary; null where the group has one class.")
    mae = _optional_number("Regression.")
    rmse = _optional_number("Regression.")
    r2 = _optional_number("Regression.")


class SubgroupMetricsSerializer(serializers.Serializer):
    column = serializers.CharField()
    groups = SubgroupSerializer(many=True)
    omitted_groups = serializers.IntegerField(help_text="Groups past the 20 most frequent.")


class MlpSpecSerializer(serializers.Serializer):
    """A neural network's architecture (training/ml/nn.py make_spec)."""

    format = serializers.ChoiceField(choices=["medilytica.mlp"])
    version = serializers.IntegerField()
    task = serializers.ChoiceField(choices=["classification", "regression"])
    input_size = serializers.IntegerField()
    output_size = serializers.IntegerField()
    hidden_layers = serializers.ListField(child=serializers.IntegerField())
    activation = serializers.CharField()
    dropout = serializers.FloatField()
    batch_norm = serializers.BooleanField()
    target_mean = _number()
    target_scale = _number()


# A registered model stores {} where a run has null (trained without a group column, or
# uploaded). SubgroupMetrics is a component through RunResults.
REGISTRY_SUBGROUP_METRICS = {
    "oneOf": [
        {"$ref": "#/components/schemas/SubgroupMetrics"},
        {
            "type": "object",
            "properties": {},
            "additionalProperties": False,
            "description": "None: trained without a group column, or uploaded.",
        },
    ]
}
