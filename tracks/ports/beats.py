"""Beats, tempo and how much each beat sounds like a downbeat, from a trained network, for the analyzer port.

The network is BeatNet's beat/downbeat CRNN (Heydari et al., ISMIR 2021): the three sets of weights that
the ``BeatNet`` package ships (CC BY 4.0, trained each leaving one data set out), run here in numpy and
averaged. Its input is madmom's log-filtered spectrogram and its positive difference at 50 frames a second,
computed by ``madmom-infer`` (BSD-2, a reimplementation of madmom's signal processing without madmom's
non-commercial model files); the beats come from the dynamic Bayesian network of Krebs, Böck and Widmer
(2015), also from ``madmom-infer``. Imports numpy and those two packages only: no torch, so the cold port
stays small (``read_state_dict`` reads PyTorch's checkpoint format itself).

When the package or its weights are missing, ``load()`` raises ``Unavailable`` and the analyzer falls back to
librosa's tracker (its output says which ran).

Choices, each measured on the synthetic chorales and on the real LMMS productions:
- the three weight sets averaged: with madmom's joint bar DBN the average scored Acc1 0.84, beat F 0.87 on
  the real set where single sets gave 0.80-0.88 / 0.77-0.83; the synthetic set scored the same either way;
- the beat DBN on the sum of beat and downbeat activation, at a tenth of the time of the joint bar DBN
  (real set: Acc1 0.88, Acc2 1.00, beat F 0.89; synthetic: 1.00, 1.00, 0.99); the meter and the bar phase
  come after, from the downbeat activation at the beats together with where the chords change
  (harmony.py);
- each beat moved to its activation peak between frames and the tempo from a line through the beats
  (skipped beats left out): a frame is 20 ms, which alone would move the tempo by a BPM or two.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

FPS = 50
SAMPLE_RATE = 22050
HOP = 441  # 20 ms at 22.05 kHz
WINDOW = 1411  # 64 ms
WEIGHT_FILES = ("model_1_weights.pt", "model_2_weights.pt", "model_3_weights.pt")
MIN_BPM = 55.0
MAX_BPM = 215.0
TRANSITION_LAMBDA = 100
OBSERVATION_LAMBDA = 16
ACTIVATION_FLOOR = 0.05  # activations below this before the first beat and after the last are silence
# No steady tempo: fewer beats than this, or beats this irregular (median absolute deviation of the
# intervals over their median), or beats whose activation stands less than this above the median frame's.
# Measured: 0.44 and up on the real set, 0.71 and up on the chorales, 0.06 on white noise, 0.00 on a pad.
MIN_BEATS = 8
MAX_IRREGULARITY = 0.08
MIN_SALIENCE = 0.2


class Unavailable(Exception):
    """The network cannot run here (package or weights missing); the caller falls back."""


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """A PyTorch checkpoint of float tensors (``torch.save(state_dict)``'s zip format) as numpy arrays,
    without importing torch."""

    class StateDict(dict):
        """A state dict; pickle sets its ``_metadata`` attribute."""

    class Storage:
        def __init__(self, kind: str, key: str) -> None:
            self.kind, self.key = kind, key

    dtypes = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}
    with zipfile.ZipFile(path) as archive:
        root = archive.namelist()[0].split("/")[0]

        class Reader(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                if module == "torch._utils" and name == "_rebuild_tensor_v2":
                    return rebuild
                if module == "torch" and name in dtypes:
                    return name
                if module == "collections" and name == "OrderedDict":
                    return StateDict
                raise pickle.UnpicklingError(f"unexpected {module}.{name} in {path}")

            def persistent_load(self, pid: Any) -> Any:
                _, kind, key, _, _ = pid
                return Storage(kind, key)

        def rebuild(storage: Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
            data = np.frombuffer(archive.read(f"{root}/data/{storage.key}"), dtype=dtypes[storage.kind])
            itemsize = data.itemsize
            return np.lib.stride_tricks.as_strided(data[offset:], shape=size,
                                                   strides=[s * itemsize for s in stride]).copy()

        with archive.open(f"{root}/data.pkl") as f:
            return dict(Reader(f).load())


@dataclass
class Network:
    """One BeatNet CRNN: conv (1 -> 2 channels, width 10), max-pool 2, dense 262 -> 150, two LSTM layers of
    150, dense 150 -> 3 (beat, downbeat, no beat), softmax."""

    weights: dict[str, np.ndarray]

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return forward([self], features)[0]


def forward(networks: list[Network], features: np.ndarray) -> np.ndarray:
    """Beat and downbeat activation (networks, frames, 2) of each network, their LSTMs run side by side: a
    step of the recurrence costs the same Python whether it carries one network or three."""
    hidden = []
    for network in networks:
        w = network.weights
        x = np.lib.stride_tricks.sliding_window_view(features, w["conv1.weight"].shape[-1], axis=1)
        conv = np.einsum("ftk,ck->fct", x, w["conv1.weight"][:, 0]) + w["conv1.bias"][None, :, None]
        conv = np.maximum(conv, 0)
        pooled = conv[:, :, : conv.shape[2] // 2 * 2].reshape(conv.shape[0], conv.shape[1], -1, 2).max(axis=3)
        hidden.append(pooled.reshape(pooled.shape[0], -1) @ w["linear0.weight"].T + w["linear0.bias"])
    h = np.stack(hidden)
    for layer in range(2):
        h = _lstm(h, *(np.stack([n.weights[f"lstm.{name}_l{layer}"] for n in networks])
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    outs = []
    for network, states in zip(networks, h, strict=True):
        out = states @ network.weights["linear.weight"].T + network.weights["linear.bias"]
        out = np.exp(out - out.max(axis=1, keepdims=True))
        outs.append((out / out.sum(axis=1, keepdims=True))[:, :2])
    return np.stack(outs)


def _lstm(x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray) -> np.ndarray:
    """PyTorch's LSTM layer (gates in, forget, cell, out) over a sequence, from zero state, for several
    networks at once: ``x`` is (networks, frames, inputs), each weight stacked by network."""
    nets, frames = x.shape[:2]
    size = w_hh.shape[2]
    gates_in = np.matmul(x, w_ih.transpose(0, 2, 1)) + (b_ih + b_hh)[:, None, :]
    gates_in = np.ascontiguousarray(gates_in.transpose(1, 0, 2), dtype=np.float32)  # frames, nets, 4 * size
    w_hh_t = np.ascontiguousarray(w_hh.transpose(0, 2, 1), dtype=np.float32)  # nets, size, 4 * size
    h = np.zeros((nets, 1, size), dtype=np.float32)
    c = np.zeros((nets, size), dtype=np.float32)
    out = np.empty((frames, nets, size), dtype=np.float32)
    for t in range(frames):
        g = gates_in[t] + np.matmul(h, w_hh_t)[:, 0]
        sig = 1.0 / (1.0 + np.exp(-g))
        c = sig[:, size:2 * size] * c + sig[:, :size] * np.tanh(g[:, 2 * size:3 * size])
        out[t] = sig[:, 3 * size:] * np.tanh(c)
        h = out[t][:, None, :]
    return out.transpose(1, 0, 2)


_networks: list[Network] = []


def load() -> list[Network]:
    """The three networks, read once per process (the warm analyzer reads them before it forks), from the
    BeatNet package or the folder ``SOUNDFORGE_BEAT_WEIGHTS`` names."""
    if not _networks:
        folder = os.environ.get("SOUNDFORGE_BEAT_WEIGHTS", "")
        if not folder:
            spec = importlib.util.find_spec("BeatNet")
            if spec is None or not spec.submodule_search_locations:
                raise Unavailable("the BeatNet package is not installed")
            folder = os.path.join(next(iter(spec.submodule_search_locations)), "models")
        try:
            _networks.extend(Network(read_state_dict(os.path.join(folder, name))) for name in WEIGHT_FILES)
        except (OSError, KeyError, pickle.UnpicklingError, ValueError) as exc:
            _networks.clear()
            raise Unavailable(f"BeatNet's weights could not be read: {exc}") from exc
        try:  # imported here so that the warm analyzer holds them before it forks
            import madmom_infer.audio.spectrogram
            import madmom_infer.features.beats_hmm
            import madmom_infer.ml.hmm  # noqa: F401
        except ImportError as exc:
            _networks.clear()
            raise Unavailable("the madmom-infer package is not installed") from exc
    return _networks


def features(y: np.ndarray) -> np.ndarray:
    """madmom's log-filtered spectrogram (24 bands an octave, 30 Hz to 17 kHz) and its positive difference,
    of mono audio at 22.05 kHz: (frames, 272)."""
    from madmom_infer.audio.signal import FramedSignalProcessor, SignalProcessor
    from madmom_infer.audio.spectrogram import (
        FilteredSpectrogramProcessor,
        LogarithmicSpectrogramProcessor,
        SpectrogramDifferenceProcessor,
    )
    from madmom_infer.audio.stft import ShortTimeFourierTransformProcessor
    from madmom_infer.processors import SequentialProcessor

    pipeline = SequentialProcessor([
        SignalProcessor(num_channels=1, sample_rate=SAMPLE_RATE),
        FramedSignalProcessor(frame_size=WINDOW, hop_size=HOP),
        ShortTimeFourierTransformProcessor(),
        FilteredSpectrogramProcessor(num_bands=24, fmin=30, fmax=17000, norm_filters=True),
        LogarithmicSpectrogramProcessor(mul=1, add=1),
        SpectrogramDifferenceProcessor(diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack),
    ])
    return np.asarray(pipeline(np.asarray(y, dtype=np.float32)), dtype=np.float32)


def activations(y: np.ndarray) -> np.ndarray:
    """Beat and downbeat activation (frames, 2) at 50 frames a second, the networks averaged."""
    return forward(load(), features(y)).mean(axis=0)


@dataclass
class Grid:
    beats: np.ndarray  # seconds, on the activation peaks
    tempo: float | None  # BPM; None: no steady tempo (then the beats are no grid)
    accent: np.ndarray | None  # the network's downbeat activation at each beat (the meter and bar phase use it)
    tracker: str = "beatnet"  # or "librosa", the analyzer's fallback


def track(act: np.ndarray) -> Grid:
    """The beat grid of an activation function: a DBN over beat intervals (Krebs et al.'s beat state space)
    on the beat and downbeat activation summed, each beat on its peak."""
    from madmom_infer.features.beats_hmm import (
        BeatStateSpace,
        BeatTransitionModel,
        RNNBeatTrackingObservationModel,
    )
    from madmom_infer.ml.hmm import HiddenMarkovModel

    total = np.clip(act[:, 0] + act[:, 1], 1e-6, 1 - 1e-6)
    sounding = np.flatnonzero(total >= ACTIVATION_FLOOR)
    if sounding.size < 2:
        return Grid(np.zeros(0), None, np.zeros(0))
    first, last = int(sounding[0]), int(sounding[-1]) + 1
    space = BeatStateSpace(60.0 * FPS / MAX_BPM, 60.0 * FPS / MIN_BPM)

    class Observations(RNNBeatTrackingObservationModel):
        # madmom-infer 0.2.0 calls np.asarray(..., ndmin=1), which no numpy release takes.
        def log_densities(self, observations: np.ndarray) -> np.ndarray:
            return np.stack([np.log((1.0 - observations) / (self.observation_lambda - 1)), np.log(observations)],
                            axis=1)

    hmm = HiddenMarkovModel(BeatTransitionModel(space, TRANSITION_LAMBDA), Observations(space, OBSERVATION_LAMBDA))
    path, _ = hmm.viterbi(total[first:last])
    # A beat where the path enters the beat states; each placed on the activation's peak in that stretch.
    in_beat = hmm.observation_model.pointers[path] >= 1
    edges = np.flatnonzero(np.diff(np.r_[0, in_beat.astype(int), 0]))
    frames = np.array([first + a + int(np.argmax(total[first + a: first + b]))
                       for a, b in edges.reshape(-1, 2)], dtype=int)
    beats = between_frames(frames, total) / FPS
    accent = np.array([act[max(0, f - 1): f + 2, 1].max() for f in frames])
    salience = float(np.median(total[frames]) - np.median(total[first:last])) if frames.size else 0.0
    return Grid(beats, steady_tempo(beats, salience), accent)


def between_frames(frames: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Each peak of ``curve`` (frame indices) placed between frames by a parabola through it and its
    neighbours."""
    out = frames.astype(float)
    for i, f in enumerate(frames):
        if 0 < f < curve.size - 1:
            a, b, c = curve[f - 1], curve[f], curve[f + 1]
            bend = a - 2 * b + c
            if bend < 0:
                out[i] = f + float(np.clip(0.5 * (a - c) / bend, -0.5, 0.5))
    return out


def steady_tempo(beats: np.ndarray, salience: float) -> float | None:
    """The tempo of a steady beat (BPM), or None when there is none: too few beats, intervals that wander,
    or beats that hardly stand out of the activation around them (``salience``: noise, speech, a pad)."""
    if beats.size < MIN_BEATS or salience < MIN_SALIENCE:
        return None
    intervals = np.diff(beats)
    period = float(np.median(intervals))
    if np.median(np.abs(intervals - period)) > MAX_IRREGULARITY * period:
        return None
    # A line through the beats, counted in periods so that a skipped beat keeps its place; beats more than
    # a tenth of a period off the line are left out of the next fit.
    index = np.round((beats - beats[0]) / period)
    keep = np.ones(beats.size, dtype=bool)
    for _ in range(3):
        slope, offset = np.polyfit(index[keep], beats[keep], 1)
        keep = np.abs(beats - (slope * index + offset)) < 0.1 * period
        if keep.sum() < MIN_BEATS:
            return 60.0 / period
    return 60.0 / float(slope)
