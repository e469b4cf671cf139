"""Websockets only from the site's own pages.

Channels' ``AllowedHostsOriginValidator`` compares the Origin's host name with ALLOWED_HOSTS and ignores its
scheme and port: a page served from another port of the same host (any local program) could open a socket
with the visitor's cookies and read every push. Here the Origin must be exactly the origin the socket was
opened on (scheme, host and port: ``ws`` is the page's ``http``, ``wss`` its ``https``) with a host Django
would serve, or one of CSRF_TRUSTED_ORIGINS (``SOUNDFORGE_CSRF_TRUSTED_ORIGINS``: a front server on
another origin). A socket without an Origin is refused, as before: browsers always send one. The one
exception is the API's socket (``/ws/api/``) opened with an ``Authorization: Bearer`` header: no browser
can send that header, and the token, not a cookie, says who it is.

A refused socket is closed at its first message and the application returns at once: Channels'
``WebsocketDenier`` is a whole consumer that subscribes to the channel layer and lingers until the client
says goodbye (or the server's close timeout), holding a Redis connection for a socket that never opened.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

API_SOCKET = "/ws/api/"


def allowed(scope: dict[str, Any]) -> bool:
    headers = dict(scope.get("headers") or [])
    if scope.get("path") == API_SOCKET and headers.get(b"authorization", b"").lower().startswith(b"bearer "):
        return True
    origin = headers.get(b"origin", b"").decode("latin-1").rstrip("/").lower()
    host = headers.get(b"host", b"").decode("latin-1").lower()
    if not origin or origin == "null":
        return False
    if origin in {o.rstrip("/").lower() for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    domain, _ = split_domain_port(host)
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS) and origin == f"{scheme}://{host}"


async def deny(receive: Any, send: Any) -> None:
    """Answer the handshake with a close: the server turns a close before accept into HTTP 403."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1000})


class SiteOriginValidator:
    """ASGI middleware: a websocket whose Origin is not the site's own is denied before anything runs."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not allowed(scope):
            return await deny(receive, send)
        return await self.application(scope, receive, send)
