from django.contrib import admin, messages

from . import services
from .models import RunMetric, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "model_type", "status", "created_by", "created_at"]
    list_filter = ["status", "model_type", "workspace"]
    search_fields = ["name", "target", "error"]
    date_hierarchy = "created_at"
    actions = ["stop_runs"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields if f.name not in ("name",)]

    def has_add_permission(self, request) -> bool:
        return False  # runs start through the API or `manage.py train`

    @admin.action(description="Stop the selected runs")
    def stop_runs(self, request, queryset):
        stopped = 0
        for run in queryset:
            try:
                services.run_stop(run=run, user=request.user, request=request)
                stopped += 1
            except services.RunConflict as exc:
                self.message_user(request, f"{run}: {exc}", messages.WARNING)
        self.message_user(request, f"Asked {stopped} run(s) to stop.")


@admin.register(RunMetric)
class RunMetricAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "epoch", "created_at"]
    readonly_fields = ["run", "seq", "epoch", "values", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
