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
from ..models import Job, Track
from .common import downloadable_stems, panel_reply, said


def separation_form(data: object) -> SeparationForm:
    return SeparationForm(data, models=jobs.separation_models(), default_model=settings.DEFAULT_SEPARATION_MODEL)


@require_POST
def track_analyse(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    return _start_job(request, track, Job.Kind.ANALYSIS)


@require_POST
def track_separate(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    form = separation_form(request.POST)
    return _start_job(request, track, Job.Kind.SEPARATION, form, lambda: {
        "model": form.cleaned_data["model"], "format": form.cleaned_data["format"]})


@require_POST
def stems_render(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Render the mix as the mixer plays it (a job: progress and the file arrive in the render panel)."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    form = RenderForm(request.POST, [s.name for s in stems])
    return _start_job(request, track, Job.Kind.RENDER, form,
                      lambda: {**form.options(), "separation": str(stems[0].job.uuid)})


def _start_job(request: HttpRequest, track: Track, kind: str, form: Any = None,
               options: Callable[[], dict[str, Any]] = dict) -> HttpResponse:
    """Start a job of this kind with the ``options`` of a valid ``form``, answered with the kind's panel: the
    job in it, or why there is none in words (the panel's ``<kind>_error``): 400 for the form, 429 when the
    person has too many jobs at once, 413 when the storage quota would overflow."""
    panel = jobs.KINDS[kind].panel

    def refused(status: int, message: str) -> HttpResponse:
        return panel_reply(request, track, panel, status, message, **{f"{kind}_error": message})

    if form is not None and not form.is_valid():
        return refused(400, said(form))
    try:
        actions.start(kind, track, request.user, options())
    except limits.Busy as exc:
        return refused(429, str(exc))
    except limits.QuotaFull as exc:
        return refused(413, str(exc))
    return panel_reply(request, track, panel)


@require_POST
def stems_transcribe(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """Transcribe some of a separation's stems to MIDI (a job: progress, then the piano rolls and files)."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    form = TranscribeForm(request.POST, [s.name for s in stems])
    return _start_job(request, track, Job.Kind.TRANSCRIPTION, form,
                      lambda: {"separation": str(stems[0].job.uuid), "stems": form.cleaned_data["stems"]})


@require_POST
def job_cancel(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    job = get_object_or_404(Job.objects.select_related("track"), track=track, uuid=job_uuid)
    actions.cancel(job)
    return panel_reply(request, track, jobs.KINDS[job.kind].panel)
