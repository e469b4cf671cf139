"""Acting on many tracks at once from the library: which tracks a person chose (rows ticked, or every track
matching the list's search and filters), and each action done track by track through the same functions
and limits as on one track's page (actions.py, crates.py): a track the person may not change is counted,
not failed; jobs past the active-job limit wait their turn (jobs.queueing.promote).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.text import Truncator

from . import access, actions, catalog, crates, jobs, limits
from .models import Crate, Job, Track

MOST = 5000  # tracks one action may name (the library bench's 5,000)


class Refused(ValueError):
    """The choice or the action cannot be: said in words, nothing done."""


def chosen(user: Any, uuids: list[str], every_matching: bool = False, query: str = "") -> list[Track]:
    """The tracks the person chose that they may see, in the list's order: those ``uuids`` (rows ticked), or
    with ``every_matching`` every track the list's ``query`` (its search, filters and sort) finds."""
    if every_matching:
        found, _ = catalog.in_order(user, catalog.Filters.read(QueryDict(query)))
        listed = list(found[:MOST + 1])
    else:
        wanted = list(dict.fromkeys(u for u in uuids if access.is_uuid(u)))
        if len(wanted) > MOST:
            raise Refused(f"Choose {MOST} songs at most.")
        by_uuid = {str(t.uuid): t for t in access.viewable_tracks(user).filter(uuid__in=wanted)}
        listed = [by_uuid[u] for u in wanted if u in by_uuid]
    if len(listed) > MOST:
        raise Refused(f"That is more than {MOST} songs: narrow the search or choose fewer.")
    if not listed:
        raise Refused("Choose at least one song.")
    return listed


@dataclass
class Outcome:
    """What an action did, counted: ``done`` (queued, added, deleted), ``waiting`` (jobs waiting their turn),
    ``already`` (nothing to do: working on it already, in the crate already) and ``refused`` with why."""

    done: int = 0
    waiting: int = 0
    already: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def refuse(self, why: str) -> None:
        self.refused[why] += 1


def start(kind: str, user: Any, tracks: list[Track], options: dict[str, Any] | None = None) -> Outcome:
    """A job of this kind on each track the person may start one on (actions.start: its quota and its
    limit), in the list's order: past the active-job limit the rest wait their turn in that order."""
    outcome = Outcome()
    who = access.Actor(user)
    may = jobs.KINDS[kind].may
    for n, track in enumerate(tracks):
        if not may(who, track):
            outcome.refuse("you may not change them")
            continue
        try:
            job = actions.start(kind, track, user, options)
        except limits.Busy as exc:  # the waiting list is full: none of the rest can wait either
            outcome.refused[str(exc).rstrip(".")] += len(tracks) - n
            break
        except limits.QuotaFull:
            outcome.refuse("your storage is full")
            continue
        if job is None:
            outcome.already += 1
        elif job.status == Job.Status.WAITING:
            outcome.waiting += 1
        else:
            outcome.done += 1
    return outcome


def put_in(crate: Crate, user: Any, tracks: list[Track]) -> Outcome:
    """The tracks at the crate's end (the person may edit the crate: access.get_crate), those in it already
    where they are."""
    added = crates.add(crate, tracks)
    return Outcome(done=added, already=len(tracks) - added)


def delete(user: Any, tracks: list[Track]) -> Outcome:
    """The person's own tracks deleted (actions.delete: files, jobs, every library); others' are refused."""
    outcome = Outcome()
    who = access.Actor(user)
    for track in tracks:
        if access.can_manage(who, track):
            actions.delete(track)
            outcome.done += 1
        else:
            outcome.refuse("they are not yours")
    return outcome


def downloadable(user: Any, tracks: list[Track]) -> list[Track]:
    who = access.Actor(user)
    return [t for t in tracks if access.can_download(who, t)]


# What each action did and what it found done already, in words (views/library.py: library_bulk's actions).
DONE_WORDS = {"analyse": ("re-analysis queued", "already being analysed"),
              "separate": ("separation queued", "already being separated"),
              "crate": ("added", "in it already"), "delete": ("deleted", "")}


def songs(n: int) -> str:
    return f"{n} song{'' if n == 1 else 's'}"


def summary(action: str, outcome: Outcome, crate: Crate | None = None) -> str:
    """What an action did, in a sentence or two."""
    done, already = DONE_WORDS[action]
    where = f" to “{Truncator(crate.name).chars(60)}”" if crate is not None else ""
    parts = [f"{songs(outcome.done)} {done}{where}" if outcome.done or not outcome.waiting else ""]
    if outcome.waiting:
        parts.append(f"{songs(outcome.waiting)} waiting their turn (your queue, above)")
    if outcome.already:
        parts.append(f"{songs(outcome.already)} {already}")
    said = "; ".join(p for p in parts if p) + "."
    for why, n in outcome.refused.items():
        said += f" {songs(n)} not: {why}."
    return said[0].upper() + said[1:]
