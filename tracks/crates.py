"""Crates and setlists: named, ordered collections of a person's tracks (those they own and those shared with
them), a track in as many as they like, shared with people as viewers or editors. What the crate pages and
their exports read and change; the views ask access.py who may, and call these. A change to what a crate
holds or to whom it is shared may open or close its owner's songs to its people: their libraries are told,
and pages open on a song that may have closed ask access.py again.

Positions run 1, 2, 3 ... with no gaps: adding puts a track at the end, removing closes the gap, and a new
order is given whole (every entry once), so two people's moves can never leave two tracks at one place.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from . import access
from .live import events
from .models import Crate, CrateEntry, CrateLink, CrateShare, Track
from .music import practice


def people(crate: Crate) -> list[int]:
    """Whose libraries the crate's songs may be in through it: the people it is shared with."""
    return list(crate.shares.values_list("user_id", flat=True))


def _tracks(crate: Crate) -> list[Track]:
    return [entry.track for entry in crate.entries.select_related("track")]


def _opened_or_closed(crate: Crate, tracks: list[Track], users: list[int] | None = None) -> None:
    """``tracks`` came into or left the crate (or the crate came to or left ``users``): the libraries of its
    people are told, and pages open on those of the owner's songs ask access.py again (once the transaction
    commits)."""
    for user_id in people(crate) if users is None else users:
        events.library_changed(user_id)
    owners = [track for track in tracks if track.owner_id == crate.owner_id]
    transaction.on_commit(lambda: [events.access_changed(track) for track in owners])


def entries(crate: Crate, user: Any) -> list[CrateEntry]:
    """The crate's entries in order, each track with its current analysis; only tracks the person may still
    see (one shared with them and then unshared drops out of the list, not out of the crate). Opened through
    a link (its ``role`` is ``link``), the owner's songs in it too: the link opens those."""
    seen = Q(track__in=access.viewable_tracks(user).values("pk"))
    if getattr(crate, "role", None) == access.LINK:
        seen |= Q(track__owner_id=crate.owner_id)
    return list(crate.entries.filter(seen).select_related("track", "track__current_analysis")
                .defer("track__current_analysis__data"))


def total_seconds(listed: list[CrateEntry]) -> float:
    return sum(entry.track.duration for entry in listed)


@transaction.atomic
def add(crate: Crate, tracks: list[Track]) -> int:
    """Put the tracks at the crate's end in the order given (one already in it stays where it is); how many
    were added."""
    Crate.objects.select_for_update().filter(pk=crate.pk).first()  # one change to a crate's order at a time
    present = set(crate.entries.values_list("track_id", flat=True))
    last = crate.entries.aggregate(last=Max("position"))["last"] or 0
    fresh = []
    for track in tracks:
        if track.pk not in present:
            present.add(track.pk)
            last += 1
            fresh.append(CrateEntry(crate=crate, track=track, position=last))
    CrateEntry.objects.bulk_create(fresh)
    if fresh:
        _opened_or_closed(crate, [])
    return len(fresh)


@transaction.atomic
def remove(entry: CrateEntry) -> None:
    crate = entry.crate
    Crate.objects.select_for_update().filter(pk=crate.pk).first()
    entry.delete()
    _renumber(crate, list(crate.entries.order_by("position", "id")))
    _opened_or_closed(crate, [entry.track])


@transaction.atomic
def delete(crate: Crate) -> None:
    """The crate and its entries; never its tracks."""
    tracks, users = _tracks(crate), people(crate)
    crate.delete()
    _opened_or_closed(crate, tracks, users)


@transaction.atomic
def share(crate: Crate, user: Any, role: str) -> CrateShare:
    found, _ = CrateShare.objects.update_or_create(crate=crate, user=user, defaults={"role": role})
    _opened_or_closed(crate, [], [user.pk])
    return found


@transaction.atomic
def add_link(crate: Crate, allow_downloads: bool = False) -> CrateLink:
    """A link to the crate for anyone who holds it: the crate, and its owner's songs in it as a track link
    opens a track (listening, or with ``allow_downloads``)."""
    return CrateLink.objects.create(crate=crate, allow_downloads=allow_downloads)


@transaction.atomic
def revoke_link(link: CrateLink) -> None:
    """The link stops working; pages its holders have open on the crate's songs ask access.py again."""
    link.revoke()
    _opened_or_closed(link.crate, _tracks(link.crate), [])


@transaction.atomic
def unshare(found: CrateShare) -> None:
    crate = found.crate
    found.delete()
    _opened_or_closed(crate, _tracks(crate), [found.user_id])


def agree(entry: CrateEntry, by: Any, settings: dict[str, Any]) -> None:
    """The settings (practice.clean's) everyone who opens the song from its crate starts from ({}, or those of
    the song as it is: none)."""
    settings = {} if practice.neutral(settings) else settings
    entry.agreed, entry.agreed_by, entry.agreed_at = settings, (by if settings else None), \
        (timezone.now() if settings else None)
    entry.save(update_fields=["agreed", "agreed_by", "agreed_at"])


def agreed_in_words(entry: CrateEntry, settings: dict[str, Any] | None = None) -> str:
    """The entry's agreed settings (or ``settings``) in a musician's words, at its song's tempo and key ("" for
    none)."""
    analysis = entry.track.current_analysis
    return practice.summary(entry.agreed if settings is None else settings, analysis and analysis.tempo,
                            analysis and analysis.key_label)


class Changed(ValueError):
    """A new order that is not the crate's entries exactly: one was added or removed meanwhile."""


@transaction.atomic
def reorder(crate: Crate, order: list[int]) -> None:
    """The crate's entries in the order of ``order`` (entry ids, each of them once); Changed if it is not
    the crate's entries exactly (an entry added or removed meanwhile: the page asks again)."""
    Crate.objects.select_for_update().filter(pk=crate.pk).first()
    current = {entry.pk: entry for entry in crate.entries.all()}
    if sorted(order) != sorted(current) or len(set(order)) != len(order):
        raise Changed("The crate changed meanwhile: load it again and move the songs once more.")
    _renumber(crate, [current[pk] for pk in order])


def _renumber(crate: Crate, ordered: list[CrateEntry]) -> None:
    for position, entry in enumerate(ordered, 1):
        entry.position = position
    CrateEntry.objects.bulk_update(ordered, ["position"])


def m3u(crate: Crate, listed: list[CrateEntry], filename: Any) -> str:
    """The crate as an extended M3U playlist: each song's length and "artist - title", then its file's name
    (``filename(track)``), as the downloaded originals are named beside it."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_line(crate.name)}"]
    for entry in listed:
        track = entry.track
        shown = f"{track.artist} - {track.title}" if track.artist else track.title
        lines += [f"#EXTINF:{round(track.duration)},{_line(shown)}", filename(track)]
    return "\n".join(lines) + "\n"


def _line(text: str) -> str:
    return " ".join(text.split())  # no line breaks inside an entry
