from __future__ import annotations

from django.urls import path

from .consumers import ApiConsumer, LibraryConsumer, TrackConsumer

websocket_urlpatterns = [
    path("ws/library/", LibraryConsumer.as_asgi()),
    path("ws/api/", ApiConsumer.as_asgi()),
    path("ws/tracks/<uuid:track_uuid>/", TrackConsumer.as_asgi()),
]
