"""The one place that decides who may see or change a track: views, file downloads and websockets ask here."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Track

User = AbstractBaseUser | AnonymousUser


def viewable_tracks(user: User) -> QuerySet[Track]:
    if not user.is_authenticated:
        return Track.objects.none()
    return Track.objects.filter(owner=user)


def can_view(user: User, track: Track) -> bool:
    return user.is_authenticated and track.owner_id == user.pk


def can_edit(user: User, track: Track) -> bool:
    return user.is_authenticated and track.owner_id == user.pk


def find_viewable(user: User, track_uuid: uuid.UUID | str) -> Track | None:
    """The track if this user may see it, else None: strangers cannot tell a hidden track from none."""
    try:
        track = Track.objects.select_related("owner").get(uuid=track_uuid)
    except (Track.DoesNotExist, ValueError):
        return None
    return track if can_view(user, track) else None


def get_viewable(user: User, track_uuid: uuid.UUID | str) -> Track:
    track = find_viewable(user, track_uuid)
    if track is None:
        raise Http404("No such track")
    return track


def get_editable(user: User, track_uuid: uuid.UUID | str) -> Track:
    """404 for those who may not see the track; PermissionDenied for those who may only look."""
    track = get_viewable(user, track_uuid)
    if not can_edit(user, track):
        raise PermissionDenied("You may view this track but not change it.")
    return track
