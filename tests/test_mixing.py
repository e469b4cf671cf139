"""The mixer's mix as a file (tracks/music/mixing.py): the page's pan law and gains, summed and clipped."""

from __future__ import annotations

import numpy as np
import pytest

from tracks.music import mixing


class Reader:
    """A soundfile.SoundFile's read() over an array."""

    def __init__(self, frames: np.ndarray) -> None:
        self.frames, self.at = frames, 0

    def read(self, n: int, dtype: str, always_2d: bool) -> np.ndarray:
        block = self.frames[self.at:self.at + n]
        self.at += len(block)
        return block.astype(dtype)


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").reshape(-1, 2) / 32767


@pytest.mark.parametrize(("pan", "left", "right"), [(0.0, (1, 0), (0, 1)), (-1.0, (1, 1), (0, 0)),
                                                    (1.0, (0, 0), (1, 1))])
def test_the_pan_law_is_web_audios_stereo_panner(pan: float, left: tuple, right: tuple) -> None:
    """Centre keeps the channels; hard left and right fold both into one side, as StereoPannerNode does."""
    ll, rl, lr, rr = mixing.pan_gains(pan)
    assert (ll, rl) == pytest.approx(left, abs=1e-12) and (lr, rr) == pytest.approx(right, abs=1e-12)


def test_half_left_keeps_the_power_of_a_right_channel() -> None:
    ll, rl, lr, rr = mixing.pan_gains(-0.5)
    assert ll == 1.0 and lr == 0.0
    assert rl**2 + rr**2 == pytest.approx(1.0)  # equal power: the right channel split between the sides


def test_stems_are_mixed_with_their_gains_a_block_at_a_time_and_clipped() -> None:
    frames = mixing.BLOCK + 10
    drums = np.full((frames, 2), 0.25)
    bass = np.full((frames, 1), 0.5)  # mono: both sides
    out = pcm(b"".join(mixing.mix([Reader(drums), Reader(bass)], [(2.0, 0.0), (0.5, 0.0)], frames)))
    assert out.shape == (frames, 2)
    np.testing.assert_allclose(out, 0.75, atol=1e-4)
    loud = pcm(b"".join(mixing.mix([Reader(drums)], [(8.0, 0.0)], 5)))
    np.testing.assert_allclose(loud, 1.0)  # clipped, not wrapped


def test_the_wav_header_says_the_streams_length() -> None:
    header = mixing.wav_header(44100, 1000)
    assert len(header) == 44 and header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
    assert int.from_bytes(header[40:44], "little") == 4000 and int.from_bytes(header[4:8], "little") == 4036
