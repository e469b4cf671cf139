"""The ``dsp`` separation engine: four stems with no trained model, for installs without Demucs weights.

Per block of the song, on one STFT of the mix (masks from the channel-averaged magnitude, applied to each
channel so the stereo image stays):

- drums: the percussive part of harmonic/percussive separation (median filtering, librosa's HPSS);
- the harmonic part is factorised (KL NMF) into one harmonic template per semitone, templates adapting to
  the instruments' timbre, giving which pitches sound in each frame;
- bass: the lowest sounding pitch (in the bass register), plus the harmonic energy under the lowest note;
- vocals: the highest sounding pitch (in the singing register): the melody sits on top;
- both as Wiener-like masks, each voice's share of the modelled spectrum;
- other: whatever is left, in the time domain, so the four stems sum back to the mix exactly.

Blocks overlap by a margin that is thrown away, so memory does not grow with the length. Lower quality
than Demucs, and labelled so in the app; its SDR on the labelled corpus is in bench/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..contract import FOUR_STEMS
from .audio_stream import StemWriter, Window, frames

SOURCES = FOUR_STEMS
BLOCK_S = 30.0
MARGIN_S = 2.0
PITCH_MIDI = (24, 96)  # C1 to C7, one template per semitone
BASS_MAX_MIDI = 55  # the bass line's lowest note stays at or under G3 ...
MELODY_MIN_MIDI = 57  # ... and the melody's highest at or over A3
HARMONICS = 20
PARTIAL_DECAY = 0.8
MAX_HZ = 8000.0  # harmonic partials above this are left to "other"
NMF_ITERATIONS = 60
ACTIVE_SHARE = 0.25  # a pitch sounds when it carries this share of the frame's strongest pitch


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


def _templates(freqs: np.ndarray, midi: np.ndarray) -> np.ndarray:
    """One harmonic spectrum per pitch (bins x pitches): decaying partials, widening a little with frequency
    for vibrato and detuning; each column sums to 1."""
    pos = np.arange(freqs.size, dtype=np.float32)[:, None]
    f0_bins = 440.0 * 2.0 ** ((midi - 69.0) / 12.0) / freqs[1]
    templates = np.zeros((freqs.size, midi.size), dtype=np.float32)
    for h in range(1, HARMONICS + 1):
        centre = (h * f0_bins)[None, :]
        width = 1.0 + 0.003 * centre
        partial = np.exp(-0.5 * ((pos - centre) / width) ** 2) * (centre < freqs.size - 1)
        templates += PARTIAL_DECAY ** (h - 1) * partial
    return templates / (templates.sum(axis=0, keepdims=True) + 1e-9)


def _nmf(v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KL non-negative matrix factorisation v ~ w @ a with harmonic templates: activations first, then the
    templates adapt to the instruments' timbre, but only on their own partials (zeros stay zero)."""
    a = np.full((w.shape[1], v.shape[1]), v.mean() + 1e-6, dtype=np.float32)
    support = w > 1e-4 * w.max(axis=0, keepdims=True)
    w = w.copy()
    for i in range(NMF_ITERATIONS):
        a *= (w.T @ (v / (w @ a + 1e-9))) / (w.sum(axis=0)[:, None] + 1e-9)
        if i >= NMF_ITERATIONS // 3:
            w *= ((v / (w @ a + 1e-9)) @ a.T) / (a.sum(axis=1)[None, :] + 1e-9)
            w *= support
            w /= w.sum(axis=0, keepdims=True) + 1e-9
    return w, a


def _voices(w: np.ndarray, a: np.ndarray, midi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which pitch activations (pitches x frames) belong to the bass line and to the melody: per frame, the
    lowest and the highest pitch that is clearly sounding (with a semitone either side for glides)."""
    energy = a * w.sum(axis=0)[:, None]
    sounding = (energy > ACTIVE_SHARE * energy.max(axis=0, keepdims=True)) & (energy > 1e-3 * energy.max())
    index = np.arange(midi.size)[:, None]
    lowest = np.where(sounding, index, midi.size).min(axis=0)
    highest = np.where(sounding, index, -1).max(axis=0)
    frames = np.arange(a.shape[1])
    has_bass = (lowest < midi.size) & (midi[np.minimum(lowest, midi.size - 1)] <= BASS_MAX_MIDI)
    has_melody = (highest >= 0) & (midi[np.maximum(highest, 0)] >= MELODY_MIN_MIDI) & (highest != lowest)
    bass = np.zeros(a.shape, dtype=bool)
    melody = np.zeros(a.shape, dtype=bool)
    for step in (-1, 0, 1):
        bass[np.clip(lowest + step, 0, midi.size - 1)[has_bass], frames[has_bass]] = True
        melody[np.clip(highest + step, 0, midi.size - 1)[has_melody], frames[has_melody]] = True
    return bass, melody


def split(x: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Four stems of the stereo block ``x`` (2, n), each (2, n); they sum to ``x``."""
    import librosa

    n = x.shape[1]
    n_fft = 4096 if sr > 32000 else 2048
    hop = n_fft // 4
    spec = librosa.stft(x, n_fft=n_fft, hop_length=hop)
    mag = np.abs(spec).mean(axis=0)
    harm, perc = librosa.decompose.hpss(mag, kernel_size=(17, 31), mask=True, power=2.0)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    keep = freqs < MAX_HZ
    midi = np.arange(PITCH_MIDI[0], PITCH_MIDI[1] + 1, 1.0)
    w, a = _nmf((mag * harm)[keep], _templates(freqs[keep], midi))
    bass, melody = _voices(w, a, midi)
    # Wiener-like masks: each voice's share of the modelled harmonic spectrum.
    modelled = w @ a + 1e-9
    bass_mask = np.zeros_like(mag)
    melody_mask = np.zeros_like(mag)
    bass_mask[keep] = (w @ (a * bass)) / modelled
    melody_mask[keep] = (w @ (a * melody)) / modelled
    bass_mask[freqs < 440.0 * 2.0 ** ((PITCH_MIDI[0] - 69.0) / 12.0)] = 1.0  # under the lowest note: bass
    masks = {"drums": perc, "bass": harm * bass_mask, "vocals": harm * melody_mask}
    stems = {
        name: librosa.istft(spec * mask[None], hop_length=hop, n_fft=n_fft, length=n).astype(np.float32)
        for name, mask in masks.items()
    }
    stems["other"] = (x - stems["drums"] - stems["bass"] - stems["vocals"]).astype(np.float32)
    return stems
