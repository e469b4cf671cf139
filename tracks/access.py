"""The one place that decides who may do what with a track: views, file downloads, websockets and the
enqueueing of jobs all ask here.

Who is asking is an :class:`Actor`: the user (maybe anonymous) and the share-link tokens their session
holds. Their role on a track is one of ``owner``, ``editor`` and ``viewer`` (a :class:`Share`, or a crate of
the track's owner holding it shared with them: a :class:`CrateShare` opens its owner's songs in it, as a
viewer, whatever the role on the crate), ``link`` (a usable :class:`ShareLink`, or a :class:`CrateLink` to a
crate of its owner's holding it), or none. On a crate it is ``owner``, ``editor``, ``viewer`` or ``link``.
Strangers cannot tell a hidden track or crate from none: they get 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, Max, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import Http404

from .models import Comment, Crate, CrateEntry, CrateLink, CrateShare, Link, Share, ShareLink, Track

User = AbstractBaseUser | AnonymousUser
OWNER, EDITOR, VIEWER, LINK = "owner", Share.Role.EDITOR.value, Share.Role.VIEWER.value, "link"
SESSION_LINKS = "share_links"
MAX_SESSION_LINKS = 20


@dataclass(frozen=True)
class Actor:
    user: User
    link_tokens: tuple[str, ...] = ()

    @property
    def is_authenticated(self) -> bool:
        return bool(self.user.is_authenticated)


def actor(request: Any) -> Actor:
    """Who is asking, from an HTTP request or a websocket scope (both carry ``user`` and ``session``); an
    API request or socket is who its token or share link says (``api_actor``, set by tracks/api/auth.py)."""
    found = request.get("api_actor") if isinstance(request, dict) else getattr(request, "api_actor", None)
    if found is not None:
        return found
    user = request["user"] if isinstance(request, dict) else request.user
    session = request.get("session") if isinstance(request, dict) else request.session
    tokens = tuple(session.get(SESSION_LINKS, [])) if session is not None else ()
    return Actor(user=user, link_tokens=tokens)


def remember_link(session: Any, link: Link) -> None:
    tokens = [t for t in session.get(SESSION_LINKS, []) if t != link.token]
    session[SESSION_LINKS] = [link.token, *tokens][:MAX_SESSION_LINKS]


def role(who: Actor, track: Track) -> str | None:
    """The actor's role on the track, looked up once per track object (a page asks several questions of it;
    a track object lives for one request or one check)."""
    key = (who.user.pk if who.is_authenticated else None, who.link_tokens)
    known = track.__dict__.setdefault("_roles", {})
    if key not in known:
        known[key] = _role(who, track)
    return known[key]


def _role(who: Actor, track: Track) -> str | None:
    if who.is_authenticated:
        if track.owner_id == who.user.pk:
            return OWNER
        shared = Share.objects.filter(track=track, user_id=who.user.pk).values_list("role", flat=True).first()
        if shared:
            return shared
        if _through_crates(who.user.pk).filter(track=track).exists():
            return VIEWER
    if who.link_tokens and (ShareLink.usable().filter(track=track, token__in=who.link_tokens).exists()
                            or _crate_links(who, track).exists()):
        return LINK
    return None


def _crate_links(who: Actor, track: Track) -> QuerySet[CrateLink]:
    """The usable crate links the actor holds to crates of the track's owner that hold it: those open it."""
    return CrateLink.usable().filter(token__in=who.link_tokens, crate__owner_id=track.owner_id,
                                     crate__entries__track=track)


EDIT_ROLES = (OWNER, EDITOR)
COMMENT_ROLES = (OWNER, EDITOR, VIEWER)


def can_view(who: Actor, track: Track) -> bool:
    return role(who, track) is not None


def can_download(who: Actor, track: Track) -> bool:
    """Files as attachments, zips and mixes; a link holder only when the link allows downloads. (Playing in
    the page is viewing.)"""
    return _may_download(who, track, role(who, track))


def _may_download(who: Actor, track: Track, found: str | None) -> bool:
    if found == LINK:
        return (ShareLink.usable().filter(track=track, token__in=who.link_tokens, allow_downloads=True).exists()
                or _crate_links(who, track).filter(allow_downloads=True).exists())
    return found is not None


def can_edit(who: Actor, track: Track) -> bool:
    """Rename, re-run analysis, separate, cancel jobs."""
    return role(who, track) in EDIT_ROLES


def can_comment(who: Actor, track: Track) -> bool:
    """Users the track is shared with comment; link holders only read."""
    return role(who, track) in COMMENT_ROLES


def can_edit_comment(who: Actor, comment: Comment) -> bool:
    return comment.author_id == who.user.pk and can_comment(who, comment.track)


def can_delete_comment(who: Actor, comment: Comment) -> bool:
    """Authors delete their own; the owner and editors moderate."""
    return can_edit_comment(who, comment) or can_edit(who, comment.track)


def can_manage(who: Actor, track: Track) -> bool:
    """Share, make links, delete: the owner's alone."""
    return role(who, track) == OWNER


def rights(who: Actor, track: Track) -> dict[str, Any]:
    """Everything a track page shows or hides for this actor, from one look at their role."""
    found = role(who, track)
    return {
        "role": found,
        "can_edit": found in EDIT_ROLES,
        "can_manage": found == OWNER,
        "can_comment": found in COMMENT_ROLES,
        "can_download": _may_download(who, track, found),
    }


def access_ends(who: Actor, track: Track) -> datetime | None:
    """When the actor's access to the track ends by itself: the latest expiry of the links that let them in,
    when links are all that does (None: not by itself)."""
    if role(who, track) != LINK:
        return None
    ends = []
    for links in (ShareLink.usable().filter(track=track, token__in=who.link_tokens), _crate_links(who, track)):
        if links.filter(expires__isnull=True).exists():
            return None
        ends.append(links.aggregate(latest=Max("expires"))["latest"])
    return max((end for end in ends if end is not None), default=None)


def viewable_tracks(user: User) -> QuerySet[Track]:
    """A user's library: their own tracks and those shared with them (a subquery, not a join: no DISTINCT
    over every column, which made the database read the whole library to show a page of it)."""
    if not user.is_authenticated:
        return Track.objects.none()
    return Track.objects.filter(Q(owner=user) | Q(pk__in=Share.objects.filter(user=user).values("track_id"))
                                | Q(pk__in=_through_crates(user.pk).values("track_id")))


def anything_shared_with(user: User) -> bool:
    """Whether anything of someone else's may be in the user's library: a track or a crate shared with them."""
    return Share.objects.filter(user=user).exists() or CrateShare.objects.filter(user=user).exists()


def _through_crates(user_id: int) -> QuerySet[CrateEntry]:
    """The entries of crates shared with the user whose songs belong to the crate's owner: those it opens."""
    return CrateEntry.objects.filter(crate__shares__user_id=user_id, track__owner_id=F("crate__owner_id"))


def audience(track: Track) -> Iterable[int]:
    """The users whose library shows the track: its owner, everyone it is shared with, and everyone a crate
    of its owner's holding it is shared with."""
    shared = Share.objects.filter(track=track, user__isnull=False).values_list("user_id", flat=True)
    through = CrateShare.objects.filter(crate__owner_id=track.owner_id, crate__entries__track=track)
    return list(dict.fromkeys([track.owner_id, *shared, *through.values_list("user_id", flat=True)]))


# -- crates ------------------------------------------------------------------------------------------------


def crate_role(who: Actor | User, crate: Crate) -> str | None:
    """The person's role on the crate; ``link`` for an actor holding a usable link to it."""
    who = who if isinstance(who, Actor) else Actor(who)
    if who.is_authenticated:
        if crate.owner_id == who.user.pk:
            return OWNER
        shared = CrateShare.objects.filter(crate=crate, user_id=who.user.pk).values_list("role", flat=True).first()
        if shared:
            return shared
    if who.link_tokens and CrateLink.usable().filter(crate=crate, token__in=who.link_tokens).exists():
        return LINK
    return None


def viewable_crates(user: User, roles: Iterable[str] = (VIEWER, EDITOR)) -> QuerySet[Crate]:
    """The person's crates and those shared with them (in one of ``roles``), each with its number of entries
    as ``size`` and the person's ``role`` on it."""
    if not user.is_authenticated:
        return Crate.objects.none()
    shares = CrateShare.objects.filter(user=user)
    shared_role = Subquery(shares.filter(crate=OuterRef("pk")).values("role")[:1])
    return (Crate.objects.filter(Q(owner=user) | Q(pk__in=shares.filter(role__in=list(roles)).values("crate_id")))
            .select_related("owner__profile")
            .annotate(size=Count("entries"), role=Case(When(owner=user, then=Value(OWNER)), default=shared_role)))


def get_crate(who: Actor | User, crate_uuid: uuid.UUID | str, to: str = "view") -> Crate:
    """The crate if the person (or an actor, with the links their session holds) may ``view``, ``edit`` (its
    songs, their order and agreed settings) or ``manage`` (rename, share, make links, delete) it: 404 for what
    they may not see, PermissionDenied for what they may see but not change. Its ``role`` is set."""
    crate = Crate.objects.select_related("owner__profile").filter(uuid=crate_uuid).first() \
        if is_uuid(crate_uuid) else None
    found = crate_role(who, crate) if crate is not None else None
    if found is None:
        raise Http404("No such crate")
    if to == "edit" and found not in EDIT_ROLES:
        raise PermissionDenied("You may open this crate but not change it.")
    if to == "manage" and found != OWNER:
        raise PermissionDenied("Only the crate's owner may do that.")
    crate.role = found
    return crate


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def find_viewable(who: Actor, track_uuid: uuid.UUID | str) -> Track | None:
    """The track if this actor may see it, else None."""
    try:
        track = Track.objects.select_related("owner__profile").get(uuid=track_uuid)
    except (Track.DoesNotExist, ValueError):
        return None
    return track if can_view(who, track) else None


def get_viewable(who: Actor, track_uuid: uuid.UUID | str) -> Track:
    track = find_viewable(who, track_uuid)
    if track is None:
        raise Http404("No such track")
    return track


def get_downloadable(who: Actor, track_uuid: uuid.UUID | str) -> Track:
    track = get_viewable(who, track_uuid)
    if not can_download(who, track):
        raise PermissionDenied("Downloads are not allowed through this link.")
    return track


def get_editable(who: Actor, track_uuid: uuid.UUID | str) -> Track:
    """404 for those who may not see the track; PermissionDenied for those who may only look."""
    track = get_viewable(who, track_uuid)
    if not can_edit(who, track):
        raise PermissionDenied("You may view this track but not change it.")
    return track


def get_manageable(who: Actor, track_uuid: uuid.UUID | str) -> Track:
    track = get_viewable(who, track_uuid)
    if not can_manage(who, track):
        raise PermissionDenied("Only the track's owner may do that.")
    return track


def get_commentable(who: Actor, track_uuid: uuid.UUID | str) -> Track:
    track = get_viewable(who, track_uuid)
    if not can_comment(who, track):
        raise PermissionDenied("Only people the track is shared with may comment.")
    return track


def get_comment(who: Actor, track_uuid: uuid.UUID | str, comment_uuid: uuid.UUID | str, to: str) -> Comment:
    """A comment on a track the actor may see, if they may ``edit`` or ``delete`` it: 404 for what they may not
    see, PermissionDenied for what they may see but not change."""
    track = get_viewable(who, track_uuid)
    comment = Comment.objects.select_related("track").filter(track=track, uuid=comment_uuid).first()
    if comment is None:
        raise Http404("No such comment")
    comment.track = track
    if to == "edit" and not can_edit_comment(who, comment):
        raise PermissionDenied("Only its author may edit a comment.")
    if to == "delete" and not can_delete_comment(who, comment):
        raise PermissionDenied("Only its author, the owner and editors may delete a comment.")
    return comment
