"""Data curation: browse datasets, look at the first rows and the profile, re-profile.

Uploads go through the API or `manage.py import_dataset`; the admin never creates files.
Edits, deletes and re-profiling call the same services as the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join

from . import services
from .models import Dataset

ADMIN_PREVIEW_ROWS = 20


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "status",
        "format",
        "size",
        "rows",
        "n_columns",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "format", "compression", "workspace"]
    search_fields = ["name", "description", "original_filename", "sha256"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace", "created_by"]
    actions = ["reprofile"]
    readonly_fields = [
        "workspace",
        "status",
        "stage",
        "error",
        "original_filename",
        "format",
        "compression",
        "encoding",
        "delimiter",
        "size",
        "sha256",
        "rows",
        "n_columns",
        "created_by",
        "created_at",
        "identifiers",
        "profile_table",
        "first_rows",
    ]
    fieldsets = [
        (None, {"fields": ["name", "description", "workspace", "created_by", "created_at"]}),
        ("State", {"fields": ["status", "stage", "error"]}),
        (
            "File",
            {
                "fields": [
                    "original_filename",
                    "format",
                    "compression",
                    "encoding",
                    "delimiter",
                    "size",
                    "sha256",
                    "rows",
                    "n_columns",
                ]
            },
        ),
        ("Profile", {"fields": ["identifiers", "profile_table"]}),
        (f"First {ADMIN_PREVIEW_ROWS} rows", {"fields": ["first_rows"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, dataset: Dataset) -> str:
        return filesizeformat(dataset.size_bytes)

    @admin.display(description="Likely identifiers (PHI)")
    def identifiers(self, dataset: Dataset):
        flagged = [c for c in dataset.columns if c.get("likely_identifier")]
        if not flagged:
            return "None found"
        return format_html_join(
            "",
            "<div><b>{}</b>: {}</div>",
            ((c["name"], c.get("identifier_reason") or "") for c in flagged),
        )

    @admin.display(description="Columns")
    def profile_table(self, dataset: Dataset):
        head = ("name", "dtype", "kind", "missing", "unique", "min", "max", "mean", "top")
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (
                    format_html_join(
                        "",
                        "<td>{}</td>",
                        ((_cell(column, key),) for key in head),
                    ),
                )
                for column in dataset.columns
            ),
        )
        return format_html(
            '<table class="medilytica-profile"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            format_html_join("", "<th>{}</th>", ((h,) for h in head)),
            body,
        )

    @admin.display(description="Rows")
    def first_rows(self, dataset: Dataset):
        if not dataset.is_ready:
            return "None yet: the upload is being processed." if dataset.stage else "None."
        request = getattr(dataset, "_admin_request", None)
        try:
            page = services.dataset_preview(
                dataset=dataset,
                offset=0,
                limit=ADMIN_PREVIEW_ROWS,
                user=getattr(request, "user", None),
                request=request,
            )
        except OSError as exc:
            return f"The Parquet copy cannot be read: {exc}"
        rows = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", (("" if v is None else v,) for v in row)),)
                for row in page["rows"]
            ),
        )
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<th>{}</th>", ((c,) for c in page["columns"])),
            rows,
        )

    def get_object(self, request, object_id, from_field=None):
        # The preview is audited under the admin who looked; the ModelAdmin is shared by
        # every thread, so the request rides on this request's own instance.
        dataset = super().get_object(request, object_id, from_field)
        if dataset is not None:
            dataset._admin_request = request
        return dataset

    def save_model(self, request, obj: Dataset, form, change) -> None:
        services.dataset_update(
            dataset=obj,
            user=request.user,
            name=form.cleaned_data.get("name"),
            description=form.cleaned_data.get("description"),
            request=request,
        )

    def delete_model(self, request, obj: Dataset) -> None:
        services.dataset_delete(dataset=obj, user=request.user, request=request)

    def delete_queryset(self, request, queryset) -> None:
        for dataset in queryset:
            services.dataset_delete(dataset=dataset, user=request.user, request=request)

    @admin.action(description="Re-profile the selected datasets")
    def reprofile(self, request, queryset) -> None:
        done = 0
        for dataset in queryset.filter(status=Dataset.Status.READY):
            try:
                services.dataset_reprofile(dataset=dataset, user=request.user, request=request)
                done += 1
            except OSError as exc:
                self.message_user(request, f"{dataset}: {exc}", level=messages.ERROR)
        self.message_user(request, f"Re-profiled {done} dataset(s).", level=messages.SUCCESS)


def _cell(column: dict, key: str) -> str:
    value = column.get(key)
    if key == "top":
        return ", ".join(f"{t['value']} ({t['count']})" for t in value or [])
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
