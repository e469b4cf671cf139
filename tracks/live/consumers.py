"""The pages' websockets: a person's library (LibraryConsumer) and a track's page (TrackConsumer), over the
runtime's HubConsumer (soundforge/runtime/live.py: groups, the state on connect, the Channels overrides).

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
import json
import logging
import math
import urllib.parse
from datetime import datetime
from typing import Any

import redis
from channels.db import database_sync_to_async
from django.utils import timezone

from soundforge.runtime.live import HubConsumer

from .. import access
from ..models import ApiToken, Job
from . import events, panels, presence

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
# A link's expiry is checked this long after it: the database's clock and ours may differ a little.
EXPIRY_SLACK_S = 0.5

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


class PageConsumer(HubConsumer):
    """What both pages' sockets do: open on the person's groups with the page's state, and close when their
    session logs out (static/js/live.js says so and stops playing)."""

    async def open_page(self, group: str, render: functools.partial[str]) -> None:
        groups = [group]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            groups.append(events.session_group(session.session_key))
        await self.open(groups, database_sync_to_async(render))

    async def session_ended(self, event: dict[str, str]) -> None:
        await self.end(CLOSE_UNAUTHENTICATED)


class LibraryConsumer(PageConsumer):
    """/ws/library/?since=<when the page was rendered>: the user's library group (their tracks' rows, and the
    library's version when it gains or loses a track)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.open_page(events.library_group(user.pk), functools.partial(panels.library_state, user,
                                                                               self._since()))

    def _since(self) -> float | None:
        """When the page was rendered (its ``?since=``), if it says."""
        query = dict(urllib.parse.parse_qsl(self.scope.get("query_string", b"").decode(errors="replace")))
        try:
            since = float(query.get("since", ""))
        except ValueError:
            return None
        return since if math.isfinite(since) and since > 0 else None


class TrackConsumer(PageConsumer):
    """/ws/tracks/<uuid>/: that track's group, for its owner, those it is shared with, and holders of a usable
    share link; it re-asks access.py when access changes, and keeps this person's presence on the page."""

    track_uuid: str
    rights: dict[str, Any] | None = None
    _refresh: asyncio.Task | None = None
    _expiry: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.track_uuid = self.scope["url_route"]["kwargs"]["track_uuid"]
        looked = await self._look()
        if looked is None:
            await self.close(code=CLOSE_NOT_FOUND if user and user.is_authenticated else CLOSE_UNAUTHENTICATED)
            return
        track, self.rights, ends = looked
        self._expire_at(ends)
        await self.open_page(events.track_group(track.uuid), functools.partial(panels.render, track, panels.LIVE))
        await self._join()

    # -- presence: who is on a track's page ------------------------------------------------------------------

    async def _join(self) -> None:
        # The display name is a row of its own: read off the event loop.
        who = await database_sync_to_async(presence.person)(self.scope.get("user"), self.socket_id)
        await presence.join(self.track_uuid, self.socket_id, who)
        await self._announce()
        self._refresh = asyncio.create_task(self._keep_present(who))

    async def _keep_present(self, who: dict[str, str]) -> None:
        while True:
            await asyncio.sleep(presence.REFRESH_S)
            try:
                await presence.join(self.track_uuid, self.socket_id, who)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # the next round tries again
                logger.warning("could not refresh presence on %s: %s", self.track_uuid, exc)

    async def left(self) -> None:
        """Once only, whether the socket closed itself or was closed for losing access."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._refresh is None:
            return
        self._refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._refresh
        self._refresh = None
        await presence.leave(self.track_uuid, self.socket_id)
        await self._announce()

    async def lost(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()

    async def _announce(self) -> None:
        """Tell everyone on the page who is there: once for all the comings and goings of ANNOUNCE_S (per web
        process), so a crowd arriving makes one push each rather than one per person to every person."""
        if self.track_uuid not in _announcing:
            _announcing[self.track_uuid] = asyncio.create_task(_announce_soon(self.track_uuid))

    # -- access: who may do what, asked again ----------------------------------------------------------------

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

    async def access_check(self, event: dict[str, str]) -> None:
        """Who may do what with the track changed: close if this person may no longer see it; if what they
        may do changed, tell the page to fetch its controls again."""
        if not self.groups_joined:
            return
        looked = await self._look()
        if looked is None:
            await self.end(CLOSE_NOT_FOUND)
            return
        _, rights, ends = looked
        self._expire_at(ends)
        if rights != self.rights:
            self.rights = rights
            await self.send(text_data=events.access_notice(self.track_uuid))


class ApiConsumer(PageConsumer):
    """/ws/api/: JSON events for scripts, about the jobs of every track the person has (``job.started``,
    ``job.progress`` at most once a second per track, ``job.succeeded``, ``job.failed``, ``job.cancelled``),
    each ``{"type": ..., "data": <the job as the API shows it>}``; first a ``hello`` with their jobs queued or
    running. Who: a token in the ``Authorization: Bearer`` header (checked as the API checks it: scripts
    send no Origin, and no browser can send that header), or the page's session."""

    async def connect(self) -> None:
        user = await database_sync_to_async(self._user)()
        if user is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.open_page(events.api_group(user.pk), functools.partial(self._hello, user))

    def _user(self) -> Any:
        token = bearer(self.scope)
        if token is not None:
            found = ApiToken.find(token)
            return found.user if found is not None else None
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    @staticmethod
    def _hello(user: Any) -> str:
        active = Job.objects.filter(track__in=access.viewable_tracks(user), status__in=Job.ACTIVE)
        return json.dumps({"type": "hello", "data": {
            "user": user.pk, "jobs": [events.job_data(j) for j in active.select_related("track").order_by("created")]}})

    async def api_event(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message["event"]))


def bearer(scope: dict[str, Any]) -> str | None:
    """The token of an ``Authorization: Bearer`` header of a socket's handshake, if it has one."""
    value = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
