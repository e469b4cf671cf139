"""Hostile audio for the fuzz tests and bench/fuzz.py: real files of every accepted format, then mutated
(bits flipped, bytes overwritten, inserted or cut, the file truncated) or replaced by random bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from tests import audio

FORMATS = (("wav", None), ("mp3", "libmp3lame"), ("flac", "flac"), ("ogg", "libopus"), ("mp4", "aac"))


def seeds(folder: Path) -> list[bytes]:
    """One second and a half of a song in each format, as bytes."""
    out = []
    for fmt, codec in FORMATS:
        sr = 48000 if codec == "libopus" else 22050  # Opus runs at 48 kHz only
        y = audio.song("E", "minor", 110.0, 1.5, sr=sr)
        path = folder / f"seed.{fmt}"
        if codec is None:
            audio.write_wav(path, y, sr)
        else:
            audio.write_encoded(path, y, sr=sr, fmt=fmt, codec=codec)
        out.append(path.read_bytes())
    return out


@st.composite
def mutated(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(min_size=0, max_size=4096))  # nothing like audio at all
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(("flip", "overwrite", "insert", "cut", "truncate")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=256))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 512))]
        elif kind == "truncate":
            del data[at:]
    return bytes(data)

