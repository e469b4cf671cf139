"""Crates and setlists (tracks/crates.py): the person's list of them (their own and those shared with them),
one crate's page (its songs in order with their tempo, key and length, the settings agreed for each and the
total time, moved by dragging or by keyboard, played in order), adding a song from its page, sharing, each
song's agreed settings, and the crate as an M3U playlist or as Rekordbox XML. access.get_crate decides who
may: anyone it is not shared with is told there is no such crate."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from .. import access, crates
from ..files import downloads
from ..forms import CrateShareForm
from ..models import Crate, CrateEntry, CrateLink, CrateShare, Share, safe_filename
from ..music.labels import clock
from .common import open_to_links, track_url
from .track import practice_sent


class CrateForm(forms.Form):
    name = forms.CharField(max_length=Crate.NAME_MAX, strip=True)
    kind = forms.ChoiceField(choices=Crate.Kind.choices, initial=Crate.Kind.CRATE, required=False)


def crate_list_context(user: object, form: CrateForm) -> dict[str, object]:
    found = list(access.viewable_crates(user))
    return {"crates": [c for c in found if c.owner_id == user.pk],
            "shared": [c for c in found if c.owner_id != user.pk], "form": form}


@require_safe
def crate_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tracks/crates.html", crate_list_context(request.user, CrateForm()))


@require_POST
def crate_add(request: HttpRequest) -> HttpResponse:
    form = CrateForm(request.POST)
    if not form.is_valid():
        return render(request, "tracks/crates.html", crate_list_context(request.user, form), status=400)
    crate = Crate.objects.create(owner=request.user, name=form.cleaned_data["name"],
                                 kind=form.cleaned_data["kind"] or Crate.Kind.CRATE)
    return redirect("crate", crate.uuid)


@open_to_links
@require_safe
def crate_detail(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """The crate's page: for its owner, its people, and whoever holds a link to it."""
    return crate_page(request, access.get_crate(access.actor(request), crate_uuid))


def crate_page(request: HttpRequest, crate: Crate, share_form: CrateShareForm | None = None,
               status: int = 200) -> HttpResponse:
    listed = crates.entries(crate, request.user)
    ids = [entry.pk for entry in listed]
    for n, entry in enumerate(listed):  # the order each Move button posts (for a page without its script)
        entry.up_order = ",".join(map(str, _swapped(ids, n, n - 1)))
        entry.down_order = ",".join(map(str, _swapped(ids, n, n + 1)))
        entry.agreed_summary = crates.agreed_in_words(entry)
    context = {"crate": crate, "entries": listed, "total": clock(crates.total_seconds(listed)),
               "can_edit": crate.role in access.EDIT_ROLES, "can_manage": crate.role == access.OWNER}
    if context["can_manage"]:
        context.update(form=CrateForm(initial={"name": crate.name, "kind": crate.kind}),
                       shares=crate.shares.select_related("user__profile"), roles=Share.Role.choices,
                       share_form=share_form or CrateShareForm(owner=request.user),
                       links=crate.links.filter(revoked__isnull=True))
    return render(request, "tracks/crate.html", context, status=status)


def _swapped(ids: list[int], a: int, b: int) -> list[int]:
    if not 0 <= b < len(ids):
        return ids
    moved = list(ids)
    moved[a], moved[b] = moved[b], moved[a]
    return moved


@require_POST
def crate_edit(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = access.get_crate(request.user, crate_uuid, "manage")
    form = CrateForm(request.POST)
    if not form.is_valid():
        return HttpResponse(" ".join(e for errors in form.errors.values() for e in errors), status=400,
                            content_type="text/plain")
    crate.name, crate.kind = form.cleaned_data["name"], form.cleaned_data["kind"] or crate.kind
    crate.save(update_fields=["name", "kind"])
    return redirect("crate", crate.uuid)


@require_POST
def crate_delete(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = access.get_crate(request.user, crate_uuid, "manage")
    crates.delete(crate)
    messages.success(request, f"Deleted the {crate.get_kind_display().lower()} “{crate.name}”; its songs stay.")
    return redirect("crates")


@require_POST
def crate_put(request: HttpRequest) -> HttpResponse:
    """Add the track named by ``track`` (its uuid; one the person may see) at the end of the crate named by
    ``crate`` (one they own or edit), from the track's page, which it returns to."""
    crate = access.get_crate(request.user, request.POST.get("crate", ""), "edit")
    track = access.get_viewable(access.actor(request), request.POST.get("track", ""))
    added = crates.add(crate, [track])
    messages.success(request, f"Added to “{crate.name}”." if added else f"Already in “{crate.name}”.")
    return redirect(track_url(track))


@require_POST
def crate_remove(request: HttpRequest, crate_uuid: str, entry_id: int) -> HttpResponse:
    crate = access.get_crate(request.user, crate_uuid, "edit")
    crates.remove(crate_entry(crate, entry_id))
    return redirect("crate", crate.uuid)


@require_POST
def crate_order(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """A new order, every entry once: a JSON list of entry ids (the page's script), or the form's ``order``
    (its Move up and Move down buttons post the order they make); 204 for the script, else the page."""
    crate = access.get_crate(request.user, crate_uuid, "edit")
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
    crate = access.get_crate(request.user, crate_uuid)
    response = HttpResponse(crates.m3u(crate, crates.entries(crate, request.user), lambda track: track.download_name),
                            content_type="audio/x-mpegurl; charset=utf-8")
    response["Content-Disposition"] = downloads.content_disposition_header(True, safe_filename(f"{crate.name}.m3u8"))
    return response


@require_safe
def crate_rekordbox(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """The crate's songs as Rekordbox XML: their tempo, grid, key and cues, in a playlist of the crate's name
    and order."""
    crate = access.get_crate(request.user, crate_uuid)
    tracks = [entry.track for entry in crates.entries(crate, request.user)]
    return downloads.rekordbox_response(tracks, f"{crate.name} - rekordbox.xml", playlist=crate.name)


def crate_entry(crate: Crate, entry_id: int) -> CrateEntry:
    entry = CrateEntry.objects.select_related("track__current_analysis").filter(crate=crate, pk=entry_id).first()
    if entry is None:
        raise Http404("Not in this crate")
    return entry


@require_POST
def crate_agree(request: HttpRequest, crate_uuid: str, entry_id: int) -> HttpResponse:
    """The settings everyone who opens the song from this crate starts from: a JSON body (the mixer's, as
    music/practice.py keeps them; answered with their summary in words) or the form's Clear (no body: none
    agreed; back to the crate). Its owner and editors agree them."""
    crate = access.get_crate(request.user, crate_uuid, "edit")
    entry = crate_entry(crate, entry_id)
    if request.content_type != "application/json":
        crates.agree(entry, request.user, {})
        messages.success(request, f"“{entry.track.title}” opens as the song is again.")
        return redirect("crate", crate.uuid)
    kept = practice_sent(request, entry.track)
    if isinstance(kept, HttpResponse):
        return kept
    crates.agree(entry, request.user, kept)
    return JsonResponse({"agreed": kept, "summary": crates.agreed_in_words(entry, kept)})


@require_POST
def crate_share(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    crate = access.get_crate(request.user, crate_uuid, "manage")
    form = CrateShareForm(request.POST, owner=request.user)
    if not form.is_valid():
        return crate_page(request, crate, share_form=form, status=400)
    crates.share(crate, form.cleaned_data["user"], form.cleaned_data["role"])
    messages.success(request, f"Shared with {form.cleaned_data['user'].profile.display_name}.")
    return redirect("crate", crate.uuid)


@require_POST
def crate_share_update(request: HttpRequest, crate_uuid: str, share_id: int) -> HttpResponse:
    """A share's new ``role``, or with ``remove`` the share gone."""
    crate = access.get_crate(request.user, crate_uuid, "manage")
    found = get_object_or_404(CrateShare.objects.select_related("user"), crate=crate, pk=share_id)
    if "remove" in request.POST:
        crates.unshare(found)
    elif request.POST.get("role") in Share.Role.values:
        crates.share(crate, found.user, request.POST["role"])
    else:
        return HttpResponse("role: viewer or editor.", status=400, content_type="text/plain")
    return redirect("crate", crate.uuid)


@require_POST
def crate_link_add(request: HttpRequest, crate_uuid: str) -> HttpResponse:
    """A link to the crate for anyone who holds it (``allow_downloads``: its songs' files too)."""
    crate = access.get_crate(request.user, crate_uuid, "manage")
    crates.add_link(crate, allow_downloads=request.POST.get("allow_downloads") == "on")
    messages.success(request, "Made a link: anyone who holds it opens this and your songs in it.")
    return redirect("crate", crate.uuid)


@require_POST
def crate_link_revoke(request: HttpRequest, crate_uuid: str, link_id: int) -> HttpResponse:
    crate = access.get_crate(request.user, crate_uuid, "manage")
    crates.revoke_link(get_object_or_404(CrateLink, crate=crate, pk=link_id))
    messages.success(request, "The link no longer opens anything.")
    return redirect("crate", crate.uuid)


@login_not_required
@require_safe
def crate_link_open(request: HttpRequest, token: str) -> HttpResponse:
    """A crate's link: remembered in the visitor's session, which then opens the crate and its owner's songs
    in it."""
    link = CrateLink.usable().filter(token=token).select_related("crate").first()
    if link is None:
        raise Http404("No such link")
    access.remember_link(request.session, link)
    return redirect("crate", link.crate.uuid)
