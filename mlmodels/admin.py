from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import slugify

from datasets.downloads import StoredFileResponse

from . import services
from .models import ModelAlias, ModelArtifact

HEADLINE_METRICS = ("accuracy", "roc_auc", "f1_macro", "balanced_accuracy", "r2", "rmse", "mae")


class ModelAliasInline(admin.TabularInline):
    model = ModelAlias
    extra = 0
    fields = ["alias", "updated_by", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # aliases move through the API, where each move is audited


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    """Registered models. Files are never edited here: only the intended use and the
    limitations text are writable, and downloads go through the audited service."""

    list_display = [
        "name",
        "version",
        "status",
        "alias_list",
        "framework",
        "task",
        "metrics_summary",
        "workspace",
        "created_at",
        "download_link",
    ]
    list_filter = ["status", "framework", "task", "source"]
    search_fields = ["name", "file_sha256", "target"]
    date_hierarchy = "created_at"
    inlines = [ModelAliasInline]
    fields = [
        "name",
        "version",
        "status",
        "stage",
        "error",
        "workspace",
        "framework",
        "task",
        "source",
        "target",
        "intended_use",
        "limitations",
        "threshold",
        "positive_class",
        "metrics",
        "subgroup_metrics",
        "hyperparameters",
        "feature_schema",
        "class_labels",
        "architecture",
        "lineage",
        "dataset",
        "dataset_sha256",
        "source_run_id",
        "file_key",
        "file_format",
        "file_sha256",
        "size_bytes",
        "download_link",
        "created_by",
        "created_at",
    ]
    readonly_fields = [name for name in fields if name not in ("intended_use", "limitations")]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("aliases")

    def has_add_permission(self, request) -> bool:
        return False  # models arrive by upload or from training, both through services

    @admin.display(description="aliases")
    def alias_list(self, obj: ModelArtifact) -> str:
        return ", ".join(alias.alias for alias in obj.aliases.all()) or "-"

    @admin.display(description="metrics")
    def metrics_summary(self, obj: ModelArtifact) -> str:
        # Headline metrics first, by name: PostgreSQL's jsonb does not keep key order.
        metrics = {
            key: value
            for key, value in (obj.metrics or {}).items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        keys = [k for k in HEADLINE_METRICS if k in metrics]
        keys += sorted(k for k in metrics if k not in HEADLINE_METRICS)
        return ", ".join(f"{key}={metrics[key]:.3g}" for key in keys[:4]) or "-"

    @admin.display(description="file")
    def download_link(self, obj: ModelArtifact) -> str:
        if not obj.pk or not obj.is_ready:
            return "-"
        url = reverse("admin:mlmodels_modelartifact_download", args=[obj.pk])
        return format_html('<a href="{}">download</a>', url)

    def get_urls(self):
        return [
            path(
                "<uuid:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="mlmodels_modelartifact_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk):
        artifact = get_object_or_404(ModelArtifact, pk=pk, status=ModelArtifact.Status.READY)
        if not self.has_view_permission(request, artifact):
            raise PermissionDenied
        handle = services.model_download(artifact=artifact, user=request.user, request=request)
        filename = f"{slugify(artifact.name) or 'model'}-v{artifact.version}{artifact.file_suffix}"
        return StoredFileResponse(handle, as_attachment=True, filename=filename)

    def save_model(self, request, obj, form, change) -> None:
        services.model_update(
            artifact=obj,
            user=request.user,
            intended_use=form.cleaned_data.get("intended_use"),
            limitations=form.cleaned_data.get("limitations"),
            request=request,
        )

    def delete_model(self, request, obj) -> None:
        services.model_delete(artifact=obj, user=request.user, request=request)

    def delete_queryset(self, request, queryset) -> None:
        for artifact in queryset:
            services.model_delete(artifact=artifact, user=request.user, request=request)
