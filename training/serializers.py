from __future__ import annotations

from rest_framework import serializers

from collaboration.serializers import ScalarField, described_json
from mlmodels.result_serializers import (
    CalibrationSerializer,
    ConfusionMatrixSerializer,
    ExcludedColumnSerializer,
    FeatureImportanceSerializer,
    HyperparameterValueField,
    MetricsSerializer,
    MlpSpecSerializer,
    PrCurveSerializer,
    RocCurveSerializer,
    SubgroupMetricsSerializer,
    ThresholdSerializer,
    hyperparameters_field,
)
from mlmodels.serializers import ModelGraphSerializer

from .models import RunStatus, TrainingRun

MODEL_TYPES = [
    "neural_network",
    "logistic_regression",
    "linear_regression",
    "decision_tree",
    "random_forest",
    "gradient_boosting",
]


class RunStartSerializer(serializers.Serializer):
    dataset = serializers.UUIDField()
    target = serializers.CharField(max_length=255)
    model_type = serializers.ChoiceField(choices=MODEL_TYPES)
    task = serializers.ChoiceField(
        choices=["classification", "regression"], required=False, allow_null=True
    )
    features = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        max_length=5000,
    )
    hyperparameters = hyperparameters_field(
        required=False,
        allow_null=True,
        help_text="Name -> value; GET /api/train/model-types lists each type's names and limits.",
    )
    test_size = serializers.FloatField(required=False, min_value=0.05, max_value=0.5)
    random_seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    group_column = serializers.CharField(max_length=255, required=False, allow_null=True)
    positive_class = ScalarField(required=False, allow_null=True)
    include_identifiers = serializers.BooleanField(
        required=False, help_text="Shorthand: keep every column the profile flags."
    )
    exclude = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        max_length=5000,
        help_text="Columns to leave out (listed in the results with the reason).",
    )
    include = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        max_length=5000,
        help_text="Flagged identifier columns to keep nonetheless.",
    )
    threshold_rule = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=40,
        help_text="youden (default), sensitivity>=X, specificity>=X or 0.5: how the binary "
        "decision threshold is chosen on out-of-fold predictions.",
    )
    cv_folds = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=2,
        max_value=10,
        help_text="Adds a k-fold cross-validation report (mean and std per metric).",
    )

    def validate_positive_class(self, value):
        if isinstance(value, (dict, list)):
            raise serializers.ValidationError("Must be a single class label.")
        return value


class ProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField(allow_null=True, help_text="Epochs, or stages (trees...).")
    total_epochs = serializers.IntegerField(allow_null=True)
    fraction = serializers.FloatField(allow_null=True, help_text="0 to 1.")


class EpochMetricsSerializer(serializers.Serializer):
    """One epoch's or stage's values. Classification: loss (log loss), accuracy and
    their val_ twins; regression: loss (MSE), mae and their val_ twins."""

    loss = serializers.FloatField(allow_null=True, required=False)
    val_loss = serializers.FloatField(allow_null=True, required=False)
    accuracy = serializers.FloatField(allow_null=True, required=False)
    val_accuracy = serializers.FloatField(allow_null=True, required=False)
    mae = serializers.FloatField(allow_null=True, required=False)
    val_mae = serializers.FloatField(allow_null=True, required=False)


class LatestMetricsSerializer(EpochMetricsSerializer):
    epoch = serializers.IntegerField()


class MetricsMessageSerializer(EpochMetricsSerializer):
    """A `metrics` message of /ws/training/{id} (training.events.MetricsMessage)."""

    type = serializers.ChoiceField(choices=["metrics"])
    seq = serializers.IntegerField(help_text="1, 2, ... without gaps: a gap means a lost message.")
    epoch = serializers.IntegerField()
    timestamp = serializers.CharField(help_text="ISO 8601, UTC.")


class RunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    latest_metrics = described_json(
        LatestMetricsSerializer(allow_null=True), read_only=True, allow_null=True
    )
    hyperparameters = described_json(hyperparameters_field(), read_only=True)
    features = serializers.ListField(
        child=serializers.CharField(), read_only=True, allow_null=True, help_text="null: all."
    )
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "name",
            "workspace",
            "dataset",
            "model_type",
            "task",
            "target",
            "features",
            "hyperparameters",
            "random_seed",
            "test_size",
            "status",
            "progress",
            "latest_metrics",
            "error",
            "model",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, run: TrainingRun) -> ProgressSerializer:
        return run_progress(run)


def run_progress(run: TrainingRun) -> dict:
    progress = run.progress or {}
    fraction = progress.get("fraction")
    if run.status == "succeeded":
        fraction = 1.0
    return {
        "epoch": progress.get("epoch"),
        "total_epochs": progress.get("total_epochs"),
        "fraction": fraction,
    }


class RunStatusSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    latest_metrics = described_json(
        LatestMetricsSerializer(allow_null=True), read_only=True, allow_null=True
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "progress",
            "latest_metrics",
            "error",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress(self, run: TrainingRun) -> ProgressSerializer:
        return run_progress(run)


class TrainingHistorySerializer(serializers.Serializer):
    """Per-epoch curves as parallel arrays (at most 200 epochs, evenly thinned).
    Classification has train_accuracy / val_accuracy, regression train_mae / val_mae."""

    epochs = serializers.ListField(child=serializers.IntegerField())
    train_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    val_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    train_accuracy = serializers.ListField(
        child=serializers.FloatField(allow_null=True), required=False
    )
    val_accuracy = serializers.ListField(
        child=serializers.FloatField(allow_null=True), required=False
    )
    train_mae = serializers.ListField(child=serializers.FloatField(allow_null=True), required=False)
    val_mae = serializers.ListField(child=serializers.FloatField(allow_null=True), required=False)


class RunModelSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True, help_text="The registered model, if any.")
    model_type = serializers.CharField()
    task = serializers.ChoiceField(choices=["classification", "regression"], allow_null=True)
    hyperparameters = hyperparameters_field(help_text="Every value the run used, defaults too.")
    stages_completed = serializers.IntegerField()
    total_stages = serializers.IntegerField()
    architecture = MlpSpecSerializer(required=False, help_text="Neural networks only.")
    best_epoch = serializers.IntegerField(
        required=False, allow_null=True, help_text="Neural networks: the weights kept."
    )


class RunResultsSerializer(serializers.Serializer):
    """A finished run's evaluation on its held-out test split (training/ml/evaluation.py).
    Classification fills confusion_matrix to threshold; regression leaves them null."""

    status = serializers.ChoiceField(choices=RunStatus.choices)
    metrics = MetricsSerializer()
    confusion_matrix = ConfusionMatrixSerializer(allow_null=True)
    roc_curve = RocCurveSerializer(allow_null=True)
    pr_curve = PrCurveSerializer(allow_null=True)
    calibration = CalibrationSerializer(allow_null=True)
    threshold = ThresholdSerializer(allow_null=True)
    positive_class = ScalarField(
        allow_null=True, help_text="Binary: the class meaning the event; else null."
    )
    excluded_columns = ExcludedColumnSerializer(
        many=True, help_text="Every column left out of the features, with the reason."
    )
    feature_importance = FeatureImportanceSerializer(allow_null=True)
    subgroup_metrics = SubgroupMetricsSerializer(allow_null=True)
    training_history = TrainingHistorySerializer()
    model = RunModelSerializer()


GraphSerializer = ModelGraphSerializer


class MetricsHistorySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RunStatus.choices)
    epochs = serializers.ListField(child=serializers.IntegerField())
    train_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    val_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    train_accuracy = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="Regression runs: the training MAE.",
    )
    val_accuracy = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="Regression runs: the validation MAE.",
    )
    history = MetricsMessageSerializer(many=True)


ConfusionSerializer = ConfusionMatrixSerializer


# --- GET /api/train/model-types: the engine's model specs (selectors.model_type_specs) ---

TASKS = ["classification", "regression"]


class HyperparameterSpecSerializer(serializers.Serializer):
    """One hyperparameter of a model type, as training/ml/config.py ParamSpec has it.
    `default` and `choices` are given per task (of the model type's tasks that the
    parameter applies to); a value is valid when it passes the engine's check."""

    name = serializers.CharField()
    kind = serializers.ChoiceField(
        choices=["int", "float", "bool", "choice", "int_list", "max_features"],
        help_text="int_list: a list of integers (hidden layer sizes), each within the bounds; "
        "max_features: one of choices, or a fraction in (0, 1].",
    )
    tasks = serializers.ListField(child=serializers.ChoiceField(choices=TASKS))
    default = serializers.DictField(child=HyperparameterValueField(), help_text="Task -> value.")
    choices = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Task -> the allowed texts (empty where any value within the bounds is).",
    )
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    exclusive_minimum = serializers.BooleanField()
    exclusive_maximum = serializers.BooleanField()
    nullable = serializers.BooleanField(help_text="null is a valid value.")
    help = serializers.CharField(allow_blank=True)


class ModelTypeSpecSerializer(serializers.Serializer):
    model_type = serializers.CharField()
    tasks = serializers.ListField(child=serializers.ChoiceField(choices=TASKS))
    hyperparameters = HyperparameterSpecSerializer(many=True)


class ModelTypesSerializer(serializers.Serializer):
    model_types = ModelTypeSpecSerializer(many=True)
