"""What a file says about itself: its title, artist, album, year and genre tags, and its embedded cover made a
small JPEG. Read by the probe port (FFmpeg, through PyAV), so a hostile tag or picture stays in that process;
what comes out is plain text of bounded length and a picture FFmpeg decoded and encoded afresh.

FFmpeg names the tags alike whatever the format (ID3v2 TIT2/TPE1/TALB/TDRC/TCON, Vorbis comments, MP4 atoms,
RIFF INFO): ``title``, ``artist``, ``album``, ``date``, ``genre``; Ogg keeps them on the stream, the others on the
container. An embedded picture is a video stream marked ``attached_pic`` (ID3 APIC, FLAC PICTURE, MP4 covr).
"""

from __future__ import annotations

import fractions
import re
import unicodedata
from pathlib import Path
from typing import Any

import av

# Each tag and the most characters kept of it.
TAGS = {"title": 200, "artist": 200, "album": 200, "genre": 64}
COVER_SIDE = 600  # pixels, the longer side at most
COVER_MAX_BYTES = 16 * 1024 * 1024  # a bigger picture is not read
COVER_MAX_PIXELS = 8192 * 8192
YEAR = re.compile(r"\b(1[0-9]{3}|2[0-9]{3})\b")
ID3V1_GENRE = re.compile(r"^\((\d+)\)$")


def clean(value: Any, most: int) -> str:
    """A tag's text as it may be shown: normalised, no control characters, spaces collapsed, cut to ``most``."""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return re.sub(r"\s+", " ", text).strip()[:most].strip()


def _lookup(*sources: Any) -> dict[str, str]:
    """The metadata of the container and its audio stream, by lower-case name (the first found wins)."""
    found: dict[str, str] = {}
    for source in sources:
        for name, value in dict(source or {}).items():
            found.setdefault(str(name).lower(), str(value))
    return found


def tags(container: Any, stream: Any) -> dict[str, Any]:
    """The file's tags: title, artist, album and genre (text, empty when absent), year (a number or None)."""
    found = _lookup(container.metadata, stream.metadata)
    out: dict[str, Any] = {name: clean(found.get(name, ""), most) for name, most in TAGS.items()}
    if not out["artist"]:
        out["artist"] = clean(found.get("album_artist", ""), TAGS["artist"])
    if ID3V1_GENRE.match(out["genre"]):  # an ID3v1 genre number FFmpeg left as it was: no name to show
        out["genre"] = ""
    year = YEAR.search(found.get("date", "") or found.get("year", "") or found.get("tyer", ""))
    out["year"] = int(year.group(1)) if year else None
    return out


def _cover_stream(container: Any) -> Any:
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def cover(path: str, target: Path) -> bool:
    """Write the file's embedded picture to ``target`` as a JPEG at most COVER_SIDE pixels a side; whether there
    was one FFmpeg could decode (a picture it cannot, or an absurd one, is left out, never an error)."""
    try:
        with av.open(path) as container:
            stream = _cover_stream(container)
            if stream is None:
                return False
            packet = next(iter(container.demux(stream)), None)
            if packet is None or not 0 < packet.size <= COVER_MAX_BYTES:
                return False
            decoder = av.CodecContext.create(stream.codec_context.name, "r")
            frames = decoder.decode(av.Packet(bytes(packet))) + decoder.decode(None)
    except (av.error.FFmpegError, ValueError, StopIteration):
        return False
    if not frames or frames[0].width * frames[0].height > COVER_MAX_PIXELS or min(frames[0].width,
                                                                                   frames[0].height) < 8:
        return False
    picture = frames[0]
    scale = min(1.0, COVER_SIDE / max(picture.width, picture.height))
    width, height = (max(8, round(side * scale) // 2 * 2) for side in (picture.width, picture.height))
    try:
        frame = picture.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA")
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
        encoder.time_base = fractions.Fraction(1, 1)
        encoder.options = {"qmin": "2", "qmax": "6"}
        data = b"".join(bytes(p) for p in encoder.encode(frame)) + b"".join(bytes(p) for p in encoder.encode(None))
    except av.error.FFmpegError:
        return False
    target.write_bytes(data)
    return True
