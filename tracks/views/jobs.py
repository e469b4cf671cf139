"""Starting jobs (analysis, separation, render, transcription) and cancelling one: each answered with its
kind's panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from .. import access, actions, jobs, limits
from ..forms import RenderForm, SeparationForm, TranscribeForm
from ..models import Job, Stem, Track
from .common import Refused, downloadable_stems, panel_reply, said


def separation_form(data: object) -> SeparationForm:
    return SeparationForm(data, models=jobs.separation_models(), default_model=settings.DEFAULT_SEPARATION_MODEL)


# What each kind's start asks for: (its form or None, the job's options from the valid form). The pages'
# views and the API (tracks/api/jobs.py) both start jobs through these.
Request = tuple[Any, Callable[[], dict[str, Any]]]


def separation_request(data: object) -> Request:
    form = separation_form(data)
    return form, lambda: {"model": form.cleaned_data["model"], "format": form.cleaned_data["format"]}


def render_request(data: object, stems: list[Stem]) -> Request:
    form = RenderForm(data, [s.name for s in stems])
    return form, lambda: {**form.options(), "separation": str(stems[0].job.uuid)}


def transcription_request(data: object, stems: list[Stem]) -> Request:
    form = TranscribeForm(data, [s.name for s in stems])
    return form, lambda: {"separation": str(stems[0].job.uuid), "stems": form.cleaned_data["stems"]}


def start_job(user: Any, track: Track, kind: str, form: Any = None,
              options: Callable[[], dict[str, Any]] = dict) -> None:
    """Start a job of this kind with the ``options`` of a valid ``form``, or Refused: 400 for the form, 429 when
    the person has too many jobs at once, 413 when the storage quota would overflow."""
    if form is not None and not form.is_valid():
        raise Refused(400, said(form))
    try:
        actions.start(kind, track, user, options())
    except limits.Busy as exc:
        raise Refused(429, str(exc)) from None
    except limits.QuotaFull as exc:
        raise Refused(413, str(exc)) from None


@require_POST
def track_analyse(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    return _start_job(request, track, Job.Kind.ANALYSIS)


@require_POST
def track_separate(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    return _start_job(request, track, Job.Kind.SEPARATION, *separation_request(request.POST))


@require_POST
def stems_render(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Render the mix as the mixer plays it (a job: progress and the file arrive in the render panel)."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    return _start_job(request, track, Job.Kind.RENDER, *render_request(request.POST, stems))


@require_POST
def stems_transcribe(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Transcribe some of a separation's stems to MIDI (a job: progress, then the piano rolls and files)."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    return _start_job(request, track, Job.Kind.TRANSCRIPTION, *transcription_request(request.POST, stems))


def _start_job(request: HttpRequest, track: Track, kind: str, form: Any = None,
               options: Callable[[], dict[str, Any]] = dict) -> HttpResponse:
    """Start a job, answered with the kind's panel: the job in it, or why there is none in words (the panel's
    ``<kind>_error``)."""
    panel = jobs.KINDS[kind].panel
    try:
        start_job(request.user, track, kind, form, options)
    except Refused as refused:
        return panel_reply(request, track, panel, refused.status, str(refused), **{f"{kind}_error": str(refused)})
    return panel_reply(request, track, panel)


@require_POST
def job_cancel(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    job = get_object_or_404(Job.objects.select_related("track"), track=track, uuid=job_uuid)
    actions.cancel(job)
    return panel_reply(request, track, jobs.KINDS[job.kind].panel)
