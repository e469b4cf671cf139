"""The library: a person's tracks and those shared with them (searched, filtered, sorted, a page at a time:
catalog.py), uploading, and the whole library as Rekordbox XML."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit.core import is_ratelimited

from .. import access, actions, bulk, catalog, limits
from ..files import downloads, uploads
from ..forms import UploadForm
from ..live import panels
from ..models import Job, Track
from .common import Refused, long_running, said
from .jobs import separation_form, separation_request

LIST_TEMPLATE = "tracks/library/track-list.html"
ROWS_TEMPLATE = "tracks/library/rows.html"
PARTS = {"mine": False, "shared": True}


def list_data(user: Any, filters: catalog.Filters, shown: int = catalog.PAGE, part: str = "",
              after: str = "") -> dict[str, Any]:
    """The library's list: a page of the person's own tracks and one of those shared with them (``shown``
    rows at most, or for ``part`` the page after the cursor ``after``), and how many there are of each."""
    data: dict[str, Any] = {"filters": filters, "q": filters.q, "query": urlencode(filters.query()),
                            "filtered": bool(filters.query().keys() - {"sort"}), "rendered": f"{time.time():.3f}"}
    anything_shared = access.anything_shared_with(user)  # if not, that part costs no more queries
    for name, shared in PARTS.items():
        only = replace(filters, shared=shared)
        if shared and not anything_shared:
            data[name], data[f"{name}_total"] = catalog.Page(), 0
            continue
        data[name] = catalog.page(user, only, after if name == part else "", shown)
        data[f"{name}_total"] = data[name].total
    return data


def _swapped(response: HttpResponse, how: dict[str, str]) -> HttpResponse:
    """The server says where htmx puts what it answers."""
    for name, value in how.items():
        response[name] = value
    return response


@require_safe
def library(request: HttpRequest) -> HttpResponse:
    """The library page, searched, filtered and sorted as its address says; for htmx, the list alone (a
    filter changed, or the library did: ``shown`` rows kept) or the next page of one part (``list`` and
    ``cursor``: the rows, in place of the end that asked for them)."""
    try:
        filters = catalog.Filters.read(request.GET)
        part, after = request.GET.get("list", ""), request.GET.get("cursor", "")
        if request.htmx and part in PARTS and after:
            found = catalog.page(request.user, replace(filters, shared=PARTS[part]), after)
            return _swapped(render(request, ROWS_TEMPLATE, {"page": found, "part": part, "q": filters.q,
                                                             "query": urlencode(filters.query())}),
                            {"HX-Reswap": "outerHTML"})
        shown = min(max(int(request.GET.get("shown") or catalog.PAGE), catalog.PAGE), catalog.MOST)
        data = list_data(request.user, filters, shown, part if part in PARTS else "", after)
    except (catalog.BadFilter, ValueError) as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    if request.htmx:
        address = reverse("library") + (f"?{data['query']}" if data["query"] else "")
        return _swapped(render(request, LIST_TEMPLATE, data),
                        {"HX-Retarget": "#track-list", "HX-Reswap": "outerHTML", "HX-Replace-Url": address})
    keys_known = catalog.key_choices(request.user)
    return render(request, "tracks/library.html", {
        **data,
        "sorts": list(catalog.SORTS_SHOWN.items()),
        "key_choices": keys_known,
        "key_known": any(value == filters.key for value, _ in keys_known),
        "version": panels.library_version(request.user),
        **panels.queue_data(request.user.pk),
        "separation_form": separation_form(None),
        "crates": list(access.viewable_crates(request.user, roles=[access.EDITOR]).order_by("name")),
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


BULK_RESULT = "tracks/library/bulk-result.html"
BULK_ACTIONS = ("analyse", "separate", "crate", "rekordbox", "zip", "delete")


@long_running
@require_POST
def library_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the songs chosen in the library (``track``, repeated, or ``all`` with the list's
    ``query``): re-analyse, separate (``model``, ``format``), add to a ``crate``, delete them, or download them
    as Rekordbox XML or their originals as a zip (tracks/bulk.py). For htmx, what it did in a sentence (the
    rows and the queue follow on the socket); else that sentence on the library page."""
    action = request.POST.get("action", "")
    try:
        if action not in BULK_ACTIONS:
            raise bulk.Refused("Choose what to do: " + ", ".join(BULK_ACTIONS) + ".")
        chosen = bulk.chosen(request.user, request.POST.getlist("track"), request.POST.get("all") == "1",
                             request.POST.get("query", ""))
        if action in ("rekordbox", "zip"):
            return _bulk_download(request, action, chosen)
        crate = None
        if action == "analyse":
            outcome = bulk.start(Job.Kind.ANALYSIS, request.user, chosen)
        elif action == "separate":
            form, options = separation_request(request.POST)
            if not form.is_valid():
                raise bulk.Refused(said(form))
            outcome = bulk.start(Job.Kind.SEPARATION, request.user, chosen, options())
        elif action == "crate":
            crate = access.get_crate(request.user, request.POST.get("crate", ""), "edit")
            outcome = bulk.put_in(crate, request.user, chosen)
        else:
            outcome = bulk.delete(request.user, chosen)
        answer, status = bulk.summary(action, outcome, crate), 200
    except (bulk.Refused, catalog.BadFilter) as exc:
        answer, status = str(exc), 400
    if request.htmx:
        return render(request, BULK_RESULT, {"said": answer, "error": status >= 400}, status=status)
    (messages.error if status >= 400 else messages.success)(request, answer)
    return redirect("library")


def _bulk_download(request: HttpRequest, action: str, chosen: list[Track]) -> HttpResponse:
    allowed = bulk.downloadable(request.user, chosen)
    if not allowed:
        raise bulk.Refused("You may not download any of those songs.")
    name = f"SoundForge - {bulk.songs(len(allowed))}"
    if action == "rekordbox":
        return downloads.rekordbox_response(allowed, f"{name} - rekordbox.xml", playlist=name)
    return downloads.originals_zip_response(allowed, f"{name}.zip")


@require_POST
def queue_cancel(request: HttpRequest) -> HttpResponse:
    """Cancel every job of the person's that waits its turn (those queued or running stay)."""
    waiting = Job.objects.select_related("track").filter(requested_by=request.user, status=Job.Status.WAITING)
    for job in waiting:
        actions.cancel(job)
    if request.htmx:
        return HttpResponse(panels.render_queue(request.user.pk))
    return redirect("library")
