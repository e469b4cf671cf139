from __future__ import annotations

from django.urls import path

from .consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/library/", LiveConsumer.as_asgi()),
    path("ws/tracks/<uuid:track_uuid>/", LiveConsumer.as_asgi()),
]
