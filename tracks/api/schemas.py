"""What the API answers with and accepts: the OpenAPI schema is made from these, and every answer is checked
against its schema on the way out. Bodies are then checked by the pages' own forms (tracks/forms.py), so a
rule and its words live in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.urls import reverse
from ninja import Schema

from .. import access
from ..live import events
from ..models import Comment, Cue, Job, Share, ShareLink, Stem, Track, display_name
from ..music import keys


def url(request: HttpRequest, name: str, *args: Any) -> str:
    return request.build_absolute_uri(reverse(f"api:{name}", args=args))


class Me(Schema):
    id: int
    display_name: str
    email: str
    scope: str  # "read", "write" (a token's) or "session"


class TrackOut(Schema):
    uuid: UUID
    title: str
    artist: str  # the file's tags, as its owner or an editor may have changed them ("" when none)
    album: str
    year: int | None
    genre: str
    cover: str | None  # the embedded picture's URL (a JPEG), None without one
    original_name: str
    owner: str  # the owner's display name
    role: str  # the caller's: owner, editor, viewer or link
    duration: float
    format: str
    codec: str
    sample_rate: int
    channels: int
    size: int
    sha256: str
    created: datetime
    tempo: float | None  # the latest analysis's, as corrected
    key: str
    camelot: str
    analysis: str | None  # the latest analysis job's status
    url: str
    page: str


def track_out(request: HttpRequest, track: Track, analysis: Any = "latest", job: Any = "latest") -> dict[str, Any]:
    if analysis == "latest":
        analysis = track.latest_analysis(with_data=False)
    if job == "latest":
        job = track.latest_job(Job.Kind.ANALYSIS)
    key = analysis.key_label if analysis else ""
    return {
        "uuid": track.uuid, "title": track.title, "artist": track.artist, "album": track.album, "year": track.year,
        "genre": track.genre, "cover": url(request, "track_cover", track.uuid) if track.cover else None,
        "original_name": track.original_name,
        "owner": display_name(track.owner), "role": access.role(access.actor(request), track),
        "duration": track.duration, "format": track.format, "codec": track.codec, "sample_rate": track.sample_rate,
        "channels": track.channels, "size": track.size, "sha256": track.sha256, "created": track.created,
        "tempo": analysis.tempo if analysis else None, "key": key, "camelot": keys.camelot(key),
        "analysis": job.status if job else None,
        "url": url(request, "track", track.uuid),
        "page": request.build_absolute_uri(reverse("track", args=[track.uuid])),
    }


class TrackPage(Schema):
    items: list[TrackOut]
    next: str | None  # the next page's URL (its cursor), None on the last


class JobOut(Schema):
    uuid: UUID
    track: UUID
    kind: str
    status: str
    progress: float  # 0 to 1
    stage: str
    eta: float | None  # seconds left, as last estimated
    error: str
    options: dict[str, Any]
    created: datetime
    started: datetime | None
    finished: datetime | None
    url: str


def job_out(request: HttpRequest, job: Job) -> dict[str, Any]:
    """A job as its events carry it (events.job_data), with its times and its URL in full."""
    data = events.job_data(job)
    return {**data, "created": job.created, "started": job.started, "finished": job.finished,
            "url": request.build_absolute_uri(data["url"])}


class StemOut(Schema):
    uuid: UUID
    name: str
    separation: UUID  # the separation job it came from
    model: str
    format: str
    duration: float
    size: int
    transcribed: bool
    url: str  # the file (ranges answered)
    midi: str | None  # its notes as MIDI, once transcribed


def stem_out(request: HttpRequest, stem: Stem) -> dict[str, Any]:
    track, job = stem.track.uuid, stem.job.uuid
    return {"uuid": stem.uuid, "name": stem.name, "separation": job, "model": stem.model, "format": stem.format,
            "duration": stem.duration, "size": stem.size, "transcribed": bool(stem.notes),
            "url": url(request, "stem", track, stem.uuid),
            "midi": url(request, "stem_midi", track, job, stem.name) if stem.notes else None}


class CommentOut(Schema):
    uuid: UUID
    author: str
    mine: bool
    at: float
    text: str
    created: datetime
    edited: datetime | None


def comment_out(request: HttpRequest, comment: Comment) -> dict[str, Any]:
    return {"uuid": comment.uuid, "author": display_name(comment.author), "at": comment.at, "text": comment.text,
            "mine": request.user.is_authenticated and comment.author_id == request.user.pk,
            "created": comment.created, "edited": comment.edited}


class CueOut(Schema):
    uuid: UUID
    at: float
    name: str
    colour: str
    proposed: bool  # by the analysis, untouched by a person


def cue_out(cue: Cue) -> dict[str, Any]:
    return {"uuid": cue.uuid, "at": cue.at, "name": cue.name, "colour": cue.colour, "proposed": cue.auto}


class ShareOut(Schema):
    id: int
    who: str  # the display name, or the address invited
    role: str
    pending: bool  # an invitation to an address with no account yet
    created: datetime


def share_out(share: Share) -> dict[str, Any]:
    return {"id": share.pk, "who": share.label, "role": share.role, "pending": share.user_id is None,
            "created": share.created}


class LinkOut(Schema):
    id: int
    url: str
    allow_downloads: bool
    expires: datetime | None
    created: datetime


def link_out(request: HttpRequest, link: ShareLink) -> dict[str, Any]:
    return {"id": link.pk, "url": request.build_absolute_uri(reverse("link-open", args=[link.token])),
            "allow_downloads": link.allow_downloads, "expires": link.expires, "created": link.created}


# -- bodies (checked by the pages' forms) -----------------------------------------------------------------------

class Details(Schema):
    """What a PATCH changes: the fields given (``null`` clears a tag), the others stay."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    year: int | None = None
    genre: str | None = None


class Tempo(Schema):
    step: str  # "2", "1/2", "3/2", "2/3" or "clear"


class Separate(Schema):
    model: str | None = None  # the server's default when left out
    format: str = "wav"  # wav, flac or mp3


class Render(Schema):
    rate: float | None = None  # speed, 0.5 to 1.5
    semitones: int | None = None  # -12 to 12
    start: float | None = None  # seconds
    end: float | None = None
    format: str | None = None  # wav or mp3
    gains: dict[str, float] = {}  # per stem, 0 to 4
    pans: dict[str, float] = {}  # per stem, -1 to 1


class Transcribe(Schema):
    stems: list[str]


class CommentIn(Schema):
    at: float
    text: str


class CommentEdit(Schema):
    text: str


class CueIn(Schema):
    at: float
    name: str
    colour: str


class ShareIn(Schema):
    who: str  # a display name or an email address
    role: str = "viewer"  # viewer or editor


class RoleIn(Schema):
    role: str


class LinkIn(Schema):
    expires_in_days: int | None = None  # 1, 7 or 30; none: never
    allow_downloads: bool = False


def form_data(body: Schema, **renamed: str) -> dict[str, Any]:
    """A body as a page's form reads it (gains and pans as ``gain_<stem>``/``pan_<stem>``)."""
    data = body.dict(exclude_none=True)
    for name, value in data.pop("gains", {}).items():
        data[f"gain_{name}"] = value
    for name, value in data.pop("pans", {}).items():
        data[f"pan_{name}"] = value
    return {renamed.get(k, k): v for k, v in data.items()}
