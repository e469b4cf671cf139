"""The one place that talks to the channel layer: group names, and the fragments pushed to them.

Pages get HTML, not JSON: the same partials that render the first page are rendered here and swapped in by
the htmx ws extension by their stable ids (``track-<uuid>``, ``job-panel-<uuid>``, ...).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

from . import charts
from .models import Job, Track

logger = logging.getLogger(__name__)


def track_group(track_uuid: uuid.UUID | str) -> str:
    return f"track-{track_uuid}"


def library_group(user_id: int) -> str:
    return f"library-{user_id}"


def track_context(track: Track, detail: bool = False) -> dict[str, Any]:
    """What a track's partials show: its latest analysis job and result; with ``detail``, the whole
    analysis and its pictures (the track page), else only its headline figures (library rows)."""
    job = track.latest_job(Job.Kind.ANALYSIS)
    analysis = track.latest_analysis(with_data=detail)
    return {
        "track": track,
        "job": job,
        "analysis": analysis,
        "charts": charts.for_analysis(analysis.data) if detail and analysis else None,
    }


def render_library_row(track: Track) -> str:
    return render_to_string("tracks/library.html#track-row", track_context(track))


def render_library_list(user_id: int) -> str:
    tracks = Track.objects.filter(owner_id=user_id)
    return render_to_string("tracks/library.html#track-list", {"rows": [track_context(t) for t in tracks]})


def render_track_panels(track: Track) -> str:
    """The live parts of a track page: the job panel and the analysis panel."""
    context = track_context(track, detail=True)
    return render_to_string("tracks/track_detail.html#job-panel", context) + render_to_string(
        "tracks/track_detail.html#analysis-panel", context
    )


def _send(group: str, html: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "fragment", "html": html})
    except Exception:
        # A page missing one update is better than a job failing because Redis blinked.
        logger.exception("could not push to %s", group)


def track_changed(track: Track) -> None:
    """Push a track's current state to its page and its owner's library."""
    _send(track_group(track.uuid), render_track_panels(track))
    _send(library_group(track.owner_id), render_library_row(track))


def library_changed(user_id: int) -> None:
    """Tracks were added or removed: push the whole list to the user's library pages."""
    _send(library_group(user_id), render_library_list(user_id))
