"""What the views share: the track page's URL, the marks for long-running and link-open views, a form's errors in
words, why something was refused, and one answer for a change made from a panel."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .. import access
from ..live import panels
from ..models import Stem, Track


def track_url(track: Track) -> str:
    return reverse("track", args=[track.uuid])


def long_running(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view that may take a while (an upload decoded whole, a file or a mix streamed out): the web process
    runs it on its threads for such requests, so the pages behind it do not wait (soundforge/asgi.py)."""
    view.long_running = True
    return view


def open_to_links(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A track view that share-link holders may reach without an account (access.py still decides); an
    anonymous visitor with no link is sent to log in rather than told the track does not exist."""

    @login_not_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Http404:
            if not request.user.is_authenticated and not access.actor(request).link_tokens:
                return redirect_to_login(request.get_full_path())
            raise

    return wrapper


class Refused(Exception):
    """Why a thing asked for was not done (an upload stored, a job started), in words, with its HTTP status; a
    file the person has already names that ``track``. The pages answer it in a panel or a line, the API as
    problem JSON (tracks/api/app.py)."""

    def __init__(self, status: int, message: str, track: Track | None = None) -> None:
        super().__init__(message)
        self.status, self.track = status, track


def said(form: Any, fields: bool = False, sep: str = " ") -> str:
    """A form's errors in words for a 400: every message, or with ``fields`` the first of each field, named."""
    if fields:
        return sep.join(f"{k}: {v[0]}" for k, v in form.errors.items())
    return sep.join(e for errors in form.errors.values() for e in errors)


def downloadable_stems(request: HttpRequest, track_uuid: str, job_uuid: str) -> tuple[Track, list[Stem]]:
    """One separation's stems, through the track's download check; 404 when there are none to see."""
    track = access.get_downloadable(access.actor(request), track_uuid)
    stems = list(track.stems.select_related("track").filter(job__uuid=job_uuid))
    if not stems:
        raise Http404("No such separation")
    return track, stems


def panel_reply(request: HttpRequest, track: Track, panel: str, status: int = 200, error: str = "", /,
                **context: Any) -> HttpResponse:
    """The answer to a change made from a panel: for htmx the panel itself, rendered as a push renders it
    (``context`` carries a form's errors); else the track's page, or for a refusal its reason in words."""
    if request.htmx:
        # The panel's root swaps itself in by id (hx-swap-oob), as a push does; the element that asked
        # swaps nothing.
        return HttpResponse(panels.render(track, [panel], request, **context), status=status,
                            headers={"HX-Reswap": "none"})
    if status >= 400:
        return HttpResponse(error, status=status)
    return redirect(track_url(track))
