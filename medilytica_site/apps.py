from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MedilyticaSiteConfig(AppConfig):
    name = "medilytica_site"
    verbose_name = "MediLytica site"
    default = True

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the receivers)


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, whose default site logs in under the API's login policy."""

    default = False  # named in INSTALLED_APPS; not this module's app
    default_site = "medilytica_site.admin.MediLyticaAdminSite"
