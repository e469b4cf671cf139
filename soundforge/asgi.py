"""ASGI entry point: HTTP through Django (our handler, soundforge/runtime/handler.py), websockets through
Channels with the session's user."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soundforge.settings")


django.setup(set_prefix=False)

from soundforge.runtime.handler import SyncViewsASGIHandler  # noqa: E402

django_asgi_app = SyncViewsASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from soundforge.origins import SiteOriginValidator  # noqa: E402
from tracks.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
