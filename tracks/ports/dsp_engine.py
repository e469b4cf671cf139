"""The ``dsp`` separation engine: four stems with no trained model, for installs without Demucs weights.

Per block of the song, on one STFT of the mix (masks from the channel-averaged magnitude, applied to each
channel so the stereo image stays):

- drums: the percussive part of harmonic/percussive separation (median filtering, librosa's HPSS);
- bass: the harmonics of the lowest salient pitch (a harmonic-sum pitch salience in the bass register),
  plus the harmonic energy below the lowest note's range;
- vocals: the harmonics of the predominant pitch in the singing register, followed frame by frame;
- other: whatever is left, in the time domain, so the four stems sum back to the mix exactly.

Blocks overlap by a margin that is thrown away, so memory does not grow with the length. Lower quality
than Demucs, and labelled so in the app; its SDR on the labelled corpus is in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from audio_stream import StemWriter, Window, frames

SOURCES = ("drums", "bass", "other", "vocals")
BLOCK_S = 30.0
MARGIN_S = 2.0
BASS_MIDI = (26.0, 52.0)
VOCAL_MIDI = (48.0, 86.0)
HARMONICS = 16


def count_blocks(info: Any) -> int:
    return max(1, int(np.ceil(info.frames / (BLOCK_S * info.sample_rate))))


def separate(path: str, info: Any, writers: dict[str, StemWriter], on_block: Callable[[], None]) -> None:
    sr = info.sample_rate
    block, margin = int(BLOCK_S * sr), int(MARGIN_S * sr)
    window = Window(frames(path), info.frames)
    for start in range(0, info.frames, block):
        end = min(info.frames, start + block)
        x = window.get(start - margin, end + margin)
        stems = split(x, sr)
        for name in SOURCES:
            writers[name].write(stems[name][:, margin : margin + end - start])
        window.trim(end - margin)
        on_block()


def _salience(mag: np.ndarray, freqs: np.ndarray, midi: np.ndarray) -> np.ndarray:
    """Harmonic-sum salience of each candidate pitch (rows) in each frame (columns)."""
    bin_hz = freqs[1]
    weights = np.zeros((midi.size, freqs.size), dtype=np.float32)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    for h in range(1, HARMONICS + 1):
        pos = h * f0 / bin_hz
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        ok = lo + 1 < freqs.size
        rows = np.nonzero(ok)[0]
        weights[rows, lo[ok]] += (1 - frac[ok]) * 0.85 ** (h - 1)
        weights[rows, lo[ok] + 1] += frac[ok] * 0.85 ** (h - 1)
    return weights @ np.sqrt(mag)


def _track(salience: np.ndarray, midi: np.ndarray, lo: float, hi: float, floor: float, top: bool) -> np.ndarray:
    """A pitch in [lo, hi) per frame (Hz), NaN where nothing there stands out.

    ``top`` follows the highest pitch that is a salience peak at least half as strong as the strongest
    (the melody sits on top); otherwise the strongest pitch of the register is taken.
    """
    import scipy.ndimage

    rows = (midi >= lo) & (midi < hi)
    sub = salience[rows]
    frames = np.arange(sub.shape[1])
    best = sub.argmax(axis=0)
    strength = sub[best, frames]
    if top:
        padded = np.pad(sub, ((1, 1), (0, 0)))
        peak = (sub >= padded[:-2]) & (sub >= padded[2:]) & (sub >= 0.5 * strength)
        best = sub.shape[0] - 1 - np.argmax(peak[::-1], axis=0)
        strength = sub[best, frames]
    pitch = scipy.ndimage.median_filter(midi[rows][best], size=5, mode="nearest")
    return np.where(strength > floor, 440.0 * 2.0 ** ((pitch - 69.0) / 12.0), np.nan)


def _comb(f0: np.ndarray, freqs: np.ndarray, width: float = 0.8) -> np.ndarray:
    """Soft mask (bins x frames) near the harmonics of ``f0`` per frame; zero where ``f0`` is NaN."""
    bin_hz = freqs[1]
    step = np.where(np.isnan(f0), np.inf, f0 / bin_hz)[None, :]
    pos = np.arange(freqs.size, dtype=np.float32)[:, None]
    harmonic = np.clip(np.round(pos / step), 1, HARMONICS * 2)
    distance = np.abs(pos - harmonic * step)
    sigma = width + 0.01 * harmonic * step
    mask = np.exp(-0.5 * (distance / sigma) ** 2)
    mask[pos < 0.5 * step] = 0.0  # below the fundamental; every bin where there is no pitch
    return mask.astype(np.float32)


def split(x: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Four stems of the stereo block ``x`` (2, n), each (2, n); they sum to ``x``."""
    import librosa

    n = x.shape[1]
    n_fft = 4096 if sr > 32000 else 2048
    hop = n_fft // 4
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop)
    mag = np.abs(spec).mean(axis=0)
    harm, perc = librosa.decompose.hpss(mag, kernel_size=(31, 31), mask=True, power=2.0)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    midi = np.arange(BASS_MIDI[0], VOCAL_MIDI[1], 0.5)
    harmonic = mag * harm
    salience = _salience(harmonic, freqs, midi)
    floor = np.median(salience) * 1.5 + 1e-9
    bass_comb = _comb(_track(salience, midi, *BASS_MIDI, floor, top=False), freqs)
    vocal_comb = _comb(_track(salience, midi, *VOCAL_MIDI, floor, top=True), freqs)
    low = (freqs < 440.0 * 2.0 ** ((BASS_MIDI[1] - 69.0) / 12.0))[:, None]
    bass_comb = np.maximum(bass_comb, low.astype(np.float32))
    vocal_comb = vocal_comb * (1 - bass_comb)
    masks = {"drums": perc, "bass": harm * bass_comb, "vocals": harm * vocal_comb}
    stems = {
        name: librosa.istft(spec * mask[None], hop_length=hop, n_fft=n_fft, length=n).astype(np.float32)
        for name, mask in masks.items()
    }
    stems["other"] = (x - stems["drums"] - stems["bass"] - stems["vocals"]).astype(np.float32)
    return stems
