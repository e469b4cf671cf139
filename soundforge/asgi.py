"""ASGI entry point: HTTP through Django, websockets through Channels with the session's user."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soundforge.settings")


class SyncViewsASGIHandler(ASGIHandler):
    """Django's ASGI handler, running each request's middleware and view in one hop to one of a few long-lived
    sync threads.

    Every view here is sync, and so are the database and the templates. Django's own handler runs each
    middleware's hooks in async mode, each a hop between the event loop and a sync thread (some thirty a
    request), and gives every request a new thread, so a new database connection too. Here a request goes to
    the least busy of ``SOUNDFORGE_WEB_THREADS`` threads (a slow view does not hold up the others), which
    keep their connections. Under load (bench/load.py's pages) this halved the server's CPU a page.
    Django keeps this class out of its public API (get_asgi_application): tests/test_asgi.py pins what we
    rely on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-{i}")
                        for i in range(settings.WEB_THREADS)]
        self.busy = [0] * len(self.threads)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        i = self.busy.index(min(self.busy))
        self.busy[i] += 1
        try:
            # Every thread-sensitive call of this request (signals, middleware, view, closing) runs there.
            async with ThreadSensitiveContext(executor=self.threads[i]):
                await self.handle(scope, receive, send)
        finally:
            self.busy[i] -= 1

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django.setup(set_prefix=False)
django_asgi_app = SyncViewsASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from tracks.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
