from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from .models import Dataset
        from .services import files_remove_on_cascade

        post_delete.connect(
            files_remove_on_cascade, sender=Dataset, dispatch_uid="datasets.files_on_cascade"
        )
