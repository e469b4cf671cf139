"""A person's library as both doors read it, the page (views/library.py) and the API (api/library.py): their
tracks and those shared with them, searched (search.py), filtered by key and tempo, sorted, and cut into pages
by a cursor (the last row's sort value and id), so a library of thousands is never read whole.

A page costs the same few queries however long the library: the tracks with their current analysis (a
join: Track.current_analysis), then the latest analysis jobs of that page's rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Concat, Lower

from . import access, search
from .models import AnalysisResult, Comment, Job, Track
from .music import keys

SORTS_SHOWN = {"new": "newest", "title": "title", "artist": "artist", "bpm": "BPM", "key": "key (Camelot)"}
PAGE = 50
MOST = 200

# Each sort: the ordering value and whether it runs down; ties by id, so a cursor is exact. Missing figures
# (and tracks with no artist) sort last, as people expect.
CAMELOT_RANK = Case(*(When(key_label=label, then=Value(keys.camelot_rank(label))) for label in keys.CAMELOT),
                    default=Value(keys.camelot_rank("")), output_field=IntegerField())
SORTS = {
    "new": (F("created"), True),
    "title": (Lower("title"), False),
    "artist": (Concat(Case(When(artist="", then=Value("1")), default=Value("0")), Lower("artist")), False),
    "bpm": (Coalesce("tempo", Value(1e9), output_field=FloatField()), False),
    "key": (CAMELOT_RANK, False),
}


class BadFilter(ValueError):
    """A filter or cursor that cannot be read: the message says which, for a 400."""


@dataclass(frozen=True)
class Filters:
    q: str = ""  # words in the title, artist, album, file name or comments
    key: str = ""  # a key ("A minor") or its Camelot code ("8A")
    bpm_min: float | None = None
    bpm_max: float | None = None
    sort: str = "new"
    shared: bool | None = None  # only tracks shared with the person (True) or only their own (False)

    @classmethod
    def read(cls, query: Any) -> Filters:
        """From a request's query (the page's address or the API's parameters); BadFilter when one is wrong."""
        def number(name: str) -> float | None:
            text = (query.get(name) or "").strip()
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                raise BadFilter(f"{name}: a number of beats per minute.") from None
            if not 0 <= value <= 1000:
                raise BadFilter(f"{name}: from 0 to 1000.")
            return value

        sort = query.get("sort") or "new"
        if sort not in SORTS:
            raise BadFilter("sort: one of " + ", ".join(SORTS) + ".")
        shared = query.get("shared")
        return cls(q=(query.get("q") or "").strip()[:200], key=(query.get("key") or "").strip()[:20],
                   bpm_min=number("bpm_min"), bpm_max=number("bpm_max"), sort=sort,
                   shared=None if shared in (None, "") else str(shared).lower() in ("1", "true", "yes"))

    def query(self) -> dict[str, str]:
        """As an address's query, leaving out what is as by default."""
        shown = {"q": self.q, "key": self.key, "sort": "" if self.sort == "new" else self.sort,
                 "bpm_min": _number(self.bpm_min), "bpm_max": _number(self.bpm_max),
                 "shared": "" if self.shared is None else str(self.shared).lower()}
        return {name: value for name, value in shown.items() if value}


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def tracks(user: Any, filters: Filters) -> QuerySet[Track]:
    """The person's library with ``filters`` applied, each track with ``tempo`` and ``key_label``."""
    found = access.viewable_tracks(user).select_related("owner__profile").with_figures()
    found = search.matching(found, filters.q)
    if filters.key:
        wanted = {label for label, code in keys.CAMELOT.items() if code == filters.key.upper()} or {filters.key}
        found = found.filter(key_label__in=wanted)
    if filters.bpm_min is not None:
        found = found.filter(tempo__gte=filters.bpm_min)
    if filters.bpm_max is not None:
        found = found.filter(tempo__lte=filters.bpm_max)
    if filters.shared is not None:
        found = found.exclude(owner=user) if filters.shared else found.filter(owner=user)
    return found


def in_order(user: Any, filters: Filters) -> tuple[QuerySet[Track], bool]:
    """The person's library with ``filters`` applied in the list's order (by ``sort_value``, then id), and
    whether that order is descending."""
    expression, descending = SORTS[filters.sort]
    found = tracks(user, filters).annotate(sort_value=expression)
    return found.order_by(*(("-sort_value", "-id") if descending else ("sort_value", "id"))), descending


def cursor(value: Any, pk: int) -> str:
    plain = value if isinstance(value, int | float) else str(value)
    return base64.urlsafe_b64encode(json.dumps([plain, pk]).encode()).decode().rstrip("=")


def _after(text: str) -> tuple[Any, int]:
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise BadFilter("cursor: not one this server gave.") from None
    if not isinstance(pk, int):
        raise BadFilter("cursor: not one this server gave.")
    return value, pk


@dataclass
class Page:
    """One page of a library: its rows (each a track with its job, Job.on_row, and analysis), the cursor
    of the next page ("" on the last), and on the first page how many tracks there are in all."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    next: str = ""
    total: int = 0


def page(user: Any, filters: Filters, after: str = "", limit: int = PAGE) -> Page:
    """The page of the person's library that follows the cursor ``after`` (the first without one, counting
    the tracks in the same query: a window over them all)."""
    if not 1 <= limit <= MOST:
        raise BadFilter(f"limit: from 1 to {MOST}.")
    found, descending = in_order(user, filters)
    if after:
        value, pk = _after(after)
        found = found.filter((Q(sort_value__lt=value) | Q(sort_value=value, id__lt=pk)) if descending else
                             (Q(sort_value__gt=value) | Q(sort_value=value, id__gt=pk)))
    listed = list(found.select_related("current_analysis").defer("current_analysis__data")
                  .annotate(latest_job_id=Subquery(Job.on_row(OuterRef("pk")).values("pk")[:1]),
                            **({} if after else {"total": Window(Count("id"))}))[:limit + 1])
    more, listed = len(listed) > limit, listed[:limit]
    total = listed[0].total if listed and not after else 0
    jobs = Job.objects.in_bulk([t.latest_job_id for t in listed if t.latest_job_id])
    rows = [{"track": t, "job": jobs.get(t.latest_job_id), "analysis": t.current_analysis, "found_in": None}
            for t in listed]
    if filters.q and rows:
        said: dict[int, list[str]] = {}
        for track_id, text in Comment.objects.filter(track__in=listed).values_list("track_id", "text"):
            said.setdefault(track_id, []).append(text)
        for row in rows:
            row["found_in"] = search.where(row["track"], filters.q, said.get(row["track"].pk, []))
    return Page(rows, cursor(listed[-1].sort_value, listed[-1].pk) if more else "", total)


def key_choices(user: Any) -> list[tuple[str, str]]:
    """The keys the person's library was found in, in Camelot order, as (label, "A minor (8A)"): read off
    its analyses at once (an older analysis's key may be among them), not track by track."""
    labels = set(AnalysisResult.objects.filter(track__in=access.viewable_tracks(user)).exclude(key_label="")
                 .order_by().values_list("key_label", flat=True).distinct())
    ranked = sorted(labels, key=keys.camelot_rank)
    return [(label, f"{label} ({keys.camelot(label)})" if keys.camelot(label) else label) for label in ranked]
