from __future__ import annotations

from rest_framework import serializers

from collaboration.serializers import ScalarField

from .models import Dataset
from .services import PREVIEW_MAX_LIMIT


class TopValueSerializer(serializers.Serializer):
    value = ScalarField(allow_null=True, help_text="As stored; null for a NaN.")
    count = serializers.IntegerField()


class ColumnProfileSerializer(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField(help_text="Arrow type, e.g. int64, double, string, date32[day].")
    kind = serializers.ChoiceField(
        choices=["numeric", "boolean", "datetime", "categorical", "text"]
    )
    count = serializers.IntegerField(help_text="Values present (not missing).")
    missing = serializers.IntegerField()
    missing_fraction = serializers.FloatField()
    unique = serializers.IntegerField(help_text="Distinct non-missing values.")
    min = ScalarField(allow_null=True, help_text="Numbers, or ISO 8601 text for dates.")
    max = ScalarField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    std = serializers.FloatField(allow_null=True)
    top = TopValueSerializer(many=True, help_text="Most frequent values of categories.")
    likely_identifier = serializers.BooleanField(
        help_text="The column probably identifies a person (PHI): exclude it from training."
    )
    identifier_reason = serializers.CharField(allow_null=True)


class SuggestedTargetSerializer(serializers.Serializer):
    column = serializers.CharField()
    task = serializers.ChoiceField(choices=["classification", "regression"])
    classes = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class DatasetSummarySerializer(serializers.ModelSerializer):
    workspace = serializers.UUIDField(source="workspace_id", read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id",
            "workspace",
            "name",
            "description",
            "original_filename",
            "format",
            "compression",
            "encoding",
            "delimiter",
            "size_bytes",
            "sha256",
            "rows",
            "n_columns",
            "status",
            "stage",
            "error",
            "error_code",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "status": {
                "help_text": "processing: a worker is parsing the upload (rows, columns and "
                "profile are empty until it is ready); ready; rejected: see error."
            },
            "stage": {
                "help_text": "While processing: queued, reading, profiling, storing, saving."
            },
            "error": {"help_text": "Why a rejected upload was refused; empty otherwise."},
            "error_code": {"help_text": "The refusal as a code (e.g. empty_file, bad_encoding)."},
        }


class DatasetSerializer(DatasetSummarySerializer):
    columns = ColumnProfileSerializer(many=True, read_only=True)
    suggested_targets = SuggestedTargetSerializer(many=True, read_only=True)

    class Meta(DatasetSummarySerializer.Meta):
        fields = [*DatasetSummarySerializer.Meta.fields, "columns", "suggested_targets"]
        read_only_fields = fields


class DatasetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    workspace = serializers.UUIDField(required=False, allow_null=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class PreviewQuerySerializer(serializers.Serializer):
    offset = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=PREVIEW_MAX_LIMIT, default=50)


class PreviewSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))
    total_rows = serializers.IntegerField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
