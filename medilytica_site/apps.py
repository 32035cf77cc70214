from django.apps import AppConfig


class MedilyticaSiteConfig(AppConfig):
    name = "medilytica_site"
    verbose_name = "MediLytica site"
