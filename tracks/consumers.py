"""Websocket consumers: authenticate from the session, ask access.py, join groups, forward fragments.

One socket per page. On connect the socket is sent the current fragments, so a page never misses what
happened between rendering and connecting (or while it was reconnecting). When who may do what with a
track changes, every socket on its page asks access.py again: those no longer allowed are closed (the page
says the access ended and stops playing), those whose rights changed tell their page to fetch its controls
again; a socket let in by expiring links checks again when they expire. Logging out closes every socket of
that session. Track sockets also say who is on the page (presence.py), pushed to everyone there as people
come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import datetime
from typing import Any

import redis
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from soundforge.runtime.hub import GroupHub

from . import access, events, panels, presence

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# A link's expiry is checked this long after it: the database's clock and ours may differ a little.
EXPIRY_SLACK_S = 0.5
# "Open me again" (static/js/live.js reopens the socket after it; the new one is sent the current fragments).
# Not 1012, "Service Restart", which the htmx ws extension would act on by itself: servers may not send it.
CLOSE_RECONNECT = 4012

logger = logging.getLogger(__name__)


ANNOUNCE_S = 0.5
_announcing: dict[str, asyncio.Task] = {}


async def _announce_soon(track_uuid: str) -> None:
    try:
        await asyncio.sleep(ANNOUNCE_S)
    finally:
        del _announcing[track_uuid]  # who comes or goes from now on is announced by the next one
    try:
        people = await presence.people(track_uuid)
        await database_sync_to_async(events.presence_changed)(track_uuid, people)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.warning("could not announce who is on %s: %s", track_uuid, exc)


class LiveConsumer(AsyncWebsocketConsumer):
    """/ws/library/ joins the user's library group; /ws/tracks/<uuid>/ joins that track's group (for its
    owner, those it is shared with, and holders of a usable share link)."""

    group: str | None = None
    session_group: str | None = None
    track_uuid: str | None = None
    rights: dict[str, Any] | None = None
    _refresh: asyncio.Task | None = None
    _expiry: asyncio.Task | None = None
    _held: list[dict[str, Any]] | None = None

    async def __call__(self, scope, receive, send) -> None:
        """Redis went away under the channel layer (restarted, say): ask the page to reconnect, which
        catches it up, rather than end with an internal error."""
        try:
            await super().__call__(scope, receive, send)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("websocket %s lost Redis (%s); asking the page to reconnect", scope.get("path"), exc)
            if self._refresh is not None:
                self._refresh.cancel()
            with contextlib.suppress(Exception):  # the socket may be gone too
                await send({"type": "websocket.close", "code": CLOSE_RECONNECT})

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.track_uuid = self.scope["url_route"]["kwargs"].get("track_uuid")
        if self.track_uuid is None:
            if user is None or not user.is_authenticated:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            self.group = events.library_group(user.pk)
            render = functools.partial(panels.render_library, user)
        else:
            looked = await self._look()
            if looked is None:
                await self.close(code=CLOSE_NOT_FOUND if user and user.is_authenticated else CLOSE_UNAUTHENTICATED)
                return
            track, self.rights, ends = looked
            self.group = events.track_group(track.uuid)
            render = functools.partial(panels.render, track, panels.LIVE)
            self._expire_at(ends)
        # Listening first, then the current state, then what was pushed while it was rendered (held back
        # till then: the socket is not open before), so no push is lost and none arrives before the state.
        self._held = []
        await GroupHub.join(self.group, self)
        session = self.scope.get("session")
        if session is not None and session.session_key:
            self.session_group = events.session_group(session.session_key)
            await GroupHub.join(self.session_group, self)
        self._held.clear()  # sent before the state is read: in it
        initial = await database_sync_to_async(render)()
        await self.accept()
        await self.send(text_data=initial)
        while self._held:
            await self._handle(self._held.pop(0))
        self._held = None
        if self.track_uuid is not None:
            await self._join()

    # -- presence: who is on a track's page ------------------------------------------------------------------

    async def _join(self) -> None:
        # The display name is a row of its own: read off the event loop.
        who = await database_sync_to_async(presence.person)(self.scope.get("user"), self.channel_name)
        await presence.join(self.track_uuid, self.channel_name, who)
        await self._announce()
        self._refresh = asyncio.create_task(self._keep_present(who))

    async def _keep_present(self, who: dict[str, str]) -> None:
        while True:
            await asyncio.sleep(presence.REFRESH_S)
            try:
                await presence.join(self.track_uuid, self.channel_name, who)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # the next round tries again
                logger.warning("could not refresh presence on %s: %s", self.track_uuid, exc)

    async def _leave(self) -> None:
        """Once only, whether the socket closed itself or was closed for losing access."""
        if self._refresh is None:
            return
        self._refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._refresh
        self._refresh = None
        await presence.leave(self.track_uuid, self.channel_name)
        await self._announce()

    async def _announce(self) -> None:
        """Tell everyone on the page who is there: once for all the comings and goings of ANNOUNCE_S (per web
        process), so a crowd arriving makes one push each rather than one per person to every person."""
        if self.track_uuid not in _announcing:
            _announcing[self.track_uuid] = asyncio.create_task(_announce_soon(self.track_uuid))

    @database_sync_to_async
    def _look(self) -> tuple[Any, dict[str, Any], datetime | None] | None:
        """The track, what this socket's person may do with it, and when that ends by itself; None when they
        may not see it."""
        who = access.actor(self.scope)
        track = access.find_viewable(who, self.track_uuid)
        if track is None:
            return None
        return track, access.rights(who, track), access.access_ends(who, track)

    def _expire_at(self, ends: datetime | None) -> None:
        """Check access again the moment the links that let this socket in expire."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if ends is not None:
            self._expiry = asyncio.create_task(self._check_at(ends))

    async def _check_at(self, ends: datetime) -> None:
        await asyncio.sleep(max(0.0, (ends - timezone.now()).total_seconds()) + EXPIRY_SLACK_S)
        self._expiry = None
        await self.access_check({"type": "access.check"})

    def _stop_listening(self) -> None:
        for group in (self.group, self.session_group):
            if group:
                GroupHub.leave(group, self)
        self.group = self.session_group = None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def disconnect(self, code: int) -> None:
        self._stop_listening()
        await self._leave()

    async def reconnect(self) -> None:
        """Ask the page to open its socket again (static/js/live.js does): it missed what Redis lost."""
        await self._end(CLOSE_RECONNECT)

    async def deliver(self, message: dict[str, Any]) -> None:
        """A push from the group's hub: held back while the socket is still connecting, else handled."""
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

    async def fragment(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["html"])

    async def access_check(self, event: dict[str, str]) -> None:
        """Who may do what with the track changed: close if this person may no longer see it; if what they
        may do changed, tell the page to fetch its controls again."""
        if self.track_uuid is None or self.group is None:
            return
        looked = await self._look()
        if looked is None:
            await self._end(CLOSE_NOT_FOUND)
            return
        _, rights, ends = looked
        self._expire_at(ends)
        if rights != self.rights:
            self.rights = rights
            await self.send(text_data=events.access_notice(self.track_uuid))

    async def session_ended(self, event: dict[str, str]) -> None:
        """The session logged out: its pages stop updating (static/js/live.js says so and stops playing)."""
        await self._end(CLOSE_UNAUTHENTICATED)

    async def _end(self, code: int) -> None:
        self._stop_listening()
        with contextlib.suppress(Exception):  # the socket may be gone already
            await self.close(code=code)
        await self._leave()
