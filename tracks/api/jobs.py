"""Jobs: the caller's (paged), a track's, one; starting an analysis, a separation, a render or a transcription
(202 with the job); cancelling one. Each starts through the page's own path (views/jobs.start_job: the form,
the limits, the quota), so the API refuses what the page refuses, in the same words."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from .. import access, actions, jobs
from ..models import Job, Track
from ..views import jobs as page
from ..views.common import downloadable_stems
from .auth import signed_in, who, writer
from .problems import Problem
from .schemas import JobOut, Render, Separate, Transcribe, form_data, job_out

router = Router(tags=["jobs"])


@router.get("/jobs", response=list[JobOut], url_name="jobs")
def job_list(request: HttpRequest, status: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """The jobs the caller asked for, newest first (``status``: queued, running, succeeded, failed,
    cancelled)."""
    user = signed_in(request)
    if not 1 <= limit <= 200:
        raise Problem(400, "limit: from 1 to 200.")
    found = Job.objects.filter(requested_by=user, track__in=access.viewable_tracks(user)).select_related("track")
    if status:
        found = found.filter(status=status)
    return [job_out(request, j) for j in found.order_by("-created", "-id")[:limit]]


@router.get("/tracks/{track}/jobs", response=list[JobOut], url_name="track_jobs")
def track_jobs(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    found = access.get_viewable(who(request), track)
    return [job_out(request, j) for j in found.jobs.select_related("track").order_by("-created", "-id")]


@router.get("/tracks/{track}/jobs/{job}", response=JobOut, url_name="job")
def job_get(request: HttpRequest, track: UUID, job: UUID) -> dict[str, Any]:
    found = access.get_viewable(who(request), track)
    return job_out(request, get_object_or_404(Job.objects.select_related("track"), track=found, uuid=job))


@router.post("/tracks/{track}/jobs/{job}/cancel", response=JobOut, url_name="job_cancel")
def job_cancel(request: HttpRequest, track: UUID, job: UUID) -> dict[str, Any]:
    found = access.get_editable(writer(request), track)
    row = get_object_or_404(Job.objects.select_related("track"), track=found, uuid=job)
    actions.cancel(row)
    row.refresh_from_db()
    return job_out(request, row)


def _started(request: HttpRequest, track: Track, kind: str, form: Any = None, options: Any = dict
             ) -> Status:
    page.start_job(request.user, track, kind, form, options)  # Refused: problem JSON (app.py)
    return Status(202, job_out(request, track.latest_job(kind)))


@router.post("/tracks/{track}/analyse", response={202: JobOut}, url_name="analyse")
def analyse(request: HttpRequest, track: UUID) -> Status:
    """Analyse again (the latest analysis job when one is already queued or running)."""
    return _started(request, access.get_editable(writer(request), track), Job.Kind.ANALYSIS)


@router.post("/tracks/{track}/separate", response={202: JobOut}, url_name="separate")
def separate(request: HttpRequest, track: UUID, body: Separate) -> Status:
    """Separate into stems with a model (``GET /models`` lists them) and a format."""
    found = access.get_editable(writer(request), track)
    data = form_data(body)
    data.setdefault("model", page.separation_form(None).fields["model"].initial)
    return _started(request, found, Job.Kind.SEPARATION, *page.separation_request(data))


@router.post("/tracks/{track}/separations/{separation}/render", response={202: JobOut}, url_name="render")
def render(request: HttpRequest, track: UUID, separation: UUID, body: Render) -> Status:
    """Render the stems' mix at a speed and pitch, with levels and pans, to a file kept with the track."""
    writer(request)
    found, stems = downloadable_stems(request, str(track), str(separation))
    return _started(request, found, Job.Kind.RENDER, *page.render_request(form_data(body), stems))


@router.post("/tracks/{track}/separations/{separation}/transcribe", response={202: JobOut}, url_name="transcribe")
def transcribe(request: HttpRequest, track: UUID, separation: UUID, body: Transcribe) -> Status:
    """Transcribe stems to notes (MIDI: ``GET .../midi/<stem>``)."""
    writer(request)
    found, stems = downloadable_stems(request, str(track), str(separation))
    return _started(request, found, Job.Kind.TRANSCRIPTION, *page.transcription_request(form_data(body), stems))


@router.get("/models", url_name="models", tags=["jobs"])
def models(request: HttpRequest) -> list[dict[str, Any]]:
    """The separation models, whether each can run here, and the default."""
    return jobs.separation_models()
