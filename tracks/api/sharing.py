"""Who a track is shared with and its links: the owner's alone, as on the page."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from .. import access, actions
from ..forms import LinkForm, ShareForm
from ..models import Share, ShareLink
from ..views.common import said
from .auth import writer
from .problems import Problem
from .schemas import LinkIn, LinkOut, RoleIn, ShareIn, ShareOut, link_out, share_out

router = Router(tags=["sharing"])


def _owned(request: HttpRequest, track: UUID, write: bool = False) -> Any:
    return access.get_manageable(writer(request) if write else request.api_actor, track)


@router.get("/tracks/{track}/shares", response=list[ShareOut], url_name="shares")
def share_list(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    return [share_out(s) for s in _owned(request, track).shares.select_related("user__profile")]


@router.post("/tracks/{track}/shares", response={201: ShareOut}, url_name="share_add")
def share_add(request: HttpRequest, track: UUID, body: ShareIn) -> Status:
    """Share with an account (by display name or address) or invite an address; they are mailed."""
    found = _owned(request, track, write=True)
    form = ShareForm(body.dict(), owner=found.owner)
    if not form.is_valid():
        raise Problem(400, said(form, fields=True))
    made = actions.share(request, found, form.cleaned_data["role"], user=form.cleaned_data["user"],
                         email=form.cleaned_data["email"])
    return Status(201, share_out(made))


@router.patch("/tracks/{track}/shares/{share}", response=ShareOut, url_name="share_update")
def share_update(request: HttpRequest, track: UUID, share: int, body: RoleIn) -> dict[str, Any]:
    found = _owned(request, track, write=True)
    row = get_object_or_404(Share, track=found, pk=share)
    if body.role not in Share.Role.values:
        raise Problem(400, "role: " + " or ".join(Share.Role.values))
    actions.change_role(found, request.user, row, body.role)
    return share_out(row)


@router.delete("/tracks/{track}/shares/{share}", response={204: None}, url_name="share_revoke")
def share_revoke(request: HttpRequest, track: UUID, share: int) -> Status:
    found = _owned(request, track, write=True)
    actions.unshare(found, request.user, get_object_or_404(Share, track=found, pk=share))
    return Status(204, None)


@router.get("/tracks/{track}/links", response=list[LinkOut], url_name="links")
def link_list(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    return [link_out(request, link) for link in _owned(request, track).links.filter(revoked__isnull=True)]


@router.post("/tracks/{track}/links", response={201: LinkOut}, url_name="link_add")
def link_add(request: HttpRequest, track: UUID, body: LinkIn) -> Status:
    """A read-only link: listen only unless it allows downloads; it may expire."""
    found = _owned(request, track, write=True)
    form = LinkForm({"expires_in_days": body.expires_in_days or "",
                     "allow_downloads": "yes" if body.allow_downloads else "no"})
    if not form.is_valid():
        raise Problem(400, said(form, fields=True))
    return Status(201, link_out(request, actions.add_link(found, request.user, **form.link_fields())))


@router.delete("/tracks/{track}/links/{link}", response={204: None}, url_name="link_revoke")
def link_revoke(request: HttpRequest, track: UUID, link: int) -> Status:
    found = _owned(request, track, write=True)
    actions.revoke_link(found, request.user, get_object_or_404(ShareLink, track=found, pk=link))
    return Status(204, None)
