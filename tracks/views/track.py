"""A track's page, its printable chord chart, the controls that depend on who looks, the tempo correction, the title and
tags, deleting."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from .. import access, actions, crates
from ..forms import CommentForm, DetailsForm
from ..live import panels
from ..models import Practice, Track
from ..music import charts, keys, practice, tempo
from ..ports import contract
from .common import open_to_links, panel_reply, said, track_url
from .jobs import separation_form
from .sharing import sharing_context


@open_to_links
@require_safe
def track_detail(request: HttpRequest, track_uuid: str) -> HttpResponse:
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    context = {**panels.page_data(track), **controls_context(who, track)}
    if context["can_manage"]:
        context.update(sharing_context(track))
    context["mixes_with"] = mixes_with(request.user, track, context["analysis"])
    context["practice"] = practice_of(request.user, track)
    context["crates"] = list(access.viewable_crates(request.user, roles=[access.EDITOR]))
    context["in_crate"] = in_crate(request, track)
    if context["in_crate"] and context["in_crate"]["entry"].agreed:
        context["practice"] = context["in_crate"]["entry"].agreed  # the crate's people agreed to start here
    return render(request, "tracks/track_detail.html", context)


def in_crate(request: HttpRequest, track: Track) -> dict[str, Any] | None:
    """Opened from a crate (``?crate=<uuid>``, one the person may open, holding this track): its place in it,
    the songs before and after, and the settings agreed for it there; None otherwise."""
    wanted = request.GET.get("crate")
    if not wanted:
        return None
    try:
        crate = access.get_crate(access.actor(request), wanted)
    except Http404:
        return None
    listed = crates.entries(crate, request.user)
    at = next((n for n, entry in enumerate(listed) if entry.track_id == track.pk), None)
    if at is None:
        return None
    entry = listed[at]
    return {"crate": crate, "entry": entry, "place": at + 1, "count": len(listed),
            "before": listed[at - 1] if at else None, "after": listed[at + 1] if at + 1 < len(listed) else None,
            "can_agree": crate.role in access.EDIT_ROLES,
            "agreed": crates.agreed_in_words(entry)}


def practice_of(user: Any, track: Track) -> dict[str, Any]:
    """How the person last left this track's mixer ({} for a link holder, who has no account to keep it)."""
    if not user.is_authenticated:
        return {}
    found = Practice.objects.filter(user=user, track=track).values_list("settings", flat=True).first()
    return found or {}


PRACTICE_STEMS = {*contract.STEMS, "click"}
PRACTICE_MAX_BYTES = 8192


@require_POST
def track_practice(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """Keep the person's practice settings for the track (a JSON body, music/practice.py): 204, or 400 in
    words. Whoever signed in may see the track keeps their own (a link holder has no account to keep them
    in: the login middleware sends them to sign in)."""
    track = access.get_viewable(access.actor(request), track_uuid)
    kept = practice_sent(request, track)
    if isinstance(kept, HttpResponse):
        return kept
    Practice.objects.update_or_create(user=request.user, track=track, defaults={"settings": kept})
    return HttpResponse(status=204)


def practice_sent(request: HttpRequest, track: Track) -> dict[str, Any] | HttpResponse:
    """The practice settings a JSON body sends for the track, as music/practice.py keeps them, or the 400 that
    says in words why they cannot be kept."""
    if len(request.body) > PRACTICE_MAX_BYTES:
        return HttpResponse("The settings are too long.", status=400, content_type="text/plain")
    try:
        return practice.clean(json.loads(request.body or b"null"), track.duration, PRACTICE_STEMS)
    except ValueError as exc:  # json.JSONDecodeError is one
        return HttpResponse(str(exc) if not isinstance(exc, json.JSONDecodeError) else "The settings are JSON.",
                            status=400, content_type="text/plain")


def mixes_with(user: Any, track: Track, analysis: Any, most: int = 10) -> list[tuple[Track, str, float, str]]:
    """The tracks of the person's library that mix well with this one, at its latest ``analysis``
    (keys.matches: a compatible key, a tempo within ±6 % at some level), best first; none for a link holder,
    who has no library."""
    if not user.is_authenticated or analysis is None or not analysis.tempo or not keys.camelot(analysis.key_label):
        return []
    others = (access.viewable_tracks(user).exclude(pk=track.pk).with_figures()
              .filter(key_label__in=keys.compatible_labels(analysis.key_label), tempo__isnull=False))
    return keys.matches(analysis.tempo, analysis.key_label, [(t, t.tempo, t.key_label) for t in others])[:most]


@open_to_links
@require_safe
def track_chart(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The chord chart to read or print: the bars in rows of four under the song's sections, moved by
    ``?transpose=`` semitones (-12 to 12: the mixer's transpose, which the page's link carries)."""
    track = access.get_viewable(access.actor(request), track_uuid)
    try:
        semitones = int(request.GET.get("transpose") or 0)
    except ValueError:
        semitones = None
    if semitones is None or not -12 <= semitones <= 12:
        return HttpResponse("transpose must be a whole number of semitones from -12 to 12.", status=400)
    analysis = track.latest_analysis()
    shown = analysis.shown if analysis else {}
    key = analysis.key_label if analysis else ""
    return render(request, "tracks/chart.html", {
        "track": track, "analysis": analysis, "chart": charts.chart(shown, semitones),
        "key": keys.transpose_key(key, semitones) or key,
        "transposed": f"{semitones:+d}".replace("-", "\u2212") if semitones else ""})


def controls_context(who: access.Actor, track: Track) -> dict[str, Any]:
    """What a person may do on a track's page: their rights and the forms that go with them."""
    context = {"track": track, **access.rights(who, track), "comment_form": CommentForm()}
    if context["can_edit"]:
        context["separation_form"] = separation_form(None)
    return context


CONTROL_PANELS = tuple(name for name, panel in panels.PANELS.items()
                       if panel.per_person and panels.ACCESS in panel.facts)


@open_to_links
@require_safe
def track_controls(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The parts of a track's page that depend on who is looking (their buttons, the separation form, the
    comment box), rendered for this person: an open page fetches them when its socket says their access
    changed (static/js/live.js), so controls appear and vanish without a reload."""
    who = access.actor(request)
    track = access.get_viewable(who, track_uuid)
    return HttpResponse(panels.render(track, CONTROL_PANELS, request, **controls_context(who, track)))


@require_POST
def track_tempo(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """A tempo correction (``step``: 2, 1/2, 3/2, 2/3, or clear): the beat grid moves for everyone on the
    page, in the library's BPM and in the exports; 400 when the step leads to no sensible tempo."""
    track = access.get_editable(access.actor(request), track_uuid)
    try:
        retime(track, request.user, request.POST.get("step", ""))
    except ValueError as error:
        return HttpResponse(str(error), status=400)
    return panel_reply(request, track, "title-panel")  # the tempo and its corrections, in the header


def retime(track: Track, user: Any, step: str) -> None:
    """The tempo correction a person asked for by name (the page's and the API's), or ValueError in words."""
    if step != "clear" and step not in tempo.STEPS:
        raise ValueError("step must be one of " + ", ".join([*tempo.STEPS, "clear"]))
    if actions.retime(track, user, None if step == "clear" else tempo.STEPS[step]) is None:
        raise ValueError("There is no tempo to correct that way.")


@require_POST
def track_delete(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    title = track.title
    actions.delete(track)
    if request.htmx:  # a library row's Delete: the library's push takes the row away, on every page
        return HttpResponse(status=200, headers={"HX-Reswap": "none"})
    messages.success(request, f"Deleted “{title}”.")
    return redirect("library")


@require_POST
def track_details(request: HttpRequest, track_uuid: str) -> HttpResponse:
    """The title and tags, as an owner or editor set them (the fields sent; forms.DetailsForm)."""
    track = access.get_editable(access.actor(request), track_uuid)
    form = DetailsForm(request.POST)
    if not form.is_valid():
        return HttpResponse(said(form, fields=True), status=400)
    actions.describe(track, request.user, **form.given())
    return redirect(track_url(track))
