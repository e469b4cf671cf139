"""Crates and setlists (tracks/crates.py): the person's list of them, one crate's page (its songs in order with
their tempo, key and length and the total time, moved by dragging or by keyboard, played in order), adding a
song from its page, and the crate as an M3U playlist or as Rekordbox XML. A crate is its owner's: anyone else
is told there is no such crate."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from .. import access, crates
from ..files import downloads
from ..models import Crate, CrateEntry, safe_filename
from ..music.labels import clock
from .common import track_url


class CrateForm(forms.Form):
    name = forms.CharField(max_length=Crate.NAME_MAX, strip=True)
    kind = forms.ChoiceField(choices=Crate.Kind.choices, initial=Crate.Kind.CRATE, required=False)


def own_crate(request: HttpRequest, crate_uuid: str) -> Crate:
    found = Crate.objects.filter(uuid=crate_uuid, owner=request.user).first() if request.user.is_authenticated else None
    if found is None:
        raise Http404("No such crate")
    return found


@require_safe
def crate_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tracks/crates.html", {"crates": crates.of(request.user), "form": CrateForm()})


@require_POST
def crate_add(request: HttpRequest) -> HttpResponse:
    form = CrateForm(request.POST)
    if not form.is_valid():
        return render(request, "tracks/crates.html", {"crates": crates.of(request.user), "form": form}, status=400)
    crate = Crate.objects.create(owner=request.user, name=form.cleaned_data["name"],
                                 kind=form.cleaned_data["kind"] or Crate.Kind.CRATE)
    return redirect("crate", crate.uuid)


@require_safe
def crate_detail(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = own_crate(request, crate_uuid)
    listed = crates.entries(crate, request.user)
    ids = [entry.pk for entry in listed]
    for n, entry in enumerate(listed):  # the order each Move button posts (for a page without its script)
        entry.up_order = ",".join(map(str, _swapped(ids, n, n - 1)))
        entry.down_order = ",".join(map(str, _swapped(ids, n, n + 1)))
    return render(request, "tracks/crate.html", {
        "crate": crate, "entries": listed, "total": clock(crates.total_seconds(listed)), "form": CrateForm(
            initial={"name": crate.name, "kind": crate.kind})})


def _swapped(ids: list[int], a: int, b: int) -> list[int]:
    if not 0 <= b < len(ids):
        return ids
    moved = list(ids)
    moved[a], moved[b] = moved[b], moved[a]
    return moved


@require_POST
def crate_edit(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = own_crate(request, crate_uuid)
    form = CrateForm(request.POST)
    if not form.is_valid():
        return HttpResponse(" ".join(e for errors in form.errors.values() for e in errors), status=400,
                            content_type="text/plain")
    crate.name, crate.kind = form.cleaned_data["name"], form.cleaned_data["kind"] or crate.kind
    crate.save(update_fields=["name", "kind"])
    return redirect("crate", crate.uuid)


@require_POST
def crate_delete(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = own_crate(request, crate_uuid)
    crate.delete()  # its entries; never its tracks
    messages.success(request, f"Deleted the {crate.get_kind_display().lower()} “{crate.name}”; its songs stay.")
    return redirect("crates")


@require_POST
def crate_put(request: HttpRequest) -> HttpResponse:
    """Add the track named by ``track`` (its uuid; one the person may see) at the end of the crate named by
    ``crate`` (one of theirs), from the track's page, which it returns to."""
    try:
        crate = own_crate(request, str(uuid.UUID(request.POST.get("crate", ""))))
    except ValueError:
        raise Http404("No such crate") from None
    track = access.get_viewable(access.actor(request), request.POST.get("track", ""))
    added = crates.add(crate, [track])
    messages.success(request, f"Added to “{crate.name}”." if added else f"Already in “{crate.name}”.")
    return redirect(track_url(track))


@require_POST
def crate_remove(request: HttpRequest, crate_uuid: str, entry_id: int) -> HttpResponse:
    crate = own_crate(request, crate_uuid)
    entry = CrateEntry.objects.filter(crate=crate, pk=entry_id).first()
    if entry is None:
        raise Http404("Not in this crate")
    crates.remove(entry)
    return redirect("crate", crate.uuid)


@require_POST
def crate_order(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """A new order, every entry once: a JSON list of entry ids (the page's script), or the form's ``order``
    (its Move up and Move down buttons post the order they make); 204 for the script, else the page."""
    crate = own_crate(request, crate_uuid)
    try:
        raw = json.loads(request.body) if request.content_type == "application/json" else \
            request.POST.get("order", "").split(",")
        crates.reorder(crate, [int(pk) for pk in raw])
    except crates.Changed as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except (ValueError, TypeError):
        return HttpResponse("order: every entry of the crate once, by its id.", status=400, content_type="text/plain")
    if request.content_type == "application/json":
        return HttpResponse(status=204)
    return redirect("crate", crate.uuid)


@require_safe
def crate_m3u(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """The crate as an M3U playlist of the originals' file names (as "Download original" names them)."""
    crate = own_crate(request, crate_uuid)
    response = HttpResponse(crates.m3u(crate, crates.entries(crate, request.user), lambda track: track.download_name),
                            content_type="audio/x-mpegurl; charset=utf-8")
    response["Content-Disposition"] = downloads.content_disposition_header(True, safe_filename(f"{crate.name}.m3u8"))
    return response


@require_safe
def crate_rekordbox(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """The crate's songs as Rekordbox XML: their tempo, grid, key and cues, in a playlist of the crate's name
    and order."""
    crate = own_crate(request, crate_uuid)
    tracks = [entry.track for entry in crates.entries(crate, request.user)]
    return downloads.rekordbox_response(tracks, f"{crate.name} - rekordbox.xml", playlist=crate.name)
