"""A track's stems and what is made of them: each stem (byte ranges), a separation's zip, its mix with levels
and pans, bars as a loop, every section as loops, a render's file, a stem's notes as MIDI. Each is the page's
own download (tracks/views/files.py), its refusals as problem JSON."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Router

from .. import access
from ..views import files
from .auth import who
from .library import listening
from .problems import as_problem
from .schemas import StemOut, stem_out

router = Router(tags=["stems"])


@router.get("/tracks/{track}/stems", response=list[StemOut], url_name="stems")
def stem_list(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    """Every separation's stems, newest separation first."""
    found = access.get_viewable(who(request), track)
    stems = found.stems.select_related("track", "job").order_by("-job__created", "-job_id", "name")
    return [stem_out(request, s) for s in stems]


@router.get("/tracks/{track}/stems/{stem}", url_name="stem", tags=["files"])
def stem_file(request: HttpRequest, track: UUID, stem: UUID) -> HttpResponse:
    """A stem's file as an attachment (byte ranges answered); a listen-only link plays its preview
    (``?listen=1``, what the mixer plays)."""
    listening(request)
    return as_problem(files.stem_file(request, track_uuid=str(track), stem_uuid=str(stem)))


@router.get("/tracks/{track}/separations/{separation}/zip", url_name="stems_zip", tags=["files"])
def stems_zip(request: HttpRequest, track: UUID, separation: UUID) -> HttpResponse:
    """All of a separation's stems in one zip, streamed."""
    return as_problem(files.stems_zip(request, track_uuid=str(track), job_uuid=str(separation)))


@router.get("/tracks/{track}/separations/{separation}/mix", url_name="stems_mix", tags=["files"])
def stems_mix(request: HttpRequest, track: UUID, separation: UUID) -> HttpResponse:
    """The stems mixed to one WAV: ``?gain_<stem>=`` (0 to 4) and ``?pan_<stem>=`` (-1 to 1)."""
    return as_problem(files.stems_mix(request, track_uuid=str(track), job_uuid=str(separation)))


@router.get("/tracks/{track}/separations/{separation}/loop", url_name="stems_loop", tags=["files"])
def stems_loop(request: HttpRequest, track: UUID, separation: UUID) -> HttpResponse:
    """Bars ``first`` to ``last`` (from 1) of the mix or a stem (``what``) as a WAV loop on the bar grid."""
    return as_problem(files.stems_loop(request, track_uuid=str(track), job_uuid=str(separation)))


@router.get("/tracks/{track}/separations/{separation}/loops", url_name="stems_loops", tags=["files"])
def stems_loops(request: HttpRequest, track: UUID, separation: UUID) -> HttpResponse:
    """Every section as a loop, in a zip."""
    return as_problem(files.stems_loop(request, track_uuid=str(track), job_uuid=str(separation),
                                       every_section=True))


@router.get("/tracks/{track}/separations/{separation}/midi/{stem}", url_name="stem_midi", tags=["exports"])
def stem_midi(request: HttpRequest, track: UUID, separation: UUID, stem: str) -> HttpResponse:
    """A transcribed stem's notes as a MIDI file on the song's tempo map (``?grid=8`` or ``16``: quantized)."""
    return as_problem(files.stem_midi(request, track_uuid=str(track), job_uuid=str(separation), name=stem))


@router.get("/tracks/{track}/renders/{render}", url_name="render_file", tags=["files"])
def render_file(request: HttpRequest, track: UUID, render: UUID) -> HttpResponse:
    """A finished render's file."""
    return as_problem(files.render_file(request, track_uuid=str(track), job_uuid=str(render)))
