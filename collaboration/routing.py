from django.urls import re_path

from .consumers import ChatConsumer, CodeConsumer, NotificationConsumer

websocket_urlpatterns = [
    re_path(r"^ws/chat/(?P<room_id>[^/]+)/?$", ChatConsumer.as_asgi()),
    re_path(r"^ws/code/(?P<room_id>[^/]+)/?$", CodeConsumer.as_asgi()),
    re_path(r"^ws/notifications/?$", NotificationConsumer.as_asgi()),
]
