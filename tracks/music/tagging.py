"""A copy of a track with its tempo and key in the file's own tags, where DJ software (Rekordbox, Serato,
Traktor) reads them, with the title, artist, album, year and genre: MP3 and FLAC keep their audio untouched
(the packets copied, ID3v2.4 frames TBPM, TKEY, TIT2, TPE1, TALB, TDRC, TCON, a comment and the cover as APIC;
FLAC's BPM, INITIALKEY, TITLE, ARTIST, ALBUM, DATE, GENRE, COMMENT and a PICTURE); any other format becomes
AIFF (the same samples as PCM) with an ID3v2.4 chunk, since WAV has no tag those programs read for BPM and
key (FFmpeg writes no picture into AIFF).

PyAV (FFmpeg) writes the tags: mutagen, the usual Python tagger, is GPL, which this MIT project cannot
ship. No Django: the caller opens the files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

COPIED = {"mp3": "mp3", "flac": "flac"}


def extension(fmt: str) -> str:
    """The tagged copy's extension for an original of format ``fmt``."""
    return COPIED.get(fmt, "aiff")


def tonality(key_label: str) -> str:
    """A key as DJ software writes it: "Am", "F#", "" for none."""
    tonic, _, mode = key_label.partition(" ")
    return f"{tonic}{'m' if mode == 'minor' else ''}" if tonic else ""


def tags(title: str, tempo: float | None, key_label: str, camelot: str,
         cues: list[tuple[str, float]], artist: str = "", album: str = "", year: int | None = None,
         genre: str = "") -> dict[str, str]:
    """What goes in: title, artist, album, year and genre, BPM (to a hundredth, as Rekordbox shows it), key as
    "Am", and its Camelot code and the section cues in the comment."""
    comment = " · ".join(p for p in (
        camelot and f"{camelot} ({key_label})",
        cues and "cues " + ", ".join(f"{name} {int(at // 60)}:{at % 60:04.1f}" for name, at in cues),
    ) if p)
    found = {"title": title, "comment": comment}
    found.update({name: value for name, value in (("artist", artist), ("album", album), ("genre", genre),
                                                  ("date", str(year) if year else "")) if value})
    if tempo:
        found["bpm"] = f"{tempo:.2f}".rstrip("0").rstrip(".")
    if key_label:
        found["key"] = tonality(key_label)
    return found


TEXT = ("title", "artist", "album", "date", "genre")  # FFmpeg's names, which each muxer writes as its format's


def _metadata(fmt: str, found: dict[str, str]) -> dict[str, str]:
    if fmt == "flac":  # Vorbis comments
        names = {**{k: k.upper() for k in TEXT}, "comment": "COMMENT", "bpm": "BPM", "key": "INITIALKEY"}
    elif fmt == "aiff":  # ID3v2 in its chunk (FFmpeg writes a four-letter key as that frame), AIFF's comment
        names = {**{k: k for k in TEXT}, "comment": "comment", "bpm": "TBPM", "key": "TKEY"}
    else:  # MP3: the comment goes in after (with_comment)
        names = {**{k: k for k in TEXT}, "bpm": "TBPM", "key": "TKEY"}
    return {names[k]: v for k, v in found.items() if v and k in names}


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def with_comment(data: bytes, text: str) -> bytes:
    """An ID3v2.4-tagged file with a COMM frame (UTF-8, "eng", no description) added to its tag: what DJ
    software shows as the comment. FFmpeg writes only text frames, a comment as a TXXX they ignore."""
    if not text or data[:3] != b"ID3" or data[3] != 4:
        return data
    size = sum(b << shift for b, shift in zip(data[6:10], (21, 14, 7, 0), strict=True))
    body = b"\x03eng\x00" + text.encode()
    frame = b"COMM" + _syncsafe(len(body)) + b"\x00\x00" + body
    return data[:6] + _syncsafe(size + len(frame)) + frame + data[10:]


def _encoded(stream: Any, frames: Iterator[Any]) -> Iterator[Any]:
    for frame in frames:
        frame.pts = None
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _add_cover(dst: Any, jpeg: bytes) -> Any:
    """The picture as the file's front cover (ID3's APIC, FLAC's PICTURE): FFmpeg's attached picture."""
    import av

    decoded = av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))
    stream = dst.add_stream("mjpeg")
    stream.width, stream.height, stream.pix_fmt = decoded[0].width, decoded[0].height, "yuvj420p"
    stream.disposition = av.stream.Disposition.attached_pic
    stream.metadata.update({"title": "Cover", "comment": "Cover (front)"})
    packet = av.Packet(jpeg)
    packet.stream, packet.pts, packet.dts = stream, 0, 0
    return packet


def write(source: IO[bytes], fmt: str, found: dict[str, str], target: IO[bytes], cover: bytes = b"") -> None:
    """The tagged copy of ``source`` (an original of format ``fmt``) into ``target``, with ``cover`` (a JPEG)
    as its picture when given (MP3 and FLAC)."""
    import av

    out_fmt = extension(fmt)
    options = {"mp3": {"id3v2_version": "4"}, "aiff": {"write_id3v2": "1", "id3v2_version": "4"}}.get(out_fmt, {})
    with av.open(source) as src, av.open(target, "w", format=out_fmt, options=options) as dst:
        dst.metadata.update(_metadata(out_fmt, found))
        stream = src.streams.audio[0]
        if out_fmt in ("mp3", "flac"):
            out: Any = dst.add_stream_from_template(stream)
            packets = (p for p in src.demux(stream) if p.dts is not None)
        else:
            deep = stream.codec_context.format.bits > 16 if stream.codec_context.format else False
            out = dst.add_stream("pcm_s24be" if deep else "pcm_s16be", rate=stream.codec_context.sample_rate,
                                 layout=stream.codec_context.layout)
            packets = _encoded(out, src.decode(stream))
        if cover and out_fmt in ("mp3", "flac"):  # FFmpeg's AIFF muxer takes no picture; before any audio:
            # the muxers write it in the header
            dst.mux(_add_cover(dst, cover))
        for packet in packets:
            packet.stream = out
            dst.mux(packet)
    if out_fmt == "mp3":
        target.seek(0)
        tagged = with_comment(target.read(), found.get("comment", ""))
        target.seek(0)
        target.write(tagged)
