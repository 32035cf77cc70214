from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from collaboration import safejson
from collaboration.serializers import ScalarField, described_json

from .features import FEATURE_TYPES
from .models import ModelArtifact, Task
from .result_serializers import (
    REGISTRY_SUBGROUP_METRICS,
    ExcludedColumnSerializer,
    MetricsSerializer,
    MlpSpecSerializer,
    hyperparameters_field,
)
from .row_warnings import WARNING_CODES
from .services import MAX_PREDICT_ROWS


class ModelFeatureSerializer(serializers.Serializer):
    """A column the model reads (mlmodels/features.py), in the order it reads them."""

    name = serializers.CharField()
    type = serializers.ChoiceField(choices=FEATURE_TYPES)
    nullable = serializers.BooleanField()
    min = serializers.FloatField(
        required=False, help_text="Numeric columns: the training range, for predict's warnings."
    )
    max = serializers.FloatField(required=False)


class LineageSerializer(serializers.Serializer):
    """Where a model came from; training and upload each fill their own keys."""

    source = serializers.ChoiceField(choices=["training", "upload"])
    estimator = serializers.CharField(allow_null=True)
    libraries = serializers.DictField(
        child=serializers.CharField(), help_text="Package -> version at registration."
    )
    source_run_id = serializers.UUIDField(required=False, allow_null=True)
    seed = serializers.IntegerField(required=False, allow_null=True)
    model_type = serializers.CharField(required=False)
    training_rows = serializers.IntegerField(required=False, allow_null=True)
    target_balance = serializers.DictField(
        child=serializers.IntegerField(), required=False, allow_null=True
    )
    original_filename = serializers.CharField(required=False)
    original_sha256 = serializers.CharField(required=False)


class ModelArtifactSerializer(serializers.ModelSerializer):
    aliases = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    dataset = serializers.UUIDField(source="dataset_id", read_only=True, allow_null=True)
    workspace = serializers.UUIDField(source="workspace_id", read_only=True)
    # Stored JSON, returned as stored; documented with the shapes the engine makes.
    feature_schema = described_json(ModelFeatureSerializer(many=True), read_only=True)
    class_labels = described_json(serializers.ListField(child=ScalarField()), read_only=True)
    metrics = described_json(MetricsSerializer, read_only=True)
    subgroup_metrics = described_json(REGISTRY_SUBGROUP_METRICS, read_only=True)
    positive_class = described_json(ScalarField(allow_null=True), read_only=True, allow_null=True)
    architecture = described_json(
        MlpSpecSerializer(allow_null=True), read_only=True, allow_null=True
    )
    lineage = described_json(LineageSerializer, read_only=True)
    hyperparameters = described_json(hyperparameters_field(), read_only=True)
    task = serializers.ChoiceField(
        choices=Task.choices,
        allow_blank=True,
        read_only=True,
        help_text="Blank only while an upload is `processing` and its task was not sent.",
    )

    class Meta:
        model = ModelArtifact
        fields = [
            "id",
            "workspace",
            "name",
            "version",
            "status",
            "stage",
            "error",
            "error_code",
            "aliases",
            "framework",
            "task",
            "source",
            "target",
            "feature_schema",
            "class_labels",
            "metrics",
            "subgroup_metrics",
            "hyperparameters",
            "threshold",
            "positive_class",
            "architecture",
            "lineage",
            "dataset",
            "dataset_sha256",
            "source_run_id",
            "file_format",
            "file_sha256",
            "size_bytes",
            "intended_use",
            "limitations",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_aliases(self, artifact: ModelArtifact) -> list[str]:
        return sorted(alias.alias for alias in artifact.aliases.all())

    def get_created_by(self, artifact: ModelArtifact) -> str | None:
        return artifact.created_by.get_username() if artifact.created_by else None


class ModelUpdateSerializer(serializers.Serializer):
    intended_use = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    limitations = serializers.CharField(max_length=5000, required=False, allow_blank=True)


@extend_schema_field(OpenApiTypes.STR)
class JSONTextField(serializers.Field):
    """A JSON value sent as text in a multipart form (or as JSON in a JSON body)."""

    default_error_messages = {"invalid": "Must be valid JSON."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            if len(data) > 1_000_000:
                self.fail("invalid")
            try:
                return safejson.loads(data)
            except json.JSONDecodeError as exc:
                raise serializers.ValidationError(f"Must be valid JSON: {exc}.") from None
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class ModelUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    name = serializers.CharField(max_length=200)
    workspace = serializers.UUIDField(required=False, allow_null=True)
    task = serializers.ChoiceField(choices=Task.choices, required=False)
    target = serializers.CharField(max_length=255, required=False, allow_blank=True)
    feature_schema = JSONTextField(required=False, allow_null=True)
    architecture = JSONTextField(required=False, allow_null=True)
    class_labels = JSONTextField(required=False, allow_null=True)

    def validate_architecture(self, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object (the network spec).")
        return value

    def validate_class_labels(self, value: Any) -> Any:
        if value is not None and not isinstance(value, list):
            raise serializers.ValidationError("Must be a JSON list.")
        return value


class RowsField(serializers.ListField):
    """A list of 1 to MAX_PREDICT_ROWS row objects. The rows' values are checked against
    the model's feature schema by the service, column by column: a DRF field per row
    or per value would cost more than the prediction itself."""

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not data:
            self.fail("min_length", min_length=1)
        if len(data) > MAX_PREDICT_ROWS:
            self.fail("max_length", max_length=MAX_PREDICT_ROWS)
        return data


class PredictInputSerializer(serializers.Serializer):
    rows = RowsField(min_length=1, max_length=MAX_PREDICT_ROWS)


class PredictWarningSerializer(serializers.Serializer):
    """Something predict accepted in a row but could not use as sent (row_warnings.py)."""

    code = serializers.ChoiceField(choices=WARNING_CODES)
    column = serializers.CharField()
    message = serializers.CharField(help_text="One line for a person.")
    value = ScalarField(
        required=False, allow_null=True, help_text="The value sent (not for ignored_column)."
    )
    known = serializers.CharField(
        required=False, help_text="category_case: the known category the value resembles."
    )
    min = serializers.FloatField(required=False, help_text="out_of_range: the training range.")
    max = serializers.FloatField(required=False)


class PredictOutputSerializer(serializers.Serializer):
    predictions = serializers.ListField(
        child=ScalarField(allow_null=True),
        help_text="Labels exactly as they were uploaded (classification) or numbers.",
    )
    probabilities = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()), required=False
    )
    classes = serializers.ListField(child=ScalarField(), required=False)
    threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Binary classifiers: positive_class is predicted where its probability "
        "reaches this; null when the most probable class decides.",
    )
    positive_class = ScalarField(
        required=False, help_text="Binary classifiers: the class the threshold is about."
    )
    threshold_rule = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Binary classifiers: how the threshold was chosen (youden, "
        "sensitivity>=X, specificity>=X, 0.5); null when not recorded.",
    )
    warnings = serializers.ListField(
        child=PredictWarningSerializer(many=True),
        help_text="One list per row, in row order; empty where nothing needs saying.",
    )


class AliasInputSerializer(serializers.Serializer):
    alias = serializers.CharField(max_length=40)


class AliasOutputSerializer(serializers.Serializer):
    alias = serializers.CharField()
    model = serializers.UUIDField(source="artifact_id")
    version = serializers.IntegerField(source="artifact.version")
    updated_at = serializers.DateTimeField()


class ModelGraphNodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["input", "feature", "hidden", "output", "split", "leaf", "subtree", "ensemble"]
    )
    color = serializers.CharField(help_text="CSS colour, e.g. #4C78A8.")


# "from" is a Python keyword, so this serializer is declared with type().
ModelGraphEdgeSerializer = type(
    "ModelGraphEdgeSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "weight": serializers.FloatField(allow_null=True),
        "label": serializers.ChoiceField(
            choices=["yes", "no"],
            required=False,
            help_text="Decision trees: whether the row meets the parent's test.",
        ),
    },
)


class ModelGraphSerializer(serializers.Serializer):
    nodes = ModelGraphNodeSerializer(many=True)
    edges = ModelGraphEdgeSerializer(many=True)


# --- the model card (cards.model_card) -----------------------------------------------


class CardModelSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    aliases = serializers.ListField(child=serializers.CharField())
    framework = serializers.CharField()
    task = serializers.CharField()
    target = serializers.CharField()
    class_labels = serializers.ListField(child=ScalarField())
    estimator = serializers.CharField(allow_null=True)
    source = serializers.CharField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    file_sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()


class CardTrainingDataSerializer(serializers.Serializer):
    dataset_id = serializers.UUIDField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    sha256 = serializers.CharField(allow_null=True)
    rows = serializers.IntegerField(allow_null=True)
    training_rows = serializers.IntegerField(allow_null=True)
    target = serializers.CharField()
    target_balance = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="Class label -> rows."
    )


class CardLineageSerializer(serializers.Serializer):
    source_run_id = serializers.UUIDField(allow_null=True)
    hyperparameters = hyperparameters_field(help_text="The estimator's own parameters.")
    seed = serializers.IntegerField(allow_null=True)
    libraries = serializers.DictField(child=serializers.CharField())
    original_filename = serializers.CharField(allow_null=True)


class ModelCardSerializer(serializers.Serializer):
    model = CardModelSerializer()
    intended_use = serializers.CharField()
    limitations = serializers.CharField()
    training_data = CardTrainingDataSerializer()
    features = ModelFeatureSerializer(many=True)
    metrics = MetricsSerializer()
    subgroup_metrics = described_json(REGISTRY_SUBGROUP_METRICS)
    decision_threshold = serializers.FloatField(allow_null=True)
    positive_class = described_json(ScalarField(allow_null=True), allow_null=True)
    threshold_rule = serializers.CharField(
        allow_null=True, help_text="How decision_threshold was chosen: youden, sensitivity>=X, ..."
    )
    excluded_columns = ExcludedColumnSerializer(
        many=True, help_text="Columns left out of the features, each with its reason."
    )
    lineage = CardLineageSerializer()
