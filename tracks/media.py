"""Audio files: probing uploads by their content, storing them under server-chosen paths, serving them.

An upload becomes a Track only if the probe port (tracks/ports/probe.py: PyAV, whose wheel bundles FFmpeg, in
a process of its own) can decode the whole of it as one of the accepted formats; otherwise the uploader
gets a specific message and nothing is left behind: no row, no file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import logging
import math
import os
import re
import shutil
import struct
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import soundfile as sf
import zipstream
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import models, transaction
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from .models import AnalysisResult, Job, Stem, Track, safe_filename
from .ports import runner

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
}


class AudioRejected(ValueError):
    """The upload is not audio we can use; the message is shown to the uploader as it is."""


class QuotaFull(AudioRejected):
    """What a person asked for would pass their storage quota (HTTP's 413)."""


@dataclass(frozen=True)
class AudioInfo:
    format: str
    codec: str
    duration: float
    sample_rate: int
    channels: int


PROBE_TIMEOUT_S = 120
PROBE_MEMORY_MB = 1024
PROBE_FAILED = {
    "crashed": "The file could not be decoded: the decoder crashed on it.",
    "timeout": "The file could not be decoded: it took over {timeout} s.",
    "memory_limit": "The file could not be decoded within {memory} MB of memory.",
    "probe_failed": "The file could not be decoded.",  # the decoder raised what no file should make it raise
}


def probe(path: Path, max_duration: float) -> AudioInfo:
    """Decode the whole file in the probe port (tracks/ports/probe.py, a process of its own) to prove it is
    usable audio; raise AudioRejected with the reason if not. A decoder that crashes, hangs or floods memory
    on the file rejects it; the port failing for any other reason is the server's fault, and raises."""
    try:
        result = runner.run_port(runner.port_path("probe"), [str(path), "--max-duration", str(max_duration)],
                                 timeout=PROBE_TIMEOUT_S, memory_limit_mb=PROBE_MEMORY_MB,
                                 python=settings.PORT_PYTHON or None)
    except runner.PortError as exc:
        if exc.kind == "rejected":  # tracks/ports/probe.py's own answer, for the uploader
            raise AudioRejected(exc.message) from None
        if exc.kind in PROBE_FAILED:
            logger.warning("probe of an upload failed: %s: %s\n%s", exc.kind, exc.message, exc.stderr_tail)
            raise AudioRejected(PROBE_FAILED[exc.kind].format(timeout=PROBE_TIMEOUT_S, memory=PROBE_MEMORY_MB)
                                ) from None
        raise
    data = result.data
    return AudioInfo(format=data["format"], codec=data["codec"], duration=float(data["duration"]),
                     sample_rate=int(data["sample_rate"]), channels=int(data["channels"]))


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


# -- where media lives -----------------------------------------------------------------------------------------
#
# Files are named in Django's default storage: the local MEDIA_ROOT (FileSystemStorage) out of the box, or an
# S3-compatible bucket (django-storages) when SOUNDFORGE_S3_BUCKET is set, so that workers on other machines
# need only the database, Redis and the bucket. Names are the same either way: tracks/<uuid>/original.<ext>,
# tracks/<uuid>/stems/<job uuid>/<stem>.<ext>. Ports read and write local files: a worker works on local
# copies when the storage is not a local folder.


def is_local() -> bool:
    """Whether the storage is a folder here (its files have paths), rather than a remote bucket."""
    try:
        default_storage.path("x")
    except NotImplementedError:
        return False
    return True


def track_dir(track_uuid: uuid.UUID) -> Path:
    return Path(settings.MEDIA_ROOT) / "tracks" / str(track_uuid)


def track_path(track: Track) -> Path:
    """The original's path in a local storage."""
    return Path(settings.MEDIA_ROOT) / track.file


@contextlib.contextmanager
def local_file(name: str) -> Iterator[Path]:
    """A stored file as a local path for a port to read: the file itself in a local storage, else a copy
    fetched into a temporary file (same extension) that is removed afterwards."""
    if is_local():
        yield Path(default_storage.path(name))
        return
    with tempfile.TemporaryDirectory(prefix="soundforge-") as folder:
        copy = Path(folder) / Path(name).name
        with default_storage.open(name, "rb") as src, open(copy, "wb") as dst:
            for chunk in src.chunks():
                dst.write(chunk)
        yield copy


class _Staged(File):
    """A finished local file handed to the storage: a local storage moves it into place (no copy)."""

    def temporary_file_path(self) -> str:
        return self.name


def store(name: str, path: Path) -> None:
    """Put the local file ``path`` into the storage under exactly ``name``."""
    with open(path, "rb") as f:
        saved = default_storage.save(name, _Staged(f, name=os.fspath(path)))
    if saved != name:  # names are new uuids: a clash means something is badly wrong
        default_storage.delete(saved)
        raise RuntimeError(f"the storage named {name} {saved}")


def delete_prefix(prefix: str) -> None:
    """Every stored file under ``prefix`` (a folder in a local storage, a key prefix in a bucket)."""
    if is_local():
        shutil.rmtree(Path(settings.MEDIA_ROOT) / prefix, ignore_errors=True)
        return
    folders, files = default_storage.listdir(prefix)
    for file in files:
        default_storage.delete(f"{prefix}/{file}")
    for folder in folders:
        delete_prefix(f"{prefix}/{folder}")


def storage_used(owner: object) -> int:
    """Bytes of a person's own tracks: originals and stems (what the storage quota counts)."""
    originals = Track.objects.filter(owner=owner).aggregate(total=models.Sum("size"))["total"] or 0
    stems = Stem.objects.filter(track__owner=owner).aggregate(total=models.Sum("size"))["total"] or 0
    return originals + stems


# What a separation's stems take per second of song and stem (44.1 kHz stereo): 16-bit WAV, FLAC at about
# 60 % of it (music compresses little further), MP3 at 320 kbit/s.
STEM_BYTES_PER_S = {"wav": 44100 * 2 * 2, "flac": 44100 * 2 * 2 * 6 // 10, "mp3": 320_000 // 8}


def separation_bytes(track: Track, model: str, fmt: str) -> int:
    """What a separation of the track will store, counted against the quota before it is queued."""
    stems = 6 if model.endswith("_6s") else 4
    return int(track.duration * STEM_BYTES_PER_S.get(fmt, STEM_BYTES_PER_S["wav"]) * stems)


def reserve(owner: object, needed: int, what: str) -> None:
    """Refuse with QuotaFull unless ``needed`` more bytes fit the owner's quota. Called inside the
    transaction that stores the thing, it locks the owner's row first: concurrent uploads and separations of
    one person are counted one after another, each seeing what the others stored."""
    if transaction.get_connection().in_atomic_block:
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    used, quota = storage_used(owner), settings.USER_QUOTA_MB * 2**20
    if used + needed > quota:
        raise QuotaFull(
            f"Your storage is full: {used / 2**20:.0f} MB of your {settings.USER_QUOTA_MB} MB are used and {what} "
            f"needs {needed / 2**20:.1f} MB. Delete tracks or stems you no longer need."
        )


def store_upload(upload: UploadedFile, owner: object, then: Callable[[Track], object]) -> Track:
    """Turn an upload into a Track, or raise AudioRejected leaving nothing behind.

    ``then`` runs in the same transaction as the row's creation (it queues the analysis), so if it fails
    the row and the files go too."""
    if upload.size == 0:
        raise AudioRejected("The file is empty.")
    if upload.size > max_upload_bytes():
        raise AudioRejected(too_large_message())
    reserve(owner, upload.size, "this file")  # early, before the long part; again below, atomically
    track_uuid = uuid.uuid4()
    staging = Path(settings.VAR_DIR) / "uploads"
    staging.mkdir(parents=True, exist_ok=True)
    stored = False
    staged = staging / f"{track_uuid}.part"  # no extension: FFmpeg must judge the content alone
    try:
        digest = hashlib.sha256()
        with open(staged, "wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        info = probe(staged, settings.MAX_DURATION_S)
        name = f"tracks/{track_uuid}/original.{info.format}"
        stored = True
        store(name, staged)
        original_name = upload.name or "upload"
        with transaction.atomic():
            reserve(owner, upload.size, "this file")
            track = Track.objects.create(
                uuid=track_uuid,
                owner=owner,
                title=title_from_name(original_name),
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
            delete_prefix(f"tracks/{track_uuid}")
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    logger.info("stored track %s (%s, %.1f s)", track.uuid, info.format, info.duration)
    return track


def stems_prefix(job: Job) -> str:
    return f"tracks/{job.track.uuid}/stems/{job.uuid}"


def stems_dir(job: Job) -> Path:
    """Where a separation's port writes: the stems' own folder in a local storage."""
    return Path(settings.MEDIA_ROOT) / stems_prefix(job)


def stem_path(stem: Stem) -> Path:
    return Path(settings.MEDIA_ROOT) / stem.file


def newest_stems(track: Track) -> dict[str, str]:
    """The stored names of the track's newest separation by stem (what the analysis listens to as well)."""
    newest = track.stems.order_by("-job__created", "-job_id").values_list("job_id", flat=True).first()
    return {s.name: s.file for s in track.stems.filter(job_id=newest)} if newest else {}


def delete_stem_files(job: Job) -> None:
    delete_prefix(stems_prefix(job))


def delete_files(track: Track) -> None:
    delete_prefix(f"tracks/{track.uuid}")


ORPHAN_GRACE_S = 3600


def orphans(older_than_s: float = ORPHAN_GRACE_S) -> list[Path]:
    """Media no row points at: a track folder without its Track (a crash between delete and file removal,
    a restore of an older database), a separation folder without stems whose job is over (a worker killed
    while writing). Only what has not changed for ``older_than_s``, so work in progress is never taken."""
    root = Path(settings.MEDIA_ROOT) / "tracks"
    if not is_local() or not root.is_dir():  # a bucket: its own lifecycle rules, see the README
        return []
    cutoff = time.time() - older_than_s
    tracks = {str(u) for u in Track.objects.values_list("uuid", flat=True)}
    kept_jobs = {str(u) for u in Stem.objects.values_list("job__uuid", flat=True)}
    kept_jobs |= {str(u) for u in Job.objects.filter(status__in=Job.ACTIVE).values_list("uuid", flat=True)}
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name not in tracks:
            if _untouched_since(folder, cutoff):
                found.append(folder)
            continue
        stems = folder / "stems"
        for job_folder in sorted(stems.iterdir()) if stems.is_dir() else []:
            if job_folder.name not in kept_jobs and _untouched_since(job_folder, cutoff):
                found.append(job_folder)
    return found


def _untouched_since(path: Path, cutoff: float) -> bool:
    """Nothing in the tree under ``path`` (itself included) changed after ``cutoff``."""
    for entry in [path, *path.rglob("*")]:
        try:
            if entry.lstat().st_mtime > cutoff:
                return False
        except FileNotFoundError:
            continue
    return True


RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
RANGE_CHUNK = 64 * 1024


def _read_range(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(RANGE_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


PREVIEW_SUFFIX = ".preview.mp3"  # as tracks/ports/audio_stream.py writes them


def preview_name(name: str) -> str:
    """Where a stored file's preview is stored: beside it, ``<name>.preview.mp3``."""
    return f"{name.rsplit('.', 1)[0]}{PREVIEW_SUFFIX}"


def preview_missing() -> HttpResponse:
    return HttpResponse("This song's preview for listening is not ready yet.", status=404,
                        content_type="text/plain; charset=utf-8")


def audio_response(track: Track, range_header: str = "", as_attachment: bool = False,
                   preview: bool = False) -> HttpResponseBase:
    """The track's original file, or with ``preview`` its compressed copy for listening (404 until it is
    made). Call only after access.py has said yes."""
    if preview:
        if not track.preview:
            return preview_missing()
        return stored_response(track.preview, CONTENT_TYPES["mp3"], f"{track.title} (preview).mp3", range_header)
    return stored_response(track.file, CONTENT_TYPES.get(track.format), f"{track.title}{Path(track.file).suffix}",
                           range_header, as_attachment)


def stem_response(stem: Stem, range_header: str = "", as_attachment: bool = False,
                  preview: bool = False) -> HttpResponseBase:
    """One stem's file, named ``<title> - <stem> (<model>).<ext>``, or with ``preview`` its compressed copy
    for listening. Call only after access.py has said yes."""
    if preview:
        if not stem.preview:
            return preview_missing()
        return stored_response(stem.preview, CONTENT_TYPES["mp3"], f"{stem.track.title} - {stem.name} (preview).mp3",
                               range_header)
    return stored_response(stem.file, CONTENT_TYPES.get(stem.format), stem.download_name, range_header,
                           as_attachment)


URL_EXPIRE_S = 600


def stored_response(name: str, content_type: str | None, filename: str, range_header: str = "",
                    as_attachment: bool = False) -> HttpResponseBase:
    """A stored file: served from here with ranges when the storage is local, else a redirect to a
    short-lived signed URL of the bucket (which serves ranges itself) with the type and name to use."""
    filename = safe_filename(filename)
    if is_local():
        return file_response(Path(default_storage.path(name)), content_type, filename, range_header, as_attachment)
    parameters = {"ResponseContentType": content_type or "application/octet-stream"}
    if as_attachment:
        parameters["ResponseContentDisposition"] = content_disposition_header(True, filename)
    return HttpResponseRedirect(default_storage.url(name, parameters=parameters, expire=URL_EXPIRE_S))


def _stored_chunks(name: str) -> Iterator[bytes]:
    with default_storage.open(name, "rb") as f:
        yield from f.chunks(RANGE_CHUNK)


def file_response(path: Path, content_type: str | None, filename: str, range_header: str = "",
                  as_attachment: bool = False) -> HttpResponseBase:
    """A file with single-range requests (players seek with them), or, behind a front server that says it
    can (``SOUNDFORGE_SENDFILE``), a header that has the front server send it, ranges included."""
    content_type = content_type or "application/octet-stream"
    if settings.SENDFILE:
        response = HttpResponse(content_type=content_type)
        if settings.SENDFILE == "x-sendfile":
            response["X-Sendfile"] = os.fspath(path.resolve())
        else:
            relative = path.resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()
            response["X-Accel-Redirect"] = settings.SENDFILE_PREFIX.rstrip("/") + "/" + quote(relative)
        return _disposition(response, filename, as_attachment)
    size = path.stat().st_size
    match = RANGE_RE.match(range_header.strip()) if range_header and not as_attachment else None
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            end = min(int(match[2]), size - 1) if match[2] else size - 1
        else:  # the last N bytes
            start, end = max(0, size - int(match[2])), size - 1
        if start >= size or start > end:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        response = StreamingHttpResponse(_read_range(path, start, end - start + 1), status=206,
                                         content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(open(path, "rb"), content_type=content_type,
                                as_attachment=as_attachment, filename=filename)
    response["Accept-Ranges"] = "bytes"
    return response


def _disposition(response: HttpResponseBase, filename: str, as_attachment: bool = True) -> HttpResponseBase:
    # FileResponse's own header logic: an ASCII fallback plus RFC 5987 filename* for the real name.
    response.headers["Content-Disposition"] = content_disposition_header(as_attachment, safe_filename(filename))
    return response


def stems_zip_response(track: Track, stems: list[Stem]) -> HttpResponseBase:
    """All stems of one separation as a zip, streamed file by file (stored: audio does not deflate), with
    its length known up front. Call only after access.py has said yes."""
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    local = is_local()
    for stem in stems:
        if local:
            archive.add_path(os.fspath(stem_path(stem)), stem.download_name)
        else:
            archive.add(_stored_chunks(stem.file), stem.download_name, size=stem.size)
    response = StreamingHttpResponse(archive, content_type="application/zip")
    response["Content-Length"] = str(len(archive))
    model = stems[0].model if stems else "stems"
    return _disposition(response, f"{track.title} - stems ({model}).zip")


MIX_BLOCK = 65536


def _pan_gains(pan: float) -> tuple[float, float, float, float]:
    """Web Audio's StereoPannerNode on a stereo input (equal power), as (ll, rl, lr, rr): left out =
    ll*L + rl*R, right out = lr*L + rr*R. The download then sounds like the mixer."""
    if pan <= 0:
        x = (pan + 1) * math.pi / 2
        return 1.0, math.cos(x), 0.0, math.sin(x)
    x = pan * math.pi / 2
    return math.cos(x), 0.0, math.sin(x), 1.0


def _mix_blocks(stems: list[Stem], gains: dict[str, float], pans: dict[str, float],
                frames: int) -> Iterator[bytes]:
    files = [sf.SoundFile(default_storage.open(stem.file, "rb")) for stem in stems]
    try:
        done = 0
        while done < frames:
            n = min(MIX_BLOCK, frames - done)
            mix = np.zeros((n, 2), dtype=np.float64)
            for stem, f in zip(stems, files, strict=True):
                gain = gains.get(stem.name, 1.0)
                block = f.read(n, dtype="float64", always_2d=True)  # read even when muted: files stay aligned
                if block.shape[1] == 1:
                    block = np.repeat(block, 2, axis=1)
                ll, rl, lr, rr = _pan_gains(pans.get(stem.name, 0.0))
                left, right = block[:, 0], block[:, 1]
                mix[: len(block), 0] += gain * (ll * left + rl * right)
                mix[: len(block), 1] += gain * (lr * left + rr * right)
            done += n
            yield (np.clip(mix, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()
    finally:
        for f in files:
            f.close()


def mix_response(track: Track, stems: list[Stem], gains: dict[str, float], pans: dict[str, float]) -> HttpResponseBase:
    """The stems mixed with the mixer's gains and pans as a 16-bit WAV, rendered while it streams.

    Call only after access.py has said yes."""
    with sf.SoundFile(default_storage.open(stems[0].file, "rb")) as first:
        sample_rate, frames = first.samplerate, first.frames
    data_size = frames * 4
    # The canonical 44-byte PCM header, written up front: its sizes are known before any sample is mixed
    # (the wave module would seek back to patch them, which a stream cannot).
    header = (b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 2, sample_rate, sample_rate * 4, 4, 16)
              + b"data" + struct.pack("<I", data_size))
    body = itertools.chain([header], _mix_blocks(stems, gains, pans, frames))
    response = StreamingHttpResponse(body, content_type="audio/wav")
    response["Content-Length"] = str(len(header) + data_size)
    return _disposition(response, f"{track.title} - mix ({stems[0].model}).wav")


def beat_rows(analysis: AnalysisResult) -> list[list[Any]]:
    """A row per beat: number, time, bar and beat in the bar (from the downbeats), the chord and section
    sounding at it, the tempo and the key; blanks where the analysis has no such figure."""
    data = analysis.shown
    beats = data.get("beats") or []
    downbeats = set(data.get("downbeats") or [])
    chords, sections = data.get("chords") or [], data.get("sections") or []
    tempo = "" if analysis.tempo is None else analysis.tempo
    rows, bar, in_bar = [], 0, 0
    for n, at in enumerate(beats, 1):
        if at in downbeats:
            bar, in_bar = bar + 1, 1
        elif bar:
            in_bar += 1
        chord = next((c[2] for c in chords if c[0] <= at < c[1]), "")
        section = next((s["label"] for s in sections if s["start"] <= at < s["end"]), "")
        rows.append([n, f"{at:.3f}", bar or "", in_bar or "", chord, section, tempo, analysis.key_label])
    return rows


def analysis_response(track: Track, analysis: AnalysisResult, fmt: str) -> HttpResponseBase:
    """An analysis to download: ``json`` is the port's whole output, ``csv`` a row per beat (number, time,
    tempo and key alongside, for spreadsheets and DAWs); both with the tempo as corrected. Call only after
    access.py has said yes."""
    if fmt == "json":
        response = HttpResponse(json.dumps(analysis.shown, indent=1), content_type="application/json")
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["beat", "time_s", "bar", "beat_in_bar", "chord", "section", "tempo_bpm", "key"])
        for row in beat_rows(analysis):
            writer.writerow(row)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        raise Http404("No such format")
    return _disposition(response, f"{track.title} - analysis.{fmt}")
