from django.apps import AppConfig


class MlmodelsConfig(AppConfig):
    name = "mlmodels"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from .models import ModelArtifact
        from .services import model_file_remove_on_cascade

        post_delete.connect(
            model_file_remove_on_cascade,
            sender=ModelArtifact,
            dispatch_uid="mlmodels.file_on_cascade",
        )
