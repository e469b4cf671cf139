"""The library: a person's tracks and those shared with them, uploading, and the whole library as Rekordbox XML."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from .. import actions, limits
from ..files import downloads, uploads
from ..forms import UploadForm
from ..live import panels
from ..models import Track
from .common import long_running


@require_GET
def library(request: HttpRequest) -> HttpResponse:
    return render(request, "tracks/library.html", {
        **panels.library_data(request.user),
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "max_minutes": settings.MAX_DURATION_S // 60,
    })


@long_running
@require_POST
@ratelimit(key="user", rate=limits.upload_rate, method="POST", block=False)
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    is_xhr = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    error = None
    status = 400
    track = None
    if getattr(request, "limited", False):
        error, status = f"Too many uploads: {settings.UPLOAD_RATE.replace('/', ' per ')} at most. Try again later.", 429
    elif getattr(request, "upload_too_large", False):
        error = uploads.too_large_message()
    elif not form.is_valid():
        error = form.errors["file"][0]
    else:
        try:
            track = actions.upload(form.cleaned_data["file"], request.user)
        except uploads.AudioRejected as exc:
            error = str(exc)
        except limits.QuotaFull as exc:
            error, status = str(exc), 413
    if is_xhr:
        if error:
            return render(request, "tracks/upload_error.html", {"error": error}, status=status)
        return render(request, panels.ROW_TEMPLATE, panels.row_data(track), status=201)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Uploaded “{track.title}”; analysis is queued.")
    return redirect("library")


@require_GET
def library_rekordbox(request: HttpRequest) -> HttpResponse:
    """The person's own tracks as Rekordbox's collection XML."""
    tracks = list(Track.objects.filter(owner=request.user).order_by("created", "id"))
    return downloads.rekordbox_response(tracks, "SoundForge - rekordbox.xml")
