"""A copy of a track with its tempo and key in the file's own tags, where DJ software (Rekordbox, Serato,
Traktor) reads them: MP3 and FLAC keep their audio untouched (the packets copied, ID3v2.4 frames TBPM,
TKEY, TIT2 and a comment; FLAC's BPM, INITIALKEY, TITLE and COMMENT); any other format becomes AIFF
(the same samples as PCM) with an ID3v2.4 chunk, since WAV has no tag those programs read for BPM and key.

PyAV (FFmpeg) writes the tags: mutagen, the usual Python tagger, is GPL, which this MIT project cannot
ship. No Django: the caller opens the files.
"""

from __future__ import annotations

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
         cues: list[tuple[str, float]]) -> dict[str, str]:
    """What goes in: title, BPM (to a hundredth, as Rekordbox shows it), key as "Am", and its Camelot code
    and the section cues in the comment."""
    comment = " · ".join(p for p in (
        camelot and f"{camelot} ({key_label})",
        cues and "cues " + ", ".join(f"{name} {int(at // 60)}:{at % 60:04.1f}" for name, at in cues),
    ) if p)
    found = {"title": title, "comment": comment}
    if tempo:
        found["bpm"] = f"{tempo:.2f}".rstrip("0").rstrip(".")
    if key_label:
        found["key"] = tonality(key_label)
    return found


def _metadata(fmt: str, found: dict[str, str]) -> dict[str, str]:
    if fmt == "flac":  # Vorbis comments
        names = {"title": "TITLE", "comment": "COMMENT", "bpm": "BPM", "key": "INITIALKEY"}
    elif fmt == "aiff":  # ID3v2 in its chunk (FFmpeg writes a four-letter key as that frame), AIFF's comment
        names = {"title": "title", "comment": "comment", "bpm": "TBPM", "key": "TKEY"}
    else:  # MP3: the comment goes in after (with_comment)
        names = {"title": "title", "bpm": "TBPM", "key": "TKEY"}
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


def write(source: IO[bytes], fmt: str, found: dict[str, str], target: IO[bytes]) -> None:
    """The tagged copy of ``source`` (an original of format ``fmt``) into ``target``."""
    import av

    out_fmt = extension(fmt)
    options = {"mp3": {"id3v2_version": "4"}, "aiff": {"write_id3v2": "1", "id3v2_version": "4"}}.get(out_fmt, {})
    with av.open(source) as src, av.open(target, "w", format=out_fmt, options=options) as dst:
        dst.metadata.update(_metadata(out_fmt, found))
        stream = src.streams.audio[0]
        if out_fmt in ("mp3", "flac"):
            copied = dst.add_stream_from_template(stream)
            for packet in src.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = copied
                dst.mux(packet)
        else:
            deep = stream.codec_context.format.bits > 16 if stream.codec_context.format else False
            pcm: Any = dst.add_stream("pcm_s24be" if deep else "pcm_s16be", rate=stream.codec_context.sample_rate,
                                      layout=stream.codec_context.layout)
            for frame in src.decode(stream):
                frame.pts = None
                for packet in pcm.encode(frame):
                    dst.mux(packet)
            for packet in pcm.encode(None):
                dst.mux(packet)
    if out_fmt == "mp3":
        target.seek(0)
        tagged = with_comment(target.read(), found.get("comment", ""))
        target.seek(0)
        target.write(tagged)
