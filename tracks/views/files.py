"""Serving a track's files: the original or its preview, the tagged copy, the analysis exports, stems, zips, mixes,
loops, renders and MIDI."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from .. import access
from ..files import downloads
from ..forms import LoopForm, MixForm
from ..models import Job
from ..music import loops
from .common import downloadable_stems, long_running, open_to_links, said


@long_running
@open_to_links
@require_safe
def track_audio(request: HttpRequest, track_uuid: str) -> HttpResponse:
    as_attachment = request.GET.get("download") == "1"
    who = access.actor(request)
    track = (access.get_downloadable if as_attachment else access.get_viewable)(who, track_uuid)
    # Listen-only link holders play the compressed preview: never the original, through any URL.
    return downloads.audio_response(track, range_header=request.headers.get("Range", ""),
                                    as_attachment=as_attachment, preview=not access.can_download(who, track))


@open_to_links
@require_safe
def track_cover(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The picture embedded in the file, as a small JPEG (whoever may see the track); 404 without one."""
    track = access.get_viewable(access.actor(request), track_uuid)
    if not track.cover:
        raise Http404("No picture")
    response = downloads.stored_response(track.cover, "image/jpeg", f"{track.title}.jpg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@long_running
@open_to_links
@require_safe
def track_tagged(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_downloadable(access.actor(request), track_uuid)
    return downloads.tagged_response(track)


@open_to_links
@require_safe
def analysis_export(request: HttpRequest, track_uuid: str, fmt: str) -> HttpResponse:
    """The latest analysis as JSON (everything the port found) or CSV (one row per beat)."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    analysis = track.latest_analysis()
    if analysis is None:
        raise Http404("Not analysed yet")
    return downloads.analysis_response(track, analysis, fmt)


@long_running
@open_to_links
@require_safe
def render_file(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    """The track's latest rendered mix (an older one is replaced, its file gone)."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    job = track.latest_job(Job.Kind.RENDER)
    if job is None or str(job.uuid) != str(job_uuid) or job.status != Job.Status.SUCCEEDED:
        raise Http404("No such render")
    return downloads.render_response(track, job)


GRIDS = {"": 0, "8": 2, "16": 4}  # ?grid=: none, eighths, sixteenths (divisions of a beat)


@open_to_links
@require_safe
def stem_midi(request: HttpRequest, track_uuid: str, job_uuid: str, name: str) -> HttpResponse:
    """A transcribed stem's notes as a MIDI file on the song's tempo map (``?grid=16``: on sixteenths)."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    stem = next((s for s in stems if s.name == name), None)
    if stem is None:
        raise Http404("This separation has no such stem")
    if not stem.notes:
        raise Http404("This stem has not been transcribed (or holds no notes)")
    grid = request.GET.get("grid", "")
    if grid not in GRIDS:
        return HttpResponse("grid: 8 or 16 (eighths or sixteenths), or none.", status=400)
    return downloads.midi_response(track, stem, GRIDS[grid])


@long_running
@open_to_links
@require_safe
def stem_file(request: HttpRequest, track_uuid: str, stem_uuid: str) -> HttpResponse:
    as_attachment = request.GET.get("download") == "1"
    who = access.actor(request)
    track = (access.get_downloadable if as_attachment else access.get_viewable)(who, track_uuid)
    stem = get_object_or_404(track.stems.select_related("track"), uuid=stem_uuid)
    # The mixer asks for the listening copy (``listen=1``, where there is one); a listen-only link gets it
    # whatever it asks.
    listen = request.GET.get("listen") == "1" and bool(stem.preview) and not as_attachment
    return downloads.stem_response(stem, range_header=request.headers.get("Range", ""),
                                   as_attachment=as_attachment,
                                   preview=listen or not access.can_download(who, track))


@long_running
@open_to_links
@require_safe
def stems_zip(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    return downloads.stems_zip_response(track, stems)


@long_running
@open_to_links
@require_safe
def stems_mix(request: HttpRequest, track_uuid: str, job_uuid: str) -> HttpResponse:
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    form = MixForm(request.GET, [s.name for s in stems])
    if not form.is_valid():
        return HttpResponse(said(form, fields=True), status=400)
    return downloads.mix_response(track, stems, form.gains(), form.pans())


@long_running
@open_to_links
@require_safe
def stems_loop(request: HttpRequest, track_uuid: str, job_uuid: str, every_section: bool = False) -> HttpResponse:
    """Bars of a stem or of the mix as a WAV loop; with ``every_section``, each section as one, in a zip."""
    track, stems = downloadable_stems(request, track_uuid, job_uuid)
    form = LoopForm(request.GET, [s.name for s in stems], with_bars=not every_section)
    if not form.is_valid():
        return HttpResponse(said(form, fields=True), status=400)
    analysis = track.latest_analysis()
    try:
        if analysis is None:
            raise ValueError("This song has no bar grid: analyse it first.")
        if every_section:
            sections = loops.sections(analysis.shown, track.duration)
            if not sections:
                raise ValueError("This song has no sections a bar or longer to cut loops from.")
            return downloads.loops_zip_response(track, stems, analysis, form.what(), sections, form.gains(),
                                                form.pans())
        loop = loops.bars(analysis.shown, track.duration, form.cleaned_data["first"], form.cleaned_data["last"])
    except ValueError as error:
        return HttpResponse(str(error), status=400)
    return downloads.loop_response(track, stems, analysis, form.what(), loop, form.gains(), form.pans())
