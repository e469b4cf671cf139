"""The render port: the mixer's mix as a file, at the mixer's speed and pitch (ADR-002's protocol).

    python -m tracks.ports.render_mix --stem PATH[:GAIN[:PAN]] ... [--rate 0.8] [--semitones -2]
        [--start S --end S] --format wav|mp3 --output OUT

Reads each stem's stretch from ``start`` to ``end`` (a loop; the whole song without them), mixes them with
their gains and the mixer's equal-power pan law, then changes speed and pitch in one pass over the mix with
Signalsmith Stretch (python-stretch, MIT: the library the page's worklet runs), which keeps each beat where
the new speed puts it, and writes 16-bit WAV or MP3 at 320 kbit/s. Prints ``{"path", "bytes", "duration",
"rate", "semitones"}`` and exits 0, or the error object and a non-zero exit. Imports no Django.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from .contract import ErrorKind
from .lib.audio_stream import PreviewWriter, pan_gains
from .port_protocol import Parser, PortFailure, progress, r, run

MP3_KBPS = 320


def stem_arg(text: str) -> tuple[str, float, float]:
    """``PATH[:GAIN[:PAN]]``: a stem and its level (gain 0 to 4, pan -1 left to 1 right)."""
    path, *levels = text.rsplit(":", 2) if text.count(":") >= 1 else (text,)
    try:
        gain, pan = (float(levels[0]) if levels else 1.0), (float(levels[1]) if len(levels) > 1 else 0.0)
    except ValueError:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, f"not a stem with its gain and pan: {text}") from None
    if not 0 <= gain <= 4 or not -1 <= pan <= 1:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, f"gain must be 0 to 4 and pan -1 to 1: {text}")
    return path, gain, pan


def read_mix(stems: list[tuple[str, float, float]], start: float, end: float | None) -> tuple[np.ndarray, int]:
    """The stems' stretch from ``start`` to ``end`` mixed to stereo, float32 (channels, frames)."""
    import soundfile as sf

    mix, rate = None, None
    for n, (path, gain, pan) in enumerate(stems):
        progress(0.4 * n / len(stems), "reading the stems")
        try:
            with sf.SoundFile(path) as f:
                if rate is not None and f.samplerate != rate:
                    raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "the stems have different sample rates")
                rate = f.samplerate
                first = round(start * rate)
                last = f.frames if end is None else min(f.frames, round(end * rate))
                if first >= last:
                    raise PortFailure(ErrorKind.INVALID_ARGUMENTS, f"nothing between {start} s and {end} s of {path}")
                f.seek(first)
                block = f.read(last - first, dtype="float32", always_2d=True).T
        except (sf.LibsndfileError, RuntimeError) as error:
            raise PortFailure(ErrorKind.DECODE_ERROR, f"cannot read {path}: {error}") from None
        if block.shape[0] == 1:
            block = np.repeat(block, 2, axis=0)
        ll, rl, lr, rr = pan_gains(pan)
        mixed = gain * np.stack([ll * block[0] + rl * block[1], lr * block[0] + rr * block[1]])
        if mix is None:
            mix = mixed
        else:
            frames = min(mix.shape[1], mixed.shape[1])
            mix = mix[:, :frames] + mixed[:, :frames]
    assert mix is not None and rate is not None
    return mix.astype(np.float32), rate


def stretch(mix: np.ndarray, rate: int, speed: float, semitones: float) -> np.ndarray:
    """The mix at ``speed`` (0.8: slower, longer) and ``semitones`` up or down, in one pass: the library
    compensates its latency over a whole buffer (fed in pieces, beats would drift)."""
    if speed == 1 and semitones == 0:
        return mix
    import python_stretch as ps

    stretcher = ps.Signalsmith.Stretch()
    stretcher.preset(mix.shape[0], rate)
    stretcher.setTimeFactor(speed)
    stretcher.setTransposeSemitones(semitones)
    return stretcher.process(np.ascontiguousarray(mix))


def write(out: np.ndarray, rate: int, fmt: str, path: str) -> None:
    out = np.clip(out, -1.0, 1.0)
    if fmt == "wav":
        import soundfile as sf

        sf.write(path, out.T, rate, subtype="PCM_16")
        return
    writer = PreviewWriter(path, rate, kbps=MP3_KBPS)
    for at in range(0, out.shape[1], 65536):
        writer.write(out[:, at:at + 65536])
    writer.close()


def main(argv: list[str]) -> dict[str, Any]:
    parser = Parser(prog="python -m tracks.ports.render_mix")
    parser.add_argument("--stem", action="append", required=True, type=stem_arg, help="PATH[:GAIN[:PAN]]")
    parser.add_argument("--rate", type=float, default=1.0, help="speed, 0.5 to 1.5 (0.8: 80 %%)")
    parser.add_argument("--semitones", type=float, default=0.0, help="transpose, -12 to 12")
    parser.add_argument("--start", type=float, default=0.0, help="from here (seconds)")
    parser.add_argument("--end", type=float, default=None, help="to here (seconds; the end without it)")
    parser.add_argument("--format", choices=("wav", "mp3"), default="wav")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    if not 0.5 <= args.rate <= 1.5 or not -12 <= args.semitones <= 12:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "speed must be 0.5 to 1.5 and transpose -12 to 12 semitones")
    if args.start < 0 or (args.end is not None and args.end <= args.start):
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "the end must come after the start, and the start after 0")
    for path, _, _ in args.stem:
        if not os.path.isfile(path):
            raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {path}")
    mix, rate = read_mix(args.stem, args.start, args.end)
    progress(0.4, "changing speed and pitch")
    out = stretch(mix, rate, args.rate, args.semitones)
    progress(0.8, "writing the file")
    try:
        write(out, rate, args.format, args.output)
    except BaseException:
        if os.path.exists(args.output):
            os.remove(args.output)
        raise
    progress(1.0, "done")
    return {"path": args.output, "bytes": os.path.getsize(args.output), "duration": r(out.shape[1] / rate, 3),
            "rate": args.rate, "semitones": args.semitones}


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.RENDER_FAILED))
