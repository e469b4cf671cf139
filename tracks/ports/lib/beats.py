"""Beats, tempo and how much each beat sounds like a downbeat, from a trained network, for the analyzer port.

The network is BeatNet's beat/downbeat CRNN (Heydari et al., ISMIR 2021): the three sets of weights that
the ``BeatNet`` package ships (CC BY 4.0, trained each leaving one data set out), run here in numpy and
averaged. Its input is madmom's log-filtered spectrogram and its positive difference at 50 frames a second,
computed by ``madmom-infer`` (BSD-2, a reimplementation of madmom's signal processing without madmom's
non-commercial model files); the beats come from the dynamic Bayesian network of Krebs, Böck and Widmer
(2015): its state space and transition model from ``madmom-infer``, decoded by a compiled Viterbi here.
Imports numpy, numba (which librosa loads anyway) and those two packages only: no torch, so the cold port
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

import numba
import numpy as np

from ..port_protocol import centred_piece

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
    """Beat and downbeat activation (networks, frames, 2) of each network, their LSTMs run side by side (a
    step of the recurrence costs the same Python whether it carries one network or three), the whole network
    a block of frames at a time with each LSTM layer's state carried across blocks: nothing song-long is held
    but the input and the activations."""
    frames = features.shape[0]
    layers = [_LSTMLayer(networks, layer) for layer in range(2)]
    out = np.empty((len(networks), frames, 2), dtype=np.float32)
    for start in range(0, frames, BLOCK):
        part = features[start:start + BLOCK]
        x = np.stack([_conv_dense(network.weights, part) for network in networks])
        for layer in layers:
            x = layer(x)
        for n, network in enumerate(networks):
            logits = x[n] @ network.weights["linear.weight"].T + network.weights["linear.bias"]
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[n, start:start + BLOCK] = (e / e.sum(axis=1, keepdims=True))[:, :2]
    return out


BLOCK = 512  # frames run through the network at once (a few MB)


def _conv_dense(w: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """The convolution over frequency (frames, channels, positions) as a sum of shifted copies, ReLU,
    max-pooling by 2 and the dense layer to the LSTM's input: (frames, 150)."""
    kernel = w["conv1.weight"][:, 0]  # channels, width
    width = features.shape[1] - kernel.shape[1] + 1
    conv = np.broadcast_to(w["conv1.bias"][None, :, None], (features.shape[0], kernel.shape[0], width)).copy()
    for k in range(kernel.shape[1]):
        conv += features[:, None, k:k + width] * kernel[None, :, k, None]
    np.maximum(conv, 0, out=conv)
    pooled = np.maximum(conv[:, :, 0:width // 2 * 2:2], conv[:, :, 1:width // 2 * 2:2])
    return pooled.reshape(pooled.shape[0], -1) @ w["linear0.weight"].T + w["linear0.bias"]


class _LSTMLayer:
    """One of PyTorch's LSTM layers (gates in, forget, cell, out) from zero state, for several networks at
    once, fed a block of frames at a time ((networks, frames, inputs) -> (networks, frames, size)) and keeping
    its state between blocks. Each step works in place on arrays made once: its matrix product is most of its
    time, numpy's call overhead the rest."""

    def __init__(self, networks: list[Network], layer: int) -> None:
        def stacked(name: str) -> np.ndarray:
            return np.stack([n.weights[f"lstm.{name}_l{layer}"] for n in networks]).astype(np.float32)

        self.w_ih_t = np.ascontiguousarray(stacked("weight_ih").transpose(0, 2, 1))
        self.w_hh_t = np.ascontiguousarray(stacked("weight_hh").transpose(0, 2, 1))  # nets, size, 4 * size
        self.bias = (stacked("bias_ih") + stacked("bias_hh"))[:, None, :]
        nets, self.size = len(networks), self.w_hh_t.shape[1]
        self.h = np.zeros((nets, 1, self.size), dtype=np.float32)
        self.c = np.zeros((nets, self.size), dtype=np.float32)
        self.gates = np.empty((nets, 1, 4 * self.size), dtype=np.float32)
        self.sig = np.empty((nets, 4 * self.size), dtype=np.float32)
        self.cell = np.empty((nets, self.size), dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        size, h, c, gates, sig, cell = self.size, self.h, self.c, self.gates, self.sig, self.cell
        g = gates[:, 0]
        in_gate, forget_gate, out_gate = sig[:, :size], sig[:, size:2 * size], sig[:, 3 * size:]
        gates_in = np.ascontiguousarray((np.matmul(x, self.w_ih_t) + self.bias).transpose(1, 0, 2))
        out = np.empty((x.shape[1], x.shape[0], size), dtype=np.float32)
        for t in range(x.shape[1]):
            np.matmul(h, self.w_hh_t, out=gates)
            g += gates_in[t]
            expit(g, out=sig)
            np.tanh(g[:, 2 * size:3 * size], out=cell)
            cell *= in_gate
            c *= forget_gate
            c += cell
            np.tanh(c, out=out[t])
            out[t] *= out_gate
            h[:, 0] = out[t]
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
            import madmom_infer.audio.filters
            import madmom_infer.audio.stft
            import madmom_infer.features.beats_hmm  # noqa: F401
        except ImportError as exc:
            _networks.clear()
            raise Unavailable("the madmom-infer package is not installed") from exc
    return _networks


FEATURE_BLOCK = 500  # frames (10 s) framed and transformed at once
# The difference's lag: madmom's diff_ratio 0.5 (the first window sample above half its peak, 352 samples
# from the centre) in hops of 441, at least one.
DIFF_FRAMES = 1


def features(y: np.ndarray) -> np.ndarray:
    """madmom's log-filtered spectrogram (24 bands an octave, 30 Hz to 17 kHz) and its positive difference,
    of mono audio at 22.05 kHz: (frames, 272). What madmom's processors (FramedSignal, STFT, Filtered-,
    Logarithmic- and SpectrogramDifference) compute, a block of frames at a time with one FFT call per block:
    their frame-by-frame STFT holds every frame's complex spectrum at once and costs a Python call per frame.
    tests/test_beats.py checks it against those processors."""
    import scipy.fft
    from madmom_infer.audio.filters import LogarithmicFilterbank
    from madmom_infer.audio.stft import fft_frequencies

    bins = WINDOW >> 1  # madmom keeps the FFT's first frame_size // 2 bins
    bank = np.asarray(LogarithmicFilterbank(fft_frequencies(bins, SAMPLE_RATE), num_bands=24, fmin=30, fmax=17000,
                                            norm_filters=True))
    window = np.hanning(WINDOW)
    y = np.asarray(y, dtype=np.float32)
    n_frames = int(np.ceil(y.size / HOP))
    out = np.zeros((n_frames, 2 * bank.shape[1]), dtype=np.float32)
    log_spec, diff = out[:, :bank.shape[1]], out[:, bank.shape[1]:]
    for first in range(0, n_frames, FEATURE_BLOCK):
        count = min(FEATURE_BLOCK, n_frames - first)
        frames = np.lib.stride_tricks.sliding_window_view(centred_piece(y, first, count, HOP, WINDOW), WINDOW)[::HOP]
        spectrum = scipy.fft.rfft(frames * window, axis=1)[:, :bins].astype(np.complex64)
        # The magnitude as madmom-infer takes it: in float64, rounded once.
        magnitude = np.sqrt(spectrum.real.astype(np.float64) ** 2 + spectrum.imag.astype(np.float64) ** 2)
        np.log10(magnitude.astype(np.float32) @ bank + 1, out=log_spec[first:first + count])
    np.maximum(log_spec[DIFF_FRAMES:] - log_spec[:-DIFF_FRAMES], 0, out=diff[DIFF_FRAMES:])
    return out


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

    total = np.clip(act[:, 0] + act[:, 1], 1e-6, 1 - 1e-6)
    sounding = np.flatnonzero(total >= ACTIVATION_FLOOR)
    if sounding.size < 2:
        return Grid(np.zeros(0), None, np.zeros(0))
    first, last = int(sounding[0]), int(sounding[-1]) + 1
    space = BeatStateSpace(60.0 * FPS / MAX_BPM, 60.0 * FPS / MIN_BPM)
    transitions = BeatTransitionModel(space, TRANSITION_LAMBDA)
    observations = RNNBeatTrackingObservationModel(space, OBSERVATION_LAMBDA)
    # madmom-infer 0.2.0's log_densities calls np.asarray(..., ndmin=1), which no numpy release takes.
    observed = total[first:last]
    densities = np.stack([np.log((1.0 - observed) / (OBSERVATION_LAMBDA - 1)), np.log(observed)], axis=1)
    path = viterbi(transitions.states, transitions.pointers, transitions.log_probabilities,
                   observations.pointers, densities)
    pointers = observations.pointers
    # A beat where the path enters the beat states; each placed on the activation's peak in that stretch.
    in_beat = pointers[path] >= 1
    edges = np.flatnonzero(np.diff(np.r_[0, in_beat.astype(int), 0]))
    frames = np.array([first + a + int(np.argmax(total[first + a: first + b]))
                       for a, b in edges.reshape(-1, 2)], dtype=int)
    frames = doubled(frames, total)
    beats = between_frames(frames, total) / FPS
    accent = np.array([act[max(0, f - 1): f + 2, 1].max() for f in frames])
    salience = float(np.median(total[frames]) - np.median(total[first:last])) if frames.size else 0.0
    return Grid(beats, steady_tempo(beats, salience), accent)


# Half tempo: a grid under 100 BPM whose midpoints sound a good part as strongly as its beats is counted at
# twice the speed, as people tap it. Measured, midpoints over beats: 0.92-0.95 on metal at 184-192 tracked at
# half, 0.44 under off-beat guitars at 184 (tracked on the snare), 0.58 on a reggae song at 180; 0.10 on
# the one real song tracked right under 100 BPM (87), 0.14 on one tracked at 70 whose labels say 140.
DOUBLE_BELOW_BPM = 100.0
DOUBLE_MIDPOINTS = 0.35


def doubled(frames: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The beat frames with the midpoints added (each on its activation peak) where the grid is half tempo."""
    if frames.size < MIN_BEATS or 60.0 * FPS / float(np.median(np.diff(frames))) >= DOUBLE_BELOW_BPM:
        return frames
    mids = (frames[1:] + frames[:-1]) // 2

    def peaks(at: np.ndarray) -> np.ndarray:
        return np.array([total[max(0, f - 2): f + 3].max() for f in at])

    if np.median(peaks(mids)) < DOUBLE_MIDPOINTS * np.median(peaks(frames)):
        return frames
    mids = np.array([max(0, f - 2) + int(np.argmax(total[max(0, f - 2): f + 3])) for f in mids])
    return np.sort(np.r_[frames, mids])


def viterbi(states: np.ndarray, pointers: np.ndarray, log_probabilities: np.ndarray, density_of: np.ndarray,
            densities: np.ndarray) -> np.ndarray:
    """The most likely state path of an HMM with a uniform start, for a transition model in madmom's sparse
    form (state ``s``'s predecessors are ``states[pointers[s]:pointers[s + 1]]``) and observation log
    densities (frames, kinds) where state ``s`` observes kind ``density_of[s]``: madmom's Viterbi (hmm.pyx),
    ties to the first predecessor included. Compiled, because madmom-infer's numpy version spends 0.9 s and
    150 MB on a three-minute song. Only states with a choice of predecessor keep back pointers (in a beat
    state space the first state of each tempo); every other state's predecessor is fixed."""
    n = pointers.size - 1
    counts = np.diff(pointers)
    choosers = np.flatnonzero(counts > 1)
    slot = np.full(n, -1, dtype=np.int64)
    slot[choosers] = np.arange(choosers.size)
    return _viterbi_path(np.ascontiguousarray(states, dtype=np.int64), np.ascontiguousarray(pointers, dtype=np.int64),
                    np.ascontiguousarray(log_probabilities, dtype=np.float64),
                    np.ascontiguousarray(density_of, dtype=np.int64), np.ascontiguousarray(densities, np.float64),
                    slot, choosers.size)


@numba.njit(cache=True)
def _viterbi_path(states: np.ndarray, pointers: np.ndarray, log_probabilities: np.ndarray, density_of: np.ndarray,
                  densities: np.ndarray, slot: np.ndarray, n_choosers: int) -> np.ndarray:
    frames = densities.shape[0]
    n = pointers.size - 1
    back = np.zeros((frames, max(n_choosers, 1)), dtype=np.int32)
    previous = np.full(n, -np.log(n))
    current = np.empty(n)
    for frame in range(frames):
        for state in range(n):
            best = -np.inf
            chosen = 0
            for k in range(pointers[state], pointers[state + 1]):
                score = previous[states[k]] + log_probabilities[k]
                if score > best:
                    best = score
                    chosen = states[k]
            current[state] = best + densities[frame, density_of[state]]
            if slot[state] >= 0:
                back[frame, slot[state]] = chosen
        previous, current = current, previous
    path = np.empty(frames, dtype=np.int64)
    state = int(np.argmax(previous))
    for frame in range(frames - 1, -1, -1):
        path[frame] = state
        if slot[state] >= 0:
            state = back[frame, slot[state]]
        elif pointers[state + 1] > pointers[state]:
            state = states[pointers[state]]
        else:
            state = 0
    return path


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
