"""Serving files once access.py has said yes: the original, a stem or their previews with byte ranges (or a
front server's sendfile, or a bucket's signed URL), the stems as a streamed zip, the mixer's mix rendered
while it streams (the maths in mixing.py), and the analysis as JSON or CSV."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import soundfile as sf
import zipstream
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from ..models import AnalysisResult, Stem, Track, safe_filename
from ..music import cues, keys, labels, loops, midi, mixing, tagging
from . import rekordbox, storage

logger = logging.getLogger(__name__)


CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
}


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
    return stored_response(track.file, CONTENT_TYPES.get(track.format), track.download_name, range_header,
                           as_attachment)


def stem_response(stem: Stem, range_header: str = "", as_attachment: bool = False,
                  preview: bool = False) -> HttpResponseBase:
    """One stem's file, named ``<title> - <stem> (<model>).<ext>``, or with ``preview`` its compressed copy
    for listening. Call only after access.py has said yes."""
    if preview:
        if not stem.preview:
            return preview_missing()
        suffix = Path(stem.preview).suffix  # .opus (older separations: .mp3)
        return stored_response(stem.preview, CONTENT_TYPES.get(suffix[1:]),
                               f"{stem.track.title} - {stem.name} (preview){suffix}", range_header)
    return stored_response(stem.file, CONTENT_TYPES.get(stem.format), stem.download_name, range_header,
                           as_attachment)


URL_EXPIRE_S = 600


def stored_response(name: str, content_type: str | None, filename: str, range_header: str = "",
                    as_attachment: bool = False) -> HttpResponseBase:
    """A stored file: served from here with ranges when the storage is local, else a redirect to a
    short-lived signed URL of the bucket (which serves ranges itself) with the type and name to use."""
    filename = safe_filename(filename)
    if storage.is_local():
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


def _stored_zip_response(files: list[tuple[str, str, int]], filename: str) -> HttpResponseBase:
    """Stored files (each its stored name, its name in the archive and its size) as a zip streamed file by
    file (stored: audio does not deflate), its length known up front."""
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    local = storage.is_local()
    for stored, name, size in files:
        if local:
            archive.add_path(os.fspath(Path(settings.MEDIA_ROOT) / stored), name)
        else:
            archive.add(_stored_chunks(stored), name, size=size)
    response = StreamingHttpResponse(archive, content_type="application/zip")
    response["Content-Length"] = str(len(archive))
    return _disposition(response, filename)


def stems_zip_response(track: Track, stems: list[Stem]) -> HttpResponseBase:
    """All stems of one separation as a zip. Call only after access.py has said yes."""
    model = stems[0].model if stems else "stems"
    return _stored_zip_response([(stem.file, stem.download_name, stem.size) for stem in stems],
                                f"{track.title} - stems ({model}).zip")


def originals_zip_response(tracks: list[Track], filename: str) -> HttpResponseBase:
    """The tracks' original files as a zip, each named as its download (a second song of the same name gets
    " (2)"). Call only after access.py has said yes for each."""
    names, files = Counter[str](), []
    for track in tracks:
        stem, dot, ext = track.download_name.rpartition(".")
        names[track.download_name.lower()] += 1
        n = names[track.download_name.lower()]
        files.append((track.file, track.download_name if n == 1 else f"{stem} ({n}){dot}{ext}", track.size))
    return _stored_zip_response(files, filename)


def mix_response(track: Track, stems: list[Stem], gains: dict[str, float], pans: dict[str, float]) -> HttpResponseBase:
    """The stems mixed with the mixer's gains and pans as a 16-bit WAV, rendered while it streams.

    Call only after access.py has said yes."""
    with sf.SoundFile(default_storage.open(stems[0].file, "rb")) as first:
        sample_rate, frames = first.samplerate, first.frames
    data_size = frames * 4
    header = mixing.wav_header(sample_rate, frames)
    levels = [(gains.get(stem.name, 1.0), pans.get(stem.name, 0.0)) for stem in stems]
    body = itertools.chain([header], _mixed_blocks(stems, levels, 0, frames))
    response = StreamingHttpResponse(body, content_type="audio/wav")
    response["Content-Length"] = str(len(header) + data_size)
    return _disposition(response, f"{track.title} - mix ({stems[0].model}).wav")


LOOP_FADE_S = 0.005  # a loop's fade in and out: no click at its edges, its attack kept


def _mixed_blocks(stems: list[Stem], levels: list[tuple[float, float]], start: int, frames: int,
                  fade: int = 0) -> Iterator[bytes]:
    """``frames`` of the stems from ``start`` mixed at ``levels`` (gain, pan) as 16-bit PCM, a block at a time,
    faded in and out over ``fade`` frames."""
    files = [sf.SoundFile(default_storage.open(stem.file, "rb")) for stem in stems]
    try:
        for f in files:
            f.seek(start)
        yield from mixing.mix(files, levels, frames, fade)
    finally:
        for f in files:
            f.close()


def _loop_wav(stems: list[Stem], levels: list[tuple[float, float]], loop: loops.Loop,
              sample_rate: int) -> tuple[int, Iterator[bytes]]:
    """A loop as a 16-bit stereo WAV: its length, and its bytes rendered while they stream."""
    start, end = round(loop.start * sample_rate), round(loop.end * sample_rate)
    header = mixing.wav_header(sample_rate, end - start)
    fade = round(LOOP_FADE_S * sample_rate)
    body = itertools.chain([header], _mixed_blocks(stems, levels, start, end - start, fade))
    return len(header) + (end - start) * 4, body


def _loop_sources(stems: list[Stem], what: str, gains: dict[str, float],
                  pans: dict[str, float]) -> tuple[list[Stem], list[tuple[float, float]]]:
    """The stems a loop of ``what`` (a stem's name, or ``mix`` with the mixer's levels) is made of."""
    chosen = stems if what == "mix" else [s for s in stems if s.name == what]
    return chosen, [(gains.get(s.name, 1.0), pans.get(s.name, 0.0)) if what == "mix" else (1.0, 0.0) for s in chosen]


def loop_response(track: Track, stems: list[Stem], analysis: AnalysisResult, what: str, loop: loops.Loop,
                  gains: dict[str, float], pans: dict[str, float]) -> HttpResponseBase:
    """Bars of a stem or of the mix as a WAV cut on the beat grid with short fades, named for a sampler.
    Call only after access.py has said yes."""
    chosen, levels = _loop_sources(stems, what, gains, pans)
    with sf.SoundFile(default_storage.open(chosen[0].file, "rb")) as first:
        sample_rate = first.samplerate
    size, body = _loop_wav(chosen, levels, loop, sample_rate)
    response = StreamingHttpResponse(body, content_type="audio/wav")
    response["Content-Length"] = str(size)
    return _disposition(response, loops.filename(track.title, what, loop, analysis.tempo, analysis.key_label))


def loops_zip_response(track: Track, stems: list[Stem], analysis: AnalysisResult, what: str,
                       sections: list[loops.Loop], gains: dict[str, float], pans: dict[str, float]) -> HttpResponseBase:
    """Every section of a stem or of the mix as a loop, in a zip streamed loop by loop (stored, its length
    known up front). Call only after access.py has said yes."""
    chosen, levels = _loop_sources(stems, what, gains, pans)
    with sf.SoundFile(default_storage.open(chosen[0].file, "rb")) as first:
        sample_rate = first.samplerate
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for number, loop in enumerate(sections, 1):
        size, body = _loop_wav(chosen, levels, loop, sample_rate)
        name = loops.filename(track.title, what, loop, analysis.tempo, analysis.key_label, number)
        archive.add(body, safe_filename(name), size=size)
    response = StreamingHttpResponse(archive, content_type="application/zip")
    response["Content-Length"] = str(len(archive))
    return _disposition(response, f"{track.title} - {what} - sections as loops.zip")


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
    tempo and key alongside, for spreadsheets and DAWs), ``xml`` Rekordbox's collection XML; all with the
    tempo as corrected. Call only after access.py has said yes."""
    if fmt == "json":
        response = HttpResponse(json.dumps(analysis.shown, indent=1), content_type="application/json")
    elif fmt == "xml":
        return rekordbox_response([track], f"{track.title} - rekordbox.xml")
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


def dj_facts(track: Track) -> tuple[AnalysisResult | None, str, list[cues.Found]]:
    """What DJ software is told about a track: its latest analysis, its Camelot key and its cue points."""
    analysis = track.latest_analysis()
    kept = [cues.Found(c.name, c.at, c.colour) for c in track.cues.all()]
    return analysis, keys.camelot(analysis.key_label if analysis else ""), kept


def rekordbox_response(tracks: list[Track], filename: str, playlist: str = "SoundForge") -> HttpResponseBase:
    """Rekordbox's collection XML for these tracks (tempo, beat grid, key, cues), each with its latest
    analysis, in one playlist (named ``playlist``, in their order). Call only after access.py has said yes to
    each."""
    response = HttpResponse(rekordbox.collection([(track, *dj_facts(track)) for track in tracks], playlist),
                            content_type="application/xml")
    return _disposition(response, filename)


def tagged_response(track: Track) -> HttpResponseBase:
    """The original with its tempo, key and cue points in its own tags, for DJ software (tagging.py): an
    MP3 or FLAC as it is, anything else as AIFF. Written to a temporary file that goes when it is sent;
    400 if the file cannot be read. Named "<title> (tagged).<ext>". Call only after access.py has said yes."""
    import av

    analysis, key, kept = dj_facts(track)
    found = tagging.tags(track.title, analysis.tempo if analysis else None, analysis.key_label if analysis else "",
                         key, [(c.name, c.at) for c in kept], artist=track.artist, album=track.album,
                         year=track.year, genre=track.genre)
    cover = b""
    if track.cover:
        with default_storage.open(track.cover, "rb") as picture:
            cover = picture.read()
    target = tempfile.TemporaryFile()
    try:
        with default_storage.open(track.file, "rb") as source:
            tagging.write(source, track.format, found, target, cover)
    except av.FFmpegError as error:
        target.close()
        logger.warning("could not tag %s: %s", track.uuid, error)
        return HttpResponse("This file could not be read to tag it.", status=400)
    target.seek(0)
    ext = tagging.extension(track.format)
    response = FileResponse(target, content_type=CONTENT_TYPES[ext])
    return _disposition(response, f"{track.title} (tagged).{ext}")  # not the original's name: kept beside it


def midi_response(track: Track, stem: Stem, quantise: int) -> HttpResponseBase:
    """A transcribed stem as a MIDI file on the latest analysis's tempo map, its notes moved to the nearest
    ``1/(4 * quantise)`` note when ``quantise`` is not 0, named "Night Drive - bass - 100 BPM - A minor.mid".
    Call only after access.py has said yes."""
    analysis = track.latest_analysis()
    shown = analysis.shown if analysis else None
    content = midi.midi_file(stem.notes, shown, stem.duration, name=f"{track.title} - {stem.name}",
                             program=midi.PROGRAMS.get(stem.name, 0), quantise=quantise)
    tempo = analysis.tempo if analysis else None
    parts = [track.title, stem.name, f"{round(tempo)} BPM" if tempo else "", analysis.key_label if analysis else "",
             f"1-{4 * quantise} grid" if quantise else ""]
    return _disposition(HttpResponse(content, content_type="audio/midi"), " - ".join(p for p in parts if p) + ".mid")


def render_response(track: Track, job: Any) -> HttpResponseBase:
    """A rendered mix, named with what it is. Call only after access.py has said yes."""
    fmt = job.options.get("format", "wav")
    name = f"{track.title} - mix ({labels.render_label(job.options)}).{fmt}"
    return stored_response(job.options["file"], CONTENT_TYPES[fmt], name, as_attachment=True)
