"""Crates and setlists (tracks/crates.py) and a person's practice settings for a track (music/practice.py),
with the rules of their pages: access.get_crate decides who may open, change or manage a crate."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status

from .. import access, crates
from ..models import Crate, CrateEntry, Practice, display_name
from ..music import practice
from ..views import track as page
from .auth import signed_in, writer
from .problems import Problem
from .schemas import url

router = Router(tags=["crates"])


class CrateIn(Schema):
    name: str
    kind: Literal["crate", "setlist"] = "crate"


class CrateOut(Schema):
    uuid: UUID
    name: str
    kind: str  # crate or setlist
    owner: str  # the owner's display name
    role: str  # the caller's: owner, editor or viewer
    size: int  # songs in it (some may be hidden from the caller: entries lists those they may open)
    url: str


class EntryOut(Schema):
    id: int
    position: int  # 1, 2, ... as the caller sees them
    track: UUID
    title: str
    artist: str
    duration: float
    tempo: float | None
    key: str
    agreed: dict[str, Any]  # the settings agreed for it here (music/practice.py's), {} for none
    agreed_summary: str  # the same in words ("at 90 % (115.2 BPM) · 2 semitones down (G minor)")
    track_url: str


class CrateDetail(CrateOut):
    entries: list[EntryOut]
    total_seconds: float


class EntryIn(Schema):
    track: UUID


class OrderIn(Schema):
    order: list[int]  # every entry's id once, in the new order


class Level(Schema):
    gain: float = 1.0  # 0 to 2
    pan: float = 0.0  # -1 (left) to 1 (right)
    mute: bool = False
    solo: bool = False


class PracticeIn(Schema):
    """A mixer's settings (music/practice.py): all of them as the song is unless given."""

    rate: float = 1.0  # speed, 0.5 to 1.5
    semitones: int = 0  # transpose, -12 to 12
    count_in: bool = False
    loop: list[float] | None = None  # [start, end] in seconds, at least 0.25 s apart
    stems: dict[str, Level] = {}  # by stem name (and "click")


def _crate(request: HttpRequest, crate: UUID, to: str = "view") -> Crate:
    user = signed_in(request)
    if to != "view":
        writer(request)
    return access.get_crate(user, crate, to)


def crate_out(request: HttpRequest, crate: Crate) -> dict[str, Any]:
    """A crate with the caller's ``role`` on it (access.viewable_crates and get_crate set it)."""
    size = crate.size if hasattr(crate, "size") else crate.entries.count()
    return {"uuid": crate.uuid, "name": crate.name, "kind": crate.kind, "owner": display_name(crate.owner),
            "role": crate.role, "size": size,
            "url": url(request, "crate", crate.uuid)}


def entry_out(request: HttpRequest, entry: CrateEntry, position: int) -> dict[str, Any]:
    track, analysis = entry.track, entry.track.current_analysis
    tempo, key = (analysis.tempo, analysis.key_label) if analysis else (None, "")
    return {"id": entry.pk, "position": position, "track": track.uuid, "title": track.title,
            "artist": track.artist, "duration": track.duration, "tempo": tempo, "key": key, "agreed": entry.agreed,
            "agreed_summary": crates.agreed_in_words(entry),
            "track_url": url(request, "track", track.uuid)}


def detail(request: HttpRequest, crate: Crate) -> dict[str, Any]:
    listed = crates.entries(crate, request.user)
    return {**crate_out(request, crate), "total_seconds": crates.total_seconds(listed),
            "entries": [entry_out(request, entry, n) for n, entry in enumerate(listed, 1)]}


@router.get("/crates", response=list[CrateOut], url_name="crates")
def crate_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The caller's crates and setlists, and those shared with them."""
    return [crate_out(request, crate) for crate in access.viewable_crates(signed_in(request))]


@router.post("/crates", response={201: CrateDetail}, url_name="crate_add")
def crate_add(request: HttpRequest, body: CrateIn) -> Status:
    user = signed_in(request)
    writer(request)
    name = " ".join(body.name.split())
    if not name or len(name) > Crate.NAME_MAX:
        raise Problem(400, f"name: 1 to {Crate.NAME_MAX} characters.")
    crate = Crate.objects.create(owner=user, name=name, kind=body.kind)
    crate.role = access.OWNER
    return Status(201, detail(request, crate))


@router.get("/crates/{crate}", response=CrateDetail, url_name="crate")
def crate_detail(request: HttpRequest, crate: UUID) -> dict[str, Any]:
    """Its songs in order (those the caller may open), each with its tempo, key and agreed settings."""
    return detail(request, _crate(request, crate))


@router.delete("/crates/{crate}", response={204: None}, url_name="crate_delete")
def crate_delete(request: HttpRequest, crate: UUID) -> Status:
    """The crate, never its songs: the owner's alone."""
    crates.delete(_crate(request, crate, "manage"))
    return Status(204, None)


@router.post("/crates/{crate}/entries", response={201: CrateDetail, 200: CrateDetail}, url_name="crate_entry_add")
def crate_entry_add(request: HttpRequest, crate: UUID, body: EntryIn) -> Status:
    """A song the caller may open, at the end (201), or where it already is (200)."""
    found = _crate(request, crate, "edit")
    added = crates.add(found, [access.get_viewable(request.api_actor, body.track)])
    return Status(201 if added else 200, detail(request, found))


@router.delete("/crates/{crate}/entries/{entry}", response={204: None}, url_name="crate_entry_remove")
def crate_entry_remove(request: HttpRequest, crate: UUID, entry: int) -> Status:
    found = _crate(request, crate, "edit")
    crates.remove(_entry(found, entry))
    return Status(204, None)


@router.put("/crates/{crate}/order", response=CrateDetail, url_name="crate_order")
def crate_order(request: HttpRequest, crate: UUID, body: OrderIn) -> dict[str, Any]:
    """A new order, every entry once; 409 when the crate changed meanwhile (a song came or went)."""
    found = _crate(request, crate, "edit")
    try:
        crates.reorder(found, body.order)
    except crates.Changed as exc:
        raise Problem(409, str(exc)) from None
    return detail(request, found)


@router.put("/crates/{crate}/entries/{entry}/agreed", response=EntryOut, url_name="crate_agree")
def crate_agree(request: HttpRequest, crate: UUID, entry: int, body: PracticeIn) -> dict[str, Any]:
    """The settings everyone who opens the song from this crate starts from (those of the song as it is, {},
    clear them)."""
    found = _crate(request, crate, "edit")
    row = _entry(found, entry)
    crates.agree(row, request.user, _practice(body, row.track.duration))
    listed = crates.entries(found, request.user)
    return entry_out(request, row, next((n for n, e in enumerate(listed, 1) if e.pk == row.pk), row.position))


def _entry(crate: Crate, entry: int) -> CrateEntry:
    row = CrateEntry.objects.select_related("track__current_analysis").filter(crate=crate, pk=entry).first()
    if row is None:
        raise Problem(404, "Not in this crate.")
    return row


def _practice(body: PracticeIn, duration: float) -> dict[str, Any]:
    try:
        return practice.clean(body.dict(), duration, page.PRACTICE_STEMS)
    except ValueError as exc:
        raise Problem(400, str(exc)) from None


# -- practice settings ----------------------------------------------------------------------------------------


@router.get("/tracks/{track}/practice", response=dict[str, Any], url_name="practice", tags=["tracks"])
def practice_get(request: HttpRequest, track: UUID) -> dict[str, Any]:
    """How the caller last left the track's mixer ({} when never): theirs alone."""
    user = signed_in(request)
    return page.practice_of(user, access.get_viewable(request.api_actor, track))


@router.put("/tracks/{track}/practice", response=dict[str, Any], url_name="practice_put", tags=["tracks"])
def practice_put(request: HttpRequest, track: UUID, body: PracticeIn) -> dict[str, Any]:
    """Keep the caller's settings for the track: speed, transpose, loop, stem levels, count-in (as kept)."""
    user = signed_in(request)
    writer(request)
    found = access.get_viewable(request.api_actor, track)
    kept = _practice(body, found.duration)
    Practice.objects.update_or_create(user=user, track=found, defaults={"settings": kept})
    return kept
