from __future__ import annotations

from rest_framework import serializers

from .models import TrainingRun

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
    hyperparameters = serializers.DictField(required=False, allow_null=True)
    test_size = serializers.FloatField(required=False, min_value=0.05, max_value=0.5)
    random_seed = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    group_column = serializers.CharField(max_length=255, required=False, allow_null=True)
    positive_class = serializers.JSONField(required=False, allow_null=True)
    include_identifiers = serializers.BooleanField(required=False)

    def validate_positive_class(self, value):
        if isinstance(value, (dict, list)):
            raise serializers.ValidationError("Must be a single class label.")
        return value


class ProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField(allow_null=True)
    total_epochs = serializers.IntegerField(allow_null=True)
    fraction = serializers.FloatField(allow_null=True)


class RunSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
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

    def get_progress(self, run: TrainingRun) -> dict:
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


class RunResultsSerializer(serializers.Serializer):
    metrics = serializers.DictField()
    confusion_matrix = serializers.DictField(allow_null=True)
    roc_curve = serializers.DictField(allow_null=True)
    pr_curve = serializers.DictField(allow_null=True)
    calibration = serializers.DictField(allow_null=True)
    threshold = serializers.DictField(allow_null=True)
    feature_importance = serializers.DictField(allow_null=True)
    subgroup_metrics = serializers.DictField(allow_null=True)
    training_history = serializers.DictField()
    model = serializers.DictField()


class GraphSerializer(serializers.Serializer):
    nodes = serializers.ListField(child=serializers.DictField())
    edges = serializers.ListField(child=serializers.DictField())


class MetricsHistorySerializer(serializers.Serializer):
    epochs = serializers.ListField(child=serializers.IntegerField())
    train_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    val_loss = serializers.ListField(child=serializers.FloatField(allow_null=True))
    train_accuracy = serializers.ListField(child=serializers.FloatField(allow_null=True))
    val_accuracy = serializers.ListField(child=serializers.FloatField(allow_null=True))
    history = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()


class ConfusionSerializer(serializers.Serializer):
    labels = serializers.ListField()
    matrix = serializers.ListField(child=serializers.ListField())
    normalized = serializers.ListField(child=serializers.ListField(), required=False)
