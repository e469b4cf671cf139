"""Timed comments and cue points on a track's timeline."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from .. import access, actions
from ..forms import CommentForm, CueForm
from ..models import Cue, Track
from .common import panel_reply, said


@require_POST
def comment_add(request: HttpRequest, track_uuid: str) -> HttpResponse:
    track = access.get_commentable(access.actor(request), track_uuid)
    form = CommentForm(request.POST, duration=track.duration)
    if not form.is_valid():
        return _comment_refused(request, track, form)
    actions.comment(track, request.user, form.cleaned_data["at"], form.cleaned_data["text"])
    return panel_reply(request, track, "comments-panel")


def _comment_refused(request: HttpRequest, track: Track, form: CommentForm) -> HttpResponse:
    """The comments panel with the form's errors beside it; without htmx, the errors in words."""
    return panel_reply(request, track, "comments-panel", 400, said(form, fields=True, sep="; "), comment_form=form)


@require_POST
def comment_edit(request: HttpRequest, track_uuid: str, comment_uuid: str) -> HttpResponse:
    comment = access.get_comment(access.actor(request), track_uuid, comment_uuid, "edit")
    track = comment.track
    form = CommentForm({"at": comment.at, "text": request.POST.get("text", "")}, duration=track.duration)
    if not form.is_valid():
        return _comment_refused(request, track, form)
    actions.edit_comment(comment, form.cleaned_data["text"])
    return panel_reply(request, track, "comments-panel")


@require_POST
def comment_delete(request: HttpRequest, track_uuid: str, comment_uuid: str) -> HttpResponse:
    comment = access.get_comment(access.actor(request), track_uuid, comment_uuid, "delete")
    actions.delete_comment(comment)
    return panel_reply(request, comment.track, "comments-panel")


@require_POST
def cue_save(request: HttpRequest, track_uuid: str, cue_uuid: str | None = None) -> HttpResponse:
    """Add a cue, or change one (its time, name and colour)."""
    track = access.get_editable(access.actor(request), track_uuid)
    cue = get_object_or_404(Cue.objects.select_related("track"), track=track, uuid=cue_uuid) if cue_uuid else None
    form = CueForm(request.POST, duration=track.duration)
    if not form.is_valid():
        error = said(form, fields=True)
        return panel_reply(request, track, "cues-panel", 400, error, cue_error=error)
    if cue is None:
        actions.add_cue(track, request.user, **form.cleaned_data)
    else:
        actions.change_cue(cue, request.user, **form.cleaned_data)
    return panel_reply(request, track, "cues-panel")


@require_POST
def cue_delete(request: HttpRequest, track_uuid: str, cue_uuid: str) -> HttpResponse:
    track = access.get_editable(access.actor(request), track_uuid)
    actions.delete_cue(get_object_or_404(Cue.objects.select_related("track"), track=track, uuid=cue_uuid),
                       request.user)
    return panel_reply(request, track, "cues-panel")
