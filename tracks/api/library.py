"""The caller, their library (filtered, sorted and paged by cursor, as the library page filters and sorts), an
upload by multipart, one track (rename, delete), its analysis and exports, the tempo correction."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from .. import access, actions, catalog
from ..forms import DetailsForm
from ..models import display_name
from ..views import files, library
from ..views import track as page
from ..views.common import said
from .auth import signed_in, who, writer
from .problems import Problem, as_problem
from .schemas import Details, Me, Tempo, TrackOut, TrackPage, track_out

router = Router(tags=["tracks"])


@router.get("/me", response=Me, url_name="me", tags=["account"])
def me(request: HttpRequest) -> dict[str, Any]:
    """Who the token (or session) acts as."""
    user = signed_in(request)
    token = getattr(request, "api_token", None)
    return {"id": user.pk, "display_name": display_name(user), "email": user.email,
            "scope": token.scope if token else "session"}


# -- the library ------------------------------------------------------------------------------------------------

class Filters(Schema):
    q: str = ""  # words in the title, artist, album, original file name or comments (search.py)
    key: str = ""  # a key ("A minor") or its Camelot code ("8A")
    bpm_min: float | None = None
    bpm_max: float | None = None
    sort: Literal["new", "title", "artist", "bpm", "key"] = "new"
    shared: bool | None = None  # only tracks shared with the caller (true) or only their own (false)
    limit: int = 50  # 1 to 200
    cursor: str = ""  # from the previous page's ``next``


@router.get("/tracks", response=TrackPage, url_name="tracks")
def track_list(request: HttpRequest, filters: Query[Filters]) -> dict[str, Any]:
    """The caller's library: their tracks and those shared with them, as the library page searches, filters
    and sorts it (catalog.py)."""
    user = signed_in(request)
    try:
        found = catalog.page(user, catalog.Filters(**filters.dict(exclude={"limit", "cursor"})), filters.cursor,
                             filters.limit)
    except catalog.BadFilter as exc:
        raise Problem(400, str(exc)) from None
    following = None
    if found.next:
        query = request.GET.copy()
        query["cursor"] = found.next
        following = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return {"items": [track_out(request, row["track"], row["analysis"], row["job"]) for row in found.rows],
            "next": following}


@router.post("/tracks", response={201: TrackOut}, url_name="upload")
def track_upload(request: HttpRequest, file: File[UploadedFile]) -> Status:
    """Upload a song (multipart ``file``): checked as the page checks it, stored, its analysis queued. Large
    files: the resumable upload (``/uploads``, tus 1.0)."""
    writer(request)
    signed_in(request)
    track = library.store_upload(request, {"file": file})  # Refused: problem JSON (app.py)
    return Status(201, track_out(request, track))


@router.get("/rekordbox.xml", url_name="library_rekordbox", tags=["exports"])
def library_rekordbox(request: HttpRequest) -> HttpResponse:
    """The caller's own tracks as Rekordbox's collection XML (tempo, beat grid, key, cues)."""
    signed_in(request)
    return library.library_rekordbox(request)


# -- a track ----------------------------------------------------------------------------------------------------

@router.get("/tracks/{track}", response=TrackOut, url_name="track")
def track_get(request: HttpRequest, track: UUID) -> dict[str, Any]:
    return track_out(request, access.get_viewable(who(request), track))


@router.patch("/tracks/{track}", response=TrackOut, url_name="track_update")
def track_update(request: HttpRequest, track: UUID, body: Details) -> dict[str, Any]:
    """Change the title and tags given (owners and editors)."""
    found = access.get_editable(writer(request), track)
    form = DetailsForm({k: "" if v is None else v for k, v in body.dict(exclude_unset=True).items()})
    if not form.is_valid():
        raise Problem(400, said(form, fields=True))
    actions.describe(found, request.user, **form.given())
    return track_out(request, found)


@router.delete("/tracks/{track}", response={204: None}, url_name="track_delete")
def track_delete(request: HttpRequest, track: UUID) -> Status:
    """The track, its stems and files, for everyone (the owner's alone)."""
    actions.delete(access.get_manageable(writer(request), track))
    return Status(204, None)


@router.get("/tracks/{track}/audio", url_name="track_audio", tags=["files"])
def track_audio(request: HttpRequest, track: UUID) -> HttpResponse:
    """The original file as an attachment (byte ranges answered); ``?listen=1``: what the page plays (for a
    listen-only link, the compressed preview)."""
    listening(request)
    return as_problem(files.track_audio(request, track_uuid=str(track)))


def listening(request: HttpRequest) -> None:
    """A file is downloaded (the page's ``download=1``) unless ``listen=1`` asks for what the page plays."""
    if request.GET.get("listen") != "1":
        request.GET = request.GET.copy()
        request.GET["download"] = "1"


@router.get("/tracks/{track}/cover", url_name="track_cover", tags=["files"])
def track_cover(request: HttpRequest, track: UUID) -> HttpResponse:
    """The picture embedded in the uploaded file, as a JPEG at most 600 pixels a side (404 without one)."""
    return as_problem(files.track_cover(request, track_uuid=str(track)))


@router.get("/tracks/{track}/tagged", url_name="track_tagged", tags=["exports"])
def track_tagged(request: HttpRequest, track: UUID) -> HttpResponse:
    """A copy with the BPM, key and cues in its tags, for DJ software."""
    return as_problem(files.track_tagged(request, track_uuid=str(track)))


@router.get("/tracks/{track}/analysis", url_name="analysis", tags=["analysis"])
def analysis(request: HttpRequest, track: UUID) -> HttpResponse:
    """Everything the analyzer found (tempo, beats, downbeats, key, chords, sections, loudness...), with the
    tempo as corrected: the analyzer port's JSON (docs/ports.md)."""
    return as_problem(files.analysis_export(request, track_uuid=str(track), fmt="json"))


@router.get("/tracks/{track}/analysis.csv", url_name="analysis_csv", tags=["analysis"])
def analysis_csv(request: HttpRequest, track: UUID) -> HttpResponse:
    """A row per beat: number, time, bar, beat in the bar, chord, section, tempo, key."""
    return as_problem(files.analysis_export(request, track_uuid=str(track), fmt="csv"))


@router.get("/tracks/{track}/rekordbox.xml", url_name="analysis_rekordbox", tags=["exports"])
def analysis_rekordbox(request: HttpRequest, track: UUID) -> HttpResponse:
    return as_problem(files.analysis_export(request, track_uuid=str(track), fmt="xml"))


@router.put("/tracks/{track}/tempo", response=TrackOut, url_name="tempo", tags=["analysis"])
def track_tempo(request: HttpRequest, track: UUID, body: Tempo) -> dict[str, Any]:
    """A tempo correction: the grid at another metrical level (``2``, ``1/2``, ``3/2``, ``2/3``), or ``clear``
    for the tracked one; the page, the library and the exports follow."""
    found = access.get_editable(writer(request), track)
    try:
        page.retime(found, request.user, body.step)
    except ValueError as error:
        raise Problem(400, str(error)) from None
    return track_out(request, found)


class Match(Schema):
    track: TrackOut
    blend: str  # how the keys mix: same key, relative, one step up, one step down
    tempo_off: float  # how far its tempo is, as a fraction, at its nearest level
    level: str  # "", "double time" or "half time"


@router.get("/tracks/{track}/matches", response=list[Match], url_name="matches", tags=["analysis"])
def track_matches(request: HttpRequest, track: UUID) -> list[dict[str, Any]]:
    """The tracks of your library that mix well with this one: a compatible Camelot key (the same, the
    relative, a step round) and a tempo within 6 % (also at double or half time), best first."""
    found = access.get_viewable(who(request), track)
    matches = page.mixes_with(request.user, found, found.latest_analysis(with_data=False))
    return [{"track": track_out(request, other), "blend": blend, "tempo_off": off, "level": level}
            for other, blend, off, level in matches]
