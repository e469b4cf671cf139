"""The library: a person's tracks and those shared with them, uploading, and the whole library as Rekordbox XML."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit.core import is_ratelimited

from .. import actions, limits
from ..files import downloads, uploads
from ..forms import UploadForm
from ..live import panels
from ..models import Track
from .common import Refused, long_running


@require_safe
def library(request: HttpRequest) -> HttpResponse:
    return render(request, "tracks/library.html", {
        **panels.library_data(request.user),
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "max_minutes": settings.MAX_DURATION_S // 60,
    })


def store_upload(request: HttpRequest, files: Any = None) -> Track:
    """The request's file stored as the person's track with its analysis queued (the page's upload and the
    API's both come here), or Refused (400, 409 for a file the person has already, naming that track, 413 or
429). The rate (django-ratelimit, per person) is counted here."""
    if is_ratelimited(request, group="upload", key="user", rate=limits.upload_rate, increment=True):
        raise Refused(429, f"Too many uploads: {settings.UPLOAD_RATE.replace('/', ' per ')} at most. "
                                 "Try again later.")
    form = UploadForm(request.POST, request.FILES if files is None else files)  # read here: the size is known
    if getattr(request, "upload_too_large", False):
        raise Refused(400, uploads.too_large_message())
    if not form.is_valid():
        raise Refused(400, form.errors["file"][0])
    try:
        return actions.upload(form.cleaned_data["file"], request.user)
    except uploads.AudioRejected as exc:
        raise Refused(400, str(exc)) from None
    except uploads.Duplicate as exc:
        raise Refused(409, str(exc), exc.track) from None
    except limits.QuotaFull as exc:
        raise Refused(413, str(exc)) from None


@long_running
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    is_xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    try:
        track = store_upload(request)
    except Refused as refused:
        if is_xhr:
            return render(request, "tracks/upload_error.html", {"error": str(refused), "existing": refused.track},
                          status=refused.status)
        messages.error(request, str(refused))
        return redirect("library")
    if is_xhr:
        return render(request, panels.ROW_TEMPLATE, panels.row_data(track), status=201)
    messages.success(request, f"Uploaded “{track.title}”; analysis is queued.")
    return redirect("library")


@require_safe
def library_rekordbox(request: HttpRequest) -> HttpResponse:
    """The person's own tracks as Rekordbox's collection XML."""
    tracks = list(Track.objects.filter(owner=request.user).order_by("created", "id"))
    return downloads.rekordbox_response(tracks, "SoundForge - rekordbox.xml")
