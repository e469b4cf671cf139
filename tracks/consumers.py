"""Websocket consumers: authenticate from the session, ask access.py, join groups, forward fragments.

One socket per page. On connect the socket is sent the current fragments, so a page never misses what
happened between rendering and connecting (or while it was reconnecting). When who may see a track
changes, every socket on its page asks access.py again and those no longer allowed are closed. Track
sockets also say who is on the page (presence.py), pushed to everyone there as people come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import access, events, presence

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
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
    track_uuid: str | None = None
    _refresh: asyncio.Task | None = None

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
            initial = await database_sync_to_async(events.render_library_list)(user.pk)
        else:
            track = await self._viewable_track()
            if track is None:
                await self.close(code=CLOSE_NOT_FOUND if user and user.is_authenticated else CLOSE_UNAUTHENTICATED)
                return
            self.group = events.track_group(track.uuid)
            initial = await database_sync_to_async(events.render_track_panels)(track)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=initial)
        if self.track_uuid is not None:
            await self._join()

    # -- presence: who is on a track's page ------------------------------------------------------------------

    async def _join(self) -> None:
        who = presence.person(self.scope.get("user"), self.channel_name)
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
    def _viewable_track(self) -> object | None:
        return access.find_viewable(access.actor(self.scope), self.track_uuid)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self._leave()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Pages only listen; anything they send is ignored."""

    async def fragment(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["html"])

    async def access_check(self, event: dict[str, str]) -> None:
        if self.track_uuid is not None and await self._viewable_track() is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=CLOSE_NOT_FOUND)
            await self._leave()
