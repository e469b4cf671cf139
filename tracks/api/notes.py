"""A track's timed comments and its cue points."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from .. import access, actions
from ..forms import CommentForm, CueForm
from ..models import Cue
from ..views.common import said
from .auth import who, writer
from .problems import Problem
from .schemas import CommentEdit, CommentIn, CommentOut, CueIn, CueOut, comment_out, cue_out

router = Router()


def _valid(form: Any) -> dict[str, Any]:
    if not form.is_valid():
        raise Problem(400, said(form, fields=True, sep="; "))
    return form.cleaned_data


@router.get("/tracks/{track}/comments", response=list[CommentOut], url_name="comments", tags=["comments"])
def comment_list(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    found = access.get_viewable(who(request), track)
    return [comment_out(request, c) for c in found.comments.select_related("author__profile").order_by("at", "created")]


@router.post("/tracks/{track}/comments", response={201: CommentOut}, url_name="comment_add", tags=["comments"])
def comment_add(request: HttpRequest, track: UUID, body: CommentIn) -> Status:
    """A comment at a moment of the song (for people the track is shared with)."""
    found = access.get_commentable(writer(request), track)
    data = _valid(CommentForm(body.dict(), duration=found.duration))
    return Status(201, comment_out(request, actions.comment(found, request.user, data["at"], data["text"])))


@router.patch("/tracks/{track}/comments/{comment}", response=CommentOut, url_name="comment_edit",
              tags=["comments"])
def comment_edit(request: HttpRequest, track: UUID, comment: UUID, body: CommentEdit) -> dict[str, Any]:
    found = access.get_comment(writer(request), track, comment, "edit")
    data = _valid(CommentForm({"at": found.at, "text": body.text}, duration=found.track.duration))
    actions.edit_comment(found, data["text"])
    return comment_out(request, found)


@router.delete("/tracks/{track}/comments/{comment}", response={204: None}, url_name="comment_delete",
               tags=["comments"])
def comment_delete(request: HttpRequest, track: UUID, comment: UUID) -> Status:
    actions.delete_comment(access.get_comment(writer(request), track, comment, "delete"))
    return Status(204, None)


@router.get("/tracks/{track}/cues", response=list[CueOut], url_name="cues", tags=["cues"])
def cue_list(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    return [cue_out(c) for c in access.get_viewable(who(request), track).cues.order_by("at")]


@router.post("/tracks/{track}/cues", response={201: CueOut}, url_name="cue_add", tags=["cues"])
def cue_add(request: HttpRequest, track: UUID, body: CueIn) -> Status:
    found = access.get_editable(writer(request), track)
    data = _valid(CueForm(body.dict(), duration=found.duration))
    return Status(201, cue_out(actions.add_cue(found, request.user, **data)))


@router.put("/tracks/{track}/cues/{cue}", response=CueOut, url_name="cue_edit", tags=["cues"])
def cue_edit(request: HttpRequest, track: UUID, cue: UUID, body: CueIn) -> dict[str, Any]:
    found = access.get_editable(writer(request), track)
    row = get_object_or_404(Cue.objects.select_related("track"), track=found, uuid=cue)
    actions.change_cue(row, request.user, **_valid(CueForm(body.dict(), duration=found.duration)))
    return cue_out(row)


@router.delete("/tracks/{track}/cues/{cue}", response={204: None}, url_name="cue_delete", tags=["cues"])
def cue_delete(request: HttpRequest, track: UUID, cue: UUID) -> Status:
    found = access.get_editable(writer(request), track)
    actions.delete_cue(get_object_or_404(Cue.objects.select_related("track"), track=found, uuid=cue), request.user)
    return Status(204, None)
