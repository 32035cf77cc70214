from django.urls import re_path

from .consumers import TrainingStreamConsumer

websocket_urlpatterns = [
    re_path(r"^ws/training/(?P<run_id>[0-9a-fA-F-]{36})/?$", TrainingStreamConsumer.as_asgi()),
]
