"""The probe port: decode a whole upload to prove it is usable audio (ADR-002's protocol).

    python -m tracks.ports.probe FILE --max-duration SECONDS [--cover JPEG]

Prints ``{"format", "codec", "duration", "sample_rate", "channels", "tags", "cover"}`` and exits 0 (``tags``:
title, artist, album, genre, year, read by lib/file_tags.py; ``cover``: whether the embedded picture was
written to the path after --cover, made a small JPEG), or prints
``{"error": "rejected", "message": ...}`` (the reason, for the uploader, as it is) and exits 1. The format is
decided by the content alone (FFmpeg's demuxer, through PyAV), never by the file's name.

Run as a process of its own for each upload (tracks/files/uploads.py), not in the web process: a decoder that
crashes or hangs on a hostile file then takes down only this process, and the decoding's CPU never holds
the web process's GIL (its event loop feeds every open page's websocket). Imports no Django.

A file's header may lie about its length: decoding stops as soon as the audio passes the limit (a few
megabytes of FLAC can hold hundreds of hours of constant frames), and the process may use at most
CPU_LIMIT_S of CPU time whatever the file. An MP3 whose last frame is cut short is a truncated file even
when it has no length header to say so.
"""

from __future__ import annotations

import resource
import sys
import wave
from pathlib import Path
from typing import Any

import av

from .contract import ErrorKind
from .lib import file_tags
from .port_protocol import Parser, PortFailure, run

REJECTED = ErrorKind.REJECTED
MIN_DURATION_S = 1.0
CPU_LIMIT_S = 60
ACCEPTED_LABEL = "MP3, WAV, FLAC, OGG (Vorbis/Opus), M4A (AAC/ALAC) or AAC"
# FFmpeg demuxer name -> our format.
CONTAINERS = {
    "mp3": "mp3",
    "wav": "wav",
    "flac": "flac",
    "ogg": "ogg",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
}


def rejected(message: str) -> PortFailure:
    return PortFailure(REJECTED, message)


def _declared_duration(path: str, container: Any, stream: Any, fmt: str) -> float | None:
    if fmt == "wav":
        # FFmpeg quietly trims a WAV's data size to the file's; the header's own claim shows a lie.
        try:
            with wave.open(path) as w:
                if w.getframerate() > 0:
                    return w.getnframes() / w.getframerate()
        except (wave.Error, EOFError):
            pass
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def too_long(seconds: float, limit: float) -> str:
    return f"The audio is {seconds / 60:.1f} minutes long; the limit is {limit / 60:g} minutes."


def probe(path: str, max_duration: float, cover: str | None = None) -> dict[str, Any]:
    """Decode the whole file; raise a ``rejected`` failure with the reason if it is not usable audio. Its tags
    come back with it, and its embedded picture goes to ``cover`` (a path) when there is one."""
    try:
        container = av.open(path)
    except av.error.FFmpegError:
        raise rejected(f"This is not an audio file we can read. Upload {ACCEPTED_LABEL}.") from None
    with container:
        fmt = CONTAINERS.get(container.format.name)
        if not container.streams.audio:
            raise rejected("The file has no audio in it.")
        if fmt is None:
            raise rejected(f"{container.format.long_name or container.format.name} files are not accepted. "
                           f"Upload {ACCEPTED_LABEL}.")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name
        if fmt == "ogg" and codec == "opus":
            fmt = "opus"
        rate, channels = stream.rate or 0, stream.channels or 0
        if not 8000 <= rate <= 384000:
            raise rejected(f"The file's header claims an impossible sample rate ({rate} Hz).")
        if not 1 <= channels <= 32:
            raise rejected(f"The file's header claims an impossible channel count ({channels}).")
        found = file_tags.tags(container, stream)
        declared = _declared_duration(path, container, stream, fmt)
        if declared and declared > max_duration + 1:
            raise rejected(too_long(declared, max_duration))

        samples = packets = bad = 0
        last = None  # the last packet with data: only its bytes are looked at, once
        try:
            for packet in container.demux(stream):
                packets += 1
                if packet.size:
                    last = packet
                try:
                    samples += sum(frame.samples for frame in packet.decode())
                except av.error.InvalidDataError:
                    bad += 1
                if samples > (max_duration + 1) * rate:
                    raise rejected(f"The audio runs past the limit of {max_duration / 60:g} minutes.")
        except av.error.FFmpegError as exc:
            raise rejected(f"The audio is damaged and cannot be decoded ({exc.strerror}).") from None
    if fmt == "mp3" and last is not None and cut_short(bytes(last)):
        raise rejected("The file is truncated: its last MP3 frame is cut off.")

    decoded = samples / rate
    if samples == 0:
        raise rejected("The file holds no audio that can be decoded.")
    if bad > max(2, packets // 50):
        raise rejected(f"The audio is damaged: {bad} of its {packets} packets cannot be decoded.")
    if declared and decoded < declared - max(1.0, 0.02 * declared):
        raise rejected(f"The file is truncated: it declares {declared:.1f} s of audio but holds only "
                       f"{decoded:.1f} s.")
    if decoded > max_duration:
        raise rejected(too_long(decoded, max_duration))
    if decoded < MIN_DURATION_S:
        raise rejected(f"The audio is too short to analyse ({decoded:.2f} s; at least {MIN_DURATION_S:g} s).")
    return {"format": fmt, "codec": codec, "duration": decoded, "sample_rate": rate, "channels": channels,
            "tags": found, "cover": bool(cover) and file_tags.cover(path, Path(cover))}


# MPEG audio Layer III: kbit/s by bitrate index, for MPEG-1 and for MPEG-2 and 2.5; sample rates by index.
MP3_KBPS = {1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
            2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
MP3_RATES = (44100, 48000, 32000)


def cut_short(frame: bytes) -> bool:
    """Whether an MP3 frame (header included, as FFmpeg's demuxer hands it over) is shorter than its
    header says: 144 (MPEG-1) or 72 (MPEG-2, 2.5) bytes per kbit/s over the rate in kHz, plus padding."""
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0 or (frame[1] >> 1) & 3 != 1:
        return False  # not a Layer III header: nothing to go by
    version = (frame[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate_index, rate_index, padding = frame[2] >> 4, (frame[2] >> 2) & 3, (frame[2] >> 1) & 1
    if version == 1 or bitrate_index in (0, 15) or rate_index == 3:
        return False
    kbps = MP3_KBPS[1 if version == 3 else 2][bitrate_index]
    rate = MP3_RATES[rate_index] // {3: 1, 2: 2, 0: 4}[version]
    length = (144 if version == 3 else 72) * kbps * 1000 // rate + padding
    return len(frame) < length


def main(argv: list[str]) -> dict[str, Any]:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_S, CPU_LIMIT_S + 5))
    parser = Parser(prog="python -m tracks.ports.probe")
    parser.add_argument("path")
    parser.add_argument("--max-duration", type=float, required=True)
    parser.add_argument("--cover", help="where to write the embedded picture, as a JPEG, when there is one")
    args = parser.parse_args(argv)
    return probe(args.path, args.max_duration, args.cover)


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.PROBE_FAILED))
