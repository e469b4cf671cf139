"""The one place that talks to the channel layer: group names, and what is pushed to them when.

Pages get HTML, not JSON: the same panels that render the first page (panels.py) are rendered here and
swapped in by the htmx ws extension by their stable ids (``track-<uuid>``, ``job-panel-<uuid>``, ...).
Actions say what changed (``changed(track, *facts)``); this module decides what that pushes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from typing import Any

from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .. import access
from ..models import Job, Track
from . import panels, webhooks

logger = logging.getLogger(__name__)


def track_group(track_uuid: uuid.UUID | str) -> str:
    return f"track-{track_uuid}"


def library_group(user_id: int) -> str:
    return f"library-{user_id}"


def api_group(user_id: int) -> str:
    """A person's API sockets (``/ws/api/``): JSON events about the jobs of every track they have."""
    return f"api-{user_id}"


def session_group(session_key: str) -> str:
    """Every socket a browser session has open (its pages close when it logs out)."""
    return f"session-{session_key}"


def _send(group: str | list[str], html: str) -> None:
    _group_send(group, {"type": "fragment", "html": html})


def _group_send(groups: str | list[str], message: dict[str, Any]) -> None:
    """Send to one group or many, on this process's push loop: async_to_sync would start an event loop, and
    a Redis connection, per push. A track shared with two hundred people is two hundred groups, sent to
    SEND_AT_ONCE at a time."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [groups] if isinstance(groups, str) else groups

    async def send_all() -> None:
        for start in range(0, len(groups), SEND_AT_ONCE):
            await asyncio.gather(*(layer.group_send(group, message) for group in groups[start:start + SEND_AT_ONCE]))

    try:
        asyncio.run_coroutine_threadsafe(send_all(), _push_loop()).result(timeout=PUSH_TIMEOUT_S)
    except Exception:
        # A page missing one update is better than a job failing because Redis blinked.
        logger.exception("could not push to %s", ", ".join(groups[:3]) + ("..." if len(groups) > 3 else ""))


SEND_AT_ONCE = 20
PUSH_TIMEOUT_S = 30
_push: asyncio.AbstractEventLoop | None = None
_push_lock = threading.Lock()


def _push_loop() -> asyncio.AbstractEventLoop:
    """An event loop running in a thread of its own, one per process, so the channel layer keeps its Redis
    connections from one push to the next."""
    global _push
    with _push_lock:
        if _push is None:
            _push = asyncio.new_event_loop()
            threading.Thread(target=_push.run_forever, name="pushes", daemon=True).start()
        return _push


def _forget_push_loop() -> None:
    """In a forked child (an RQ work-horse): the parent's loop thread did not come along, nor may its lock
    have, so the child starts afresh."""
    global _push, _push_lock
    _push, _push_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_push_loop)


def _send_row(track: Track) -> None:
    _send([library_group(user_id) for user_id in access.audience(track)], panels.render_row(track))


def changed(track: Track, *facts: str) -> None:
    """Announce what changed about a track (panels.py's facts), once the transaction commits (at once
    outside one): open pages whose access may have changed ask again first, then the track's page gets the
    panels that show those facts, and everyone who has the track their library row when it shows them."""
    wanted = frozenset(facts)
    names = panels.affected(wanted)  # unknown facts fail here, in the action, not after the commit

    def announce() -> None:
        if panels.ACCESS in wanted:
            access_changed(track)
        if names:
            _send(track_group(track.uuid), panels.render(track, names))
        if wanted & panels.ROW_FACTS:
            _send_row(track)

    transaction.on_commit(announce)


ROW_PROGRESS_S = 1.0
_row_pushed: dict[str, float] = {}


def progressed(track: Track, job: Job | None = None) -> None:
    """A job's progress line: its panels go to the track's page, and the library rows of everyone who has
    the track (a push each) follow at most once a second, or a track shared with many would cost every line
    a push per person; so does the job's ``job.progress`` to their API sockets. The job's end pushes them
    all (jobs.running.ended)."""
    _send(track_group(track.uuid), panels.render(track, panels.affected({panels.JOB})))
    now = time.monotonic()
    if now - _row_pushed.get(str(track.uuid), -ROW_PROGRESS_S) >= ROW_PROGRESS_S:
        _row_pushed[str(track.uuid)] = now
        _send_row(track)
        if job is not None:
            job_event(job, "job.progress")


def job_data(job: Job) -> dict[str, Any]:
    """A job as its events carry it (the API socket's and the webhooks'): what GET .../jobs/<uuid> answers,
    less the URLs' host."""
    return {"uuid": str(job.uuid), "track": str(job.track.uuid), "track_title": job.track.title, "kind": job.kind,
            "status": job.status, "progress": job.progress, "stage": job.stage, "eta": job.eta, "error": job.error,
            "options": job.options, "url": reverse("api:job", args=[job.track.uuid, job.uuid])}


def job_event(job: Job, event: str) -> None:
    """``job.started``, ``job.progress``, ``job.succeeded``, ``job.failed`` or ``job.cancelled`` to the API
    sockets of everyone who has the track (once the transaction commits); the ends also go to the
    webhooks of its owner and of who asked for it (webhooks.py)."""
    data = job_data(job)

    def announce() -> None:
        _group_send([api_group(u) for u in access.audience(job.track)],
                    {"type": "api.event", "event": {"type": event, "data": data}})
        if event != "job.progress":
            webhooks.announce(event, data, {job.track.owner_id, job.requested_by_id} - {None})

    transaction.on_commit(announce)


def track_created(track: Track) -> None:
    """A new track (an upload, whichever door): ``track.created`` to its owner's webhooks."""
    data = {"uuid": str(track.uuid), "title": track.title, "original_name": track.original_name,
            "duration": track.duration, "url": reverse("api:track", args=[track.uuid])}
    transaction.on_commit(lambda: webhooks.announce("track.created", data, {track.owner_id}))


def presence_changed(track_uuid: object, people: list[dict[str, str]]) -> None:
    """Push who is on the track's page now to everyone on it."""
    context = {"track": {"uuid": track_uuid}, "people": people}
    _send(track_group(track_uuid), render_to_string(panels.PANELS["presence-panel"].template, context))


def access_changed(track: Track) -> None:
    """Who may see the track changed (a share or link revoked, the track deleted): every socket on its page
    asks access.py again and closes if the answer is now no."""
    _group_send(track_group(track.uuid), {"type": "access.check"})


def access_notice(track_uuid: object) -> str:
    """Sent to one socket whose person's rights on the track changed: static/js/live.js then fetches the
    page's controls for them again (views/track.py: track_controls)."""
    return render_to_string("tracks/access_notice.html", {"track_uuid": track_uuid, "changed": time.time()})


def session_ended(session_key: str | None) -> None:
    """A session logged out: close every socket it has open."""
    if session_key:
        _group_send(session_group(session_key), {"type": "session.ended"})


def library_changed(user_id: int) -> None:
    """Tracks were added to or removed from a person's library: tell their library pages the new version
    (each fetches its list again, as it is searched and sorted there), once the transaction commits."""

    def announce() -> None:
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            _send(library_group(user_id), panels.render_library_changed(user))

    transaction.on_commit(announce)


class _QueuePush:
    """The push of a person's queue to their library pages, as an on-commit callback that says whose it is."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    def __call__(self) -> None:
        _send(library_group(self.user_id), panels.render_queue(self.user_id))


def queue_changed(user_id: int | None) -> None:
    """A person's jobs were queued, started, promoted, ended or cancelled: their library pages get their
    queue (panels.render_queue) when the transaction commits, once per person however many changed. (The
    callbacks waiting for the commit are the connection's own, so a rolled-back one leaves nothing behind.)"""
    if user_id is None:
        return
    pending = transaction.get_connection().run_on_commit
    if not any(isinstance(entry[1], _QueuePush) and entry[1].user_id == user_id for entry in pending):
        transaction.on_commit(_QueuePush(user_id))
