"""The one place that talks to the channel layer: group names, and the fragments pushed to them.

Pages get HTML, not JSON: the same partials that render the first page are rendered here and swapped in by
the htmx ws extension by their stable ids (``track-<uuid>``, ``job-panel-<uuid>``, ...).
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
from django.db.models import OuterRef, Subquery
from django.template.loader import get_template, render_to_string
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html

from . import access, charts
from .models import AnalysisResult, Job, Track

logger = logging.getLogger(__name__)


def track_group(track_uuid: uuid.UUID | str) -> str:
    return f"track-{track_uuid}"


def library_group(user_id: int) -> str:
    return f"library-{user_id}"


def session_group(session_key: str) -> str:
    """Every socket a browser session has open (its pages close when it logs out)."""
    return f"session-{session_key}"


def row_context(track: Track, with_data: bool = False) -> dict[str, Any]:
    """What a library row shows: the latest analysis job and the analysis (its headline figures unless
    ``with_data``)."""
    return {
        "track": track,
        "job": track.latest_job(Job.Kind.ANALYSIS),
        "analysis": track.latest_analysis(with_data=with_data),
    }


def track_context(track: Track, detail: bool = False) -> dict[str, Any]:
    """What a track page's panels show: both job panels; with ``detail``, also the whole analysis and its
    pictures and the stems (else only the headline figures, for progress pushes)."""
    # The analysis's data and pictures are loaded only if the template asks: the analysis panel is cached
    # by analysis (it never changes), so most pages and pushes need neither.
    jobs = track.latest_jobs()
    context = {"track": track, "job": jobs.get(Job.Kind.ANALYSIS), "separation_job": jobs.get(Job.Kind.SEPARATION),
               "analysis": track.latest_analysis(with_data=False)}
    if detail:
        analysis = context["analysis"]
        context["charts"] = SimpleLazyObject(lambda: charts.for_analysis(analysis.shown)) if analysis else None
        # The stems panel is cached too, by what it shows: the separations, the beats of its click track, and
        # the title in its download names. Its waveforms are drawn only when that changes.
        context["stem_sets"] = SimpleLazyObject(lambda: stem_sets(track))
        context["stems_version"] = (list(track.stems.order_by("job_id").values_list("job_id", flat=True).distinct()),
                                    analysis.pk if analysis else None, analysis.tempo_factor if analysis else "",
                                    track.title)
    return context


def stem_sets(track: Track) -> list[dict[str, Any]]:
    """The track's separations that have stems, newest first: the first one is the mixer's."""
    sets: dict[int, dict[str, Any]] = {}
    for stem in track.stems.select_related("job").order_by("-job__created", "-job_id", "id"):
        entry = sets.setdefault(stem.job_id, {"job": stem.job, "model": stem.model, "format": stem.format,
                                               "stems": []})
        entry["stems"].append(stem)
    for entry in sets.values():
        waves = charts.stem_waves(entry["stems"])
        entry["strips"] = [{"stem": s, "wave": waves[s.name]} for s in entry["stems"]]
    return list(sets.values())


def render_library_row(track: Track) -> str:
    return render_to_string("tracks/library.html#track-row", row_context(track))


ACTIVITY_SHOWN = 30


def conversation_context(track: Track) -> dict[str, Any]:
    """The track page's comments (with a marker position each) and its latest activity."""
    comments = list(track.comments.select_related("author__profile"))
    for comment in comments:
        comment.x = round(comment.at / track.duration * charts.WIDTH, 1) if track.duration else 0
    return {
        "track": track,
        "comments": comments,
        "activities": track.activities.select_related("actor__profile")[:ACTIVITY_SHOWN],
    }


def presence_changed(track_uuid: object, people: list[dict[str, str]]) -> None:
    """Push who is on the track's page now to everyone on it."""
    context = {"track": {"uuid": track_uuid}, "people": people}
    _send(track_group(track_uuid), render_to_string("tracks/track_detail.html#presence-panel", context))


def comments_changed(track: Track) -> None:
    """Push the comments (list and markers) and the activity list to everyone on the track's page."""
    context = conversation_context(track)
    _send(track_group(track.uuid), "".join(
        render_to_string(f"tracks/track_detail.html#{panel}", context) for panel in CONVERSATION_PANELS
    ))


def library_context(user: Any) -> dict[str, Any]:
    """A user's library: their own tracks, and those shared with them (with whose they are). Three queries
    whatever its length: the tracks with the ids of their latest analysis job and analysis, then those."""
    latest = {"track": OuterRef("pk")}
    tracks = list(access.viewable_tracks(user).select_related("owner__profile").annotate(
        latest_job_id=Subquery(Job.objects.filter(**latest, kind=Job.Kind.ANALYSIS).values("pk")[:1]),
        latest_analysis_id=Subquery(AnalysisResult.objects.filter(**latest).values("pk")[:1]),
    ))
    jobs = Job.objects.in_bulk([t.latest_job_id for t in tracks if t.latest_job_id])
    analyses = AnalysisResult.objects.defer("data").in_bulk([t.latest_analysis_id for t in tracks
                                                             if t.latest_analysis_id])
    rows = [{"track": t, "job": jobs.get(t.latest_job_id), "analysis": analyses.get(t.latest_analysis_id)}
            for t in tracks]
    return {
        "rows": [row for row in rows if row["track"].owner_id == user.pk],
        "shared_rows": [row for row in rows if row["track"].owner_id != user.pk],
    }


def render_library_list(user_id: int) -> str:
    user = get_user_model().objects.get(pk=user_id)
    return render_to_string("tracks/library.html#track-list", library_context(user))


JOB_PANELS = ("job-panel", "separation-job-panel")
RESULT_PANELS = ("analysis-panel", "stems-panel")
CONVERSATION_PANELS = ("comments-panel", "activity-panel")


ALL_PANELS = JOB_PANELS + RESULT_PANELS + CONVERSATION_PANELS


def render_track_panels(track: Track, panels: tuple[str, ...] = ALL_PANELS) -> str:
    """The live parts of a track page: the job panels, the analysis, the stems with their mixer, the
    comments and the activity."""
    context = track_context(track, detail=bool(set(panels) & set(RESULT_PANELS)))
    if set(panels) & set(CONVERSATION_PANELS):
        context.update(conversation_context(track))
    return "".join(render_to_string(f"tracks/track_detail.html#{panel}", context) for panel in panels)


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


PUSHED_TEMPLATES = [*(f"tracks/track_detail.html#{panel}" for panel in (
    "job-panel", "separation-job-panel", "analysis-panel", "stems-panel", "comments-panel", "activity-panel",
    "presence-panel")), "tracks/library.html#track-row", "tracks/library.html#track-list"]


def load_templates() -> None:
    """Compile the templates pushes render (the track page's alone takes ~90 ms): a worker does this once,
    before it forks a work-horse per job, which would otherwise compile them for its first push."""
    for name in PUSHED_TEMPLATES:
        get_template(name)


def _send_row(track: Track) -> None:
    _send([library_group(user_id) for user_id in access.audience(track)], render_library_row(track))


def track_changed(track: Track, panels: tuple[str, ...] = ALL_PANELS) -> None:
    """Push a track's current state (its ``panels``, all by default) to its page and its row to the library
    of everyone who has it."""
    _send(track_group(track.uuid), render_track_panels(track, panels))
    _send_row(track)


# What a job's success changes on the page beside its panel and the activity: an analysis, its panel and the
# stems panel (its click track follows the beats); a separation, the stems panel. The analysis panel is the
# page's largest (its pictures): pushed to two hundred people when a separation ends, for nothing, it was
# most of 55 MB of websocket writes.
RESULTS_OF = {Job.Kind.ANALYSIS: RESULT_PANELS, Job.Kind.SEPARATION: ("stems-panel",)}


def job_ended(track: Track, job: Job) -> None:
    """Push what a job's end changed to its track's page (the job panels; when it succeeded, its results and
    the activity) and the track's row to the library of everyone who has it."""
    changed = RESULTS_OF[job.kind] + ("activity-panel",) if job.status == Job.Status.SUCCEEDED else ()
    track_changed(track, JOB_PANELS + changed)


ROW_PROGRESS_S = 1.0
_row_pushed: dict[str, float] = {}


def jobs_changed(track: Track, progress: bool = False) -> None:
    """Push only a track's job panels: results, and the mixer playing on the page, stay put.

    For a ``progress`` line, the library rows of everyone who has the track (a push each) follow at most
    once a second: a track shared with many would otherwise cost every line a push per person. The job's
    end pushes them all (job_ended)."""
    _send(track_group(track.uuid), render_track_panels(track, JOB_PANELS))
    now = time.monotonic()
    if not progress or now - _row_pushed.get(str(track.uuid), -ROW_PROGRESS_S) >= ROW_PROGRESS_S:
        _row_pushed[str(track.uuid)] = now
        _send_row(track)


def access_changed(track: Track) -> None:
    """Who may see the track changed (a share or link revoked, the track deleted): every socket on its page
    asks access.py again and closes if the answer is now no."""
    _group_send(track_group(track.uuid), {"type": "access.check"})


def access_notice(track_uuid: object) -> str:
    """Sent to one socket whose person's rights on the track changed: static/js/live.js then fetches the
    page's controls for them again (views.track_controls)."""
    return format_html('<div id="access-{}" hidden data-changed="{}"></div>', track_uuid, time.time())


def session_ended(session_key: str | None) -> None:
    """A session logged out: close every socket it has open."""
    if session_key:
        _group_send(session_group(session_key), {"type": "session.ended"})


def library_changed(user_id: int) -> None:
    """Tracks were added or removed: push the whole list to the user's library pages."""
    _send(library_group(user_id), render_library_list(user_id))
