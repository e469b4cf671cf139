"""The base of every page's websocket: a consumer whose groups are GroupHub members (hub.py), that sends a page
its current state once it listens, and the two Channels overrides that keep pushes cheap and a Redis restart
harmless. Fenced: see PATCHES.md. Knows nothing of tracks: a subclass says which groups and what state."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from .hub import GroupHub

# "Open me again" (static/js/live.js reopens the socket after it; the new one is sent the current state).
# Not 1012, "Service Restart", which the htmx ws extension would act on by itself: servers may not send it.
CLOSE_RECONNECT = 4012

logger = logging.getLogger(__name__)


class HubConsumer(AsyncWebsocketConsumer):
    """A socket that only listens: to the groups it joins with ``open``, whose pushes arrive as ``deliver``
    calls; a message of type ``fragment`` is sent to the page as it is, any other goes to its handler."""

    groups_joined: tuple[str, ...] = ()
    _held: list[dict[str, Any]] | None = None
    # No channel of its own: what it hears comes through GroupHub. Channels gives a consumer whose layer
    # alias is not configured none (get_channel_layer's documented None); one per socket would be a Redis
    # BRPOP loop per open page, and would hold a closed socket's application up to its 5 s timeout.
    channel_layer_alias = "none: pushes come through GroupHub"
    socket_id: str = ""  # this socket, among every web process's (presence keeps who is on a page by it)

    async def __call__(self, scope, receive, send) -> None:
        """Redis went away under the channel layer (restarted, say): ask the page to reconnect, which
        catches it up, rather than end with an internal error."""
        self.socket_id = uuid.uuid4().hex
        try:
            await super().__call__(scope, receive, send)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("websocket %s lost Redis (%s); asking the page to reconnect", scope.get("path"), exc)
            await self.lost()
            with contextlib.suppress(Exception):  # the socket may be gone too
                await send({"type": "websocket.close", "code": CLOSE_RECONNECT})

    async def open(self, groups: Sequence[str], state: Callable[[], Awaitable[str]]) -> None:
        """Join ``groups``, accept, send the page ``state()``, then what was pushed while it was read (held
        back till then: the socket is not open before), so no push is lost and none arrives before the state."""
        self._held = []
        for group in groups:
            await GroupHub.join(group, self)
            self.groups_joined += (group,)
        self._held.clear()  # sent before the state is read: in it
        initial = await state()
        await self.accept()
        await self.send(text_data=initial)
        while self._held:
            await self._handle(self._held.pop(0))
        self._held = None

    async def deliver(self, message: dict[str, Any]) -> None:
        """A push from a group's hub: held back while the socket is still opening, else handled."""
        if self._held is not None:
            self._held.append(message)
        else:
            await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") == "fragment":
            await self.send(text_data=message["html"])
        else:
            await self.dispatch(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its hop to the sync thread to close stale database connections before
        every message. Ours reach the database only through database_sync_to_async, which does that itself;
        and a fragment for a page with two hundred sockets made two hundred such hops, one after another."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Pages only listen; anything they send is ignored."""

    def stop_listening(self) -> None:
        for group in self.groups_joined:
            GroupHub.leave(group, self)
        self.groups_joined = ()

    async def reconnect(self) -> None:
        """Ask the page to open its socket again (static/js/live.js does): it missed what Redis lost."""
        await self.end(CLOSE_RECONNECT)

    async def end(self, code: int) -> None:
        """Stop listening and close with ``code`` (the page reads it), then ``left``."""
        self.stop_listening()
        with contextlib.suppress(Exception):  # the socket may be gone already
            await self.close(code=code)
        await self.left()

    async def disconnect(self, code: int) -> None:
        self.stop_listening()
        await self.left()

    async def left(self) -> None:
        """The socket is closed (by the page or by us): a subclass tidies up what it keeps. Called at least
        once; make it safe to call twice."""

    async def lost(self) -> None:
        """Redis went away: a subclass stops what it runs beside the socket."""
