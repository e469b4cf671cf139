"""Sharing a track with people (roles) and by link, and opening a link."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST, require_safe

from .. import access, actions
from ..forms import LinkForm, ShareForm
from ..models import Share, ShareLink, Track
from .common import panel_reply, track_url


def sharing_panel(request: HttpRequest, track: Track, status: int = 200, **forms: Any) -> HttpResponse:
    """The sharing panel; without htmx the track's page whatever happened (the form shows its errors there)."""
    if not request.htmx:
        return redirect(track_url(track))
    return panel_reply(request, track, "sharing-panel", status, **sharing_context(track, **forms))


def sharing_context(track: Track, share_form: ShareForm | None = None, link_form: LinkForm | None = None,
                    new_link: ShareLink | None = None) -> dict[str, Any]:
    return {
        "track": track,
        "shares": track.shares.select_related("user__profile"),
        "links": track.links.filter(revoked__isnull=True),
        "share_form": share_form or ShareForm(owner=track.owner),
        "link_form": link_form or LinkForm(),
        "new_link": new_link,
    }


@require_POST
def share_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    form = ShareForm(request.POST, owner=track.owner)
    if not form.is_valid():
        return sharing_panel(request, track, 400, share_form=form)
    actions.share(request, track, form.cleaned_data["role"], user=form.cleaned_data["user"],
                  email=form.cleaned_data["email"])
    return sharing_panel(request, track)


@require_POST
def share_update(request: HttpRequest, track_uuid: str, share_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    share = get_object_or_404(Share, track=track, pk=share_id)
    new_role = request.POST.get("role")
    if new_role not in Share.Role.values:
        return sharing_panel(request, track, 400)
    actions.change_role(track, request.user, share, new_role)
    return sharing_panel(request, track)


@require_POST
def share_revoke(request: HttpRequest, track_uuid: str, share_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    share = get_object_or_404(Share, track=track, pk=share_id)
    actions.unshare(track, request.user, share)
    return sharing_panel(request, track)


@require_POST
def link_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    form = LinkForm(request.POST)
    if not form.is_valid():
        return sharing_panel(request, track, 400, link_form=form)
    link = actions.add_link(track, request.user, **form.link_fields())
    return sharing_panel(request, track, new_link=link)


@require_POST
def link_revoke(request: HttpRequest, track_uuid: str, link_id: int) -> HttpResponse:
    track = access.get_manageable(access.actor(request), track_uuid)
    link = get_object_or_404(ShareLink, track=track, pk=link_id)
    actions.revoke_link(track, request.user, link)
    return sharing_panel(request, track)


@login_not_required
@require_safe
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    """A share link: remembered in the visitor's session, which then opens the track's page and files."""
    link = ShareLink.usable().filter(token=token).select_related("track").first()
    if link is None:
        raise Http404("No such link")
    access.remember_link(request.session, link)
    return redirect(track_url(link.track))
