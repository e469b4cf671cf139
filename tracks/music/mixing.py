"""The mixer's mix as a file: each stem's gain and pan as the page's Web Audio graph applies them, summed
to 16-bit stereo PCM a block at a time. numpy only, no Django: the caller opens the files."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..ports.lib.audio_stream import pan_gains

BLOCK = 65536  # frames mixed at once


def mix(files: list[Any], levels: list[tuple[float, float]], frames: int, fade: int = 0) -> Iterator[bytes]:
    """``frames`` frames of the files (soundfile.SoundFile-like: ``read(n, dtype, always_2d)``, from where
    each stands) mixed with their (gain, pan), clipped, as little-endian 16-bit stereo PCM, a block at a
    time. A mono file sounds in both channels before its pan. ``fade``: frames of linear fade in at the
    start and out at the end (a loop cut from a song starts and ends without a click)."""
    done = 0
    while done < frames:
        n = min(BLOCK, frames - done)
        out = np.zeros((n, 2), dtype=np.float64)
        for f, (gain, pan) in zip(files, levels, strict=True):
            block = f.read(n, dtype="float64", always_2d=True)  # read even when muted: files stay aligned
            if block.shape[1] == 1:
                block = np.repeat(block, 2, axis=1)
            ll, rl, lr, rr = pan_gains(pan)
            left, right = block[:, 0], block[:, 1]
            out[: len(block), 0] += gain * (ll * left + rl * right)
            out[: len(block), 1] += gain * (lr * left + rr * right)
        if fade:
            at = np.arange(done, done + n)
            out *= np.clip(np.minimum(at + 1, frames - at) / fade, 0.0, 1.0)[:, None]
        done += n
        yield (np.clip(out, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


def wav_header(sample_rate: int, frames: int) -> bytes:
    """The canonical 44-byte header of 16-bit stereo PCM, written up front: its sizes are known before any
    sample is mixed (the wave module would seek back to patch them, which a stream cannot)."""
    data_size = frames * 4
    return (b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 2, sample_rate, sample_rate * 4, 4, 16)
            + b"data" + struct.pack("<I", data_size))
