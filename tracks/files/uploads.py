"""Uploads: an upload becomes a Track only if the probe port (tracks/ports/probe.py: PyAV, whose wheel bundles
FFmpeg, in a process of its own) can decode the whole of it as one of the accepted formats, and it fits the
owner's quota; otherwise the uploader gets a specific message and nothing is left behind: no row, no file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import transaction

from .. import limits
from ..models import Track
from ..ports.contract import ErrorKind
from ..ports.host import runner
from . import storage

logger = logging.getLogger(__name__)


class AudioRejected(ValueError):
    """The upload is not audio we can use; the message is shown to the uploader as it is."""


class Duplicate(ValueError):
    """The uploader already has a track of this very file (the same SHA-256): it is not stored twice."""

    def __init__(self, track: Track) -> None:
        super().__init__(f"You already have this file: “{track.title}”, uploaded {track.created:%-d %b %Y}.")
        self.track = track


def _duplicate_of(owner: object, sha256: str) -> None:
    found = Track.objects.filter(owner=owner, sha256=sha256).order_by("created").first()
    if found is not None:
        raise Duplicate(found)


@dataclass(frozen=True)
class AudioInfo:
    format: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    tags: dict[str, Any] = field(default_factory=dict)  # contract.FileTags
    cover: bool = False  # the embedded picture was written where probe() was asked to


PROBE_TIMEOUT_S = 120


PROBE_MEMORY_MB = 1024


PROBE_FAILED = {
    ErrorKind.CRASHED: "The file could not be decoded: the decoder crashed on it.",
    ErrorKind.TIMEOUT: "The file could not be decoded: it took over {timeout} s.",
    ErrorKind.MEMORY_LIMIT: "The file could not be decoded within {memory} MB of memory.",
    ErrorKind.PROBE_FAILED: "The file could not be decoded.",  # the decoder raised what no file should make it raise
}


def probe(path: Path, max_duration: float, cover: Path | None = None) -> AudioInfo:
    """Decode the whole file in the probe port (tracks/ports/probe.py, a process of its own) to prove it is
    usable audio, and read its tags (and its embedded picture into ``cover``, a JPEG); raise AudioRejected
    with the reason if not. A decoder that crashes, hangs or floods memory
    on the file rejects it; the port failing for any other reason is the server's fault, and raises."""
    try:
        extra = ["--cover", str(cover)] if cover is not None else []
        result = runner.run_port(runner.port("probe"), [str(path), "--max-duration", str(max_duration), *extra],
                                 timeout=PROBE_TIMEOUT_S, memory_limit_mb=PROBE_MEMORY_MB,
                                 python=settings.PORT_PYTHON or None)
    except runner.PortError as exc:
        if exc.kind == ErrorKind.REJECTED:  # tracks/ports/probe.py's own answer, for the uploader
            raise AudioRejected(exc.message) from None
        if exc.kind in PROBE_FAILED:
            logger.warning("probe of an upload failed: %s: %s\n%s", exc.kind, exc.message, exc.stderr_tail)
            raise AudioRejected(PROBE_FAILED[exc.kind].format(timeout=PROBE_TIMEOUT_S, memory=PROBE_MEMORY_MB)
                                ) from None
        raise
    data = result.data
    return AudioInfo(format=data["format"], codec=data["codec"], duration=float(data["duration"]),
                     sample_rate=int(data["sample_rate"]), channels=int(data["channels"]),
                     tags=dict(data.get("tags") or {}), cover=bool(data.get("cover")))


def title_from_name(name: str) -> str:
    """A display title from an uploaded file name: no directories, no extension, no control characters."""
    base = re.split(r"[\\/]", name)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    stem = "".join(ch for ch in unicodedata.normalize("NFC", stem) if unicodedata.category(ch)[0] != "C")
    stem = re.sub(r"\s+", " ", stem.replace("_", " ")).strip(" .")
    return stem[:200] or "Untitled"


def max_upload_bytes() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


def too_large_message() -> str:
    return f"The file is larger than the limit of {settings.MAX_UPLOAD_MB} MB."


class UploadLimitHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: drops an upload the moment it passes MAX_UPLOAD_MB, so an oversized file
    is never written out whole; the view then finds ``request.upload_too_large`` set."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > max_upload_bytes():
            if self.request is not None:
                self.request.upload_too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def store_upload(upload: UploadedFile, owner: object, then: Callable[[Track], object]) -> Track:
    """Turn an upload into a Track, or raise AudioRejected (or Duplicate: the owner has this file already)
    leaving nothing behind.

    ``then`` runs in the same transaction as the row's creation (it queues the analysis), so if it fails
    the row and the files go too."""
    if upload.size == 0:
        raise AudioRejected("The file is empty.")
    if upload.size > max_upload_bytes():
        raise AudioRejected(too_large_message())
    limits.reserve(owner, upload.size, "this file")  # early, before the long part; again below, atomically
    track_uuid = uuid.uuid4()
    staging = Path(settings.VAR_DIR) / "uploads"
    staging.mkdir(parents=True, exist_ok=True)
    stored = False
    staged = staging / f"{track_uuid}.part"  # no extension: FFmpeg must judge the content alone
    picture = staging / f"{track_uuid}.cover.jpg"
    try:
        digest = hashlib.sha256()
        with open(staged, "wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        _duplicate_of(owner, digest.hexdigest())  # before the probe's work
        info = probe(staged, settings.MAX_DURATION_S, cover=picture)
        name = storage.original_name(track_uuid, info.format)
        stored = True
        storage.store(name, staged)
        if info.cover:
            storage.store(storage.cover_name(track_uuid), picture)
        original_name = upload.name or "upload"
        tags = info.tags
        with transaction.atomic():
            limits.reserve(owner, upload.size, "this file")  # locks the owner: one of two at once gets here first
            _duplicate_of(owner, digest.hexdigest())
            track = Track.objects.create(
                uuid=track_uuid,
                owner=owner,
                title=tags.get("title") or title_from_name(original_name),
                artist=tags.get("artist", ""),
                album=tags.get("album", ""),
                year=tags.get("year"),
                genre=tags.get("genre", ""),
                cover=storage.cover_name(track_uuid) if info.cover else "",
                original_name=original_name[:255],
                file=name,
                format=info.format,
                codec=info.codec,
                duration=info.duration,
                sample_rate=info.sample_rate,
                channels=info.channels,
                size=upload.size,
                sha256=digest.hexdigest(),
            )
            then(track)
    except BaseException:
        if stored:
            storage.delete_prefix(storage.track_prefix(track_uuid))
        raise
    finally:
        for path in (staged, picture):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    logger.info("stored track %s (%s, %.1f s)", track.uuid, info.format, info.duration)
    return track
