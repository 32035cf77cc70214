from django.urls import re_path

from collaboration.viewsets import UUID_RE

from .consumers import TrainingStreamConsumer

websocket_urlpatterns = [
    re_path(rf"^ws/training/(?P<run_id>{UUID_RE})/?$", TrainingStreamConsumer.as_asgi()),
]
