"""The librosa port: analyse one audio file and print one JSON object (ADR-002).

    python -m tracks.ports.analyzer song.mp3 --features tempo,key,energy,spectral,mfcc,chroma --output json

Exit 0 with the analysis on stdout, or non-zero with ``{"error": type, "message": text}`` on stdout, where
type is one of ``invalid_arguments``, ``file_not_found``, ``decode_error``, ``analysis_failed``. Progress goes
to stderr as JSON lines ``{"progress": 0..1, "stage": name}``. Imports no Django.

The audio is decoded once (PyAV, resampled to mono at --sample-rate) and one STFT feeds every feature but
chroma, which uses a constant-Q transform because key finding needs its pitch resolution; that one CQT also
feeds the beat-level chords, meter, downbeats and sections (harmony.py). Loudness is measured on the file at
its own rate and channels, as BS.1770 asks. ``--stem NAME=PATH`` adds separated stems: the drums steady the
beats, the bass names the chord roots, and each stem gets its loudness.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .contract import BEAT_FEATURES, FEATURES, MODES, PITCH_CLASSES, STEMS, ErrorKind
from .lib import beats as beat_network
from .lib import harmony, jit_cache
from .port_protocol import Parser, PortFailure, centred_piece, progress, r, run, waveform_peaks

ANALYZER_VERSION = "3"
FAILURE_KIND = ErrorKind.ANALYSIS_FAILED
N_FFT = 2048
HOP = 512
CURVE_HZ = 2.0
SPECTRAL_BLOCK = 1024  # frames (about 24 s) of the spectrogram at a time
WAVEFORM_POINTS = 1000
LOUDNESS_CURVE_HZ = 1.0
TRUE_PEAK_OVERSAMPLE = 4
# Albrecht & Shanahan's key profiles (2013, from a corpus of classical scores), index 0 = tonic. On the
# labelled corpus they beat Krumhansl & Kessler's probe-tone profiles, which confuse keys a fifth apart.
MAJOR_PROFILE = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
MINOR_PROFILE = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])
CQT_OCTAVES = 7  # C1 to B7, one bin per semitone
KEY_CLEAR = 0.15


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m tracks.ports.analyzer", description="Analyse an audio file with librosa.")
    parser.add_argument("audio_path")
    parser.add_argument("--features", default="all", help=f"comma list of {', '.join(FEATURES)}, or all")
    parser.add_argument("--output", default="json", choices=["json"])
    parser.add_argument("--sample-rate", type=int, default=22050)
    parser.add_argument("--stem", action="append", default=[], metavar="NAME=PATH",
                        help="a separated stem of the same song: drums steady the beats, bass the chord roots, "
                             "and each gets its own loudness")
    args = parser.parse_args(argv)
    names = [f.strip() for f in args.features.split(",") if f.strip()]
    if names == ["all"]:
        names = list(FEATURES)
    unknown = sorted(set(names) - set(FEATURES))
    if unknown or not names:
        raise PortFailure(
            ErrorKind.INVALID_ARGUMENTS,
            f"unknown feature(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FEATURES)}, all",
        )
    if not 4000 <= args.sample_rate <= 192000:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--sample-rate must be between 4000 and 192000")
    if BEAT_FEATURES & set(names):
        names.append("tempo")
    args.features = [f for f in FEATURES if f in names]
    stems = {}
    for spec in args.stem:
        name, sep, path = spec.partition("=")
        if not sep or name not in STEMS or not path:
            raise PortFailure(ErrorKind.INVALID_ARGUMENTS,
                              f"--stem takes NAME=PATH with NAME one of {', '.join(STEMS)}")
        stems[name] = path
    args.stems = stems
    return args


def decode(path: str, sr: int | None, layout: str = "mono") -> tuple[np.ndarray, dict[str, Any]]:
    """The whole file as float32 (mono: samples; stereo: 2 x samples) at ``sr`` (None: the file's own
    rate), plus what the container says about itself."""
    import av

    if not os.path.isfile(path):
        raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {path}")
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise PortFailure(ErrorKind.DECODE_ERROR, "the file has no audio stream")
            stream = container.streams.audio[0]
            info = {"source_sample_rate": stream.rate, "channels": stream.channels}
            sr = sr or stream.rate
            channels = 2 if layout == "stereo" else 1
            # Planar float: each frame comes out as (channels, samples).
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=sr)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(channels, -1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(channels, -1))
    except av.error.FFmpegError as exc:
        raise PortFailure(ErrorKind.DECODE_ERROR, f"could not decode the audio: {exc}") from exc
    y = np.concatenate(chunks, axis=1) if chunks else np.zeros((channels, 0), dtype=np.float32)
    if y.shape[1] < sr // 10:
        raise PortFailure(ErrorKind.DECODE_ERROR, "the file holds no decodable audio")
    return np.ascontiguousarray(y[0] if channels == 1 else y, dtype=np.float32), info


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": r(np.mean(values)), "std": r(np.std(values))}



def _curve(frames: np.ndarray, sr: int, hz: float = CURVE_HZ) -> np.ndarray:
    """Average frame-rate values (last axis) into blocks of 1/hz seconds."""
    per_block = max(1, round(sr / HOP / hz))
    n_blocks = max(1, int(np.ceil(frames.shape[-1] / per_block)))
    padded = np.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, n_blocks * per_block - frames.shape[-1])],
                    mode="edge")
    return padded.reshape(*frames.shape[:-1], n_blocks, per_block).mean(axis=-1)


def estimate_key(chroma_mean: np.ndarray) -> dict[str, Any]:
    """Krumhansl-Schmuckler's method: correlate the mean chroma with the 24 rotated key profiles."""
    scores = sorted(((_key_fit(chroma_mean, {"key": tonic, "mode": mode}), tonic, mode)
                     for mode in MODES for tonic in PITCH_CLASSES), reverse=True)
    best, second = scores[0][0], scores[1][0]
    # Confident only when the best key both fits well and stands clear of the runner-up, and the pitch
    # classes differ at all: noise's are nearly flat (spread 0.03 of their mean; music's 0.2 and up), and any
    # profile correlates with flat-plus-a-little.
    spread = float(np.std(chroma_mean) / max(float(np.mean(chroma_mean)), 1e-9))
    tonal = np.clip((spread - 0.05) / 0.1, 0, 1)
    confidence = float(np.clip(best, 0, 1) * np.clip((best - second) / 0.1, 0, 1) * tonal)
    return {
        "key": scores[0][1],
        "mode": scores[0][2],
        "confidence": r(confidence, 3),
        # Unclear: the page says so and names the two best candidates rather than one key.
        "clear": confidence >= KEY_CLEAR,
        "candidates": [{"key": k, "mode": m, "score": r(s, 3)} for s, k, m in scores[:3]],
    }


class Context:
    """What the features share, each part computed once, when a feature first asks for it: the spectrogram
    pass (RMS, and the mel spectrogram and spectral features when an asked feature needs them), the
    semitone CQT, the beat grid and the per-beat harmony. ``out`` holds what the features measured so far: a
    later feature may read an earlier one's answer (sections read the song's key and tempo)."""

    def __init__(self, y: np.ndarray, sr: int, features: list[str], source: str = "",
                 stems: dict[str, str] | None = None) -> None:
        import librosa

        self.librosa, self.y, self.sr, self.features, self.source = librosa, y, sr, features, source
        self.stems = stems or {}
        self.out: dict[str, Any] = {}

    @functools.cached_property
    def spectrogram(self) -> dict[str, Any]:
        """One pass over the spectrogram, a block at a time, for everything computed from it: the whole
        magnitude spectrogram of a three-minute song is 32 MB, its complex STFT 64 MB."""
        librosa, sr = self.librosa, self.sr
        mel = [] if {"mfcc", "sections"} & set(self.features) else None  # the fallback tracker makes its own
        rms_blocks = []
        spectral: dict[str, list[np.ndarray]] | None = (
            {k: [] for k in ("centroid", "rolloff", "bandwidth", "flatness", "contrast")}
            if "spectral" in self.features else None)
        for S in magnitude_blocks(librosa, self.y):
            rms_blocks.append(librosa.feature.rms(S=S, frame_length=N_FFT)[0])
            if mel is not None:
                mel.append(librosa.feature.melspectrogram(S=S**2, sr=sr))
            if spectral is not None:
                spectral["centroid"].append(librosa.feature.spectral_centroid(S=S, sr=sr)[0])
                spectral["rolloff"].append(librosa.feature.spectral_rolloff(S=S, sr=sr)[0])
                spectral["bandwidth"].append(librosa.feature.spectral_bandwidth(S=S, sr=sr)[0])
                spectral["flatness"].append(librosa.feature.spectral_flatness(S=S)[0])
                spectral["contrast"].append(librosa.feature.spectral_contrast(S=S, sr=sr))
        return {"rms": np.concatenate(rms_blocks),
                "mel_db": librosa.power_to_db(np.concatenate(mel, axis=1)) if mel is not None else None,
                "spectral": spectral}

    @property
    def rms(self) -> np.ndarray:
        return self.spectrogram["rms"]

    @property
    def mel_db(self) -> np.ndarray | None:
        return self.spectrogram["mel_db"]

    @functools.cached_property
    def cqt(self) -> np.ndarray:
        """One constant-Q magnitude spectrogram, a bin per semitone, shared by the key and the chroma."""
        librosa = self.librosa
        return np.abs(librosa.cqt(self.y, sr=self.sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"),
                                  n_bins=12 * CQT_OCTAVES, bins_per_octave=12))

    @property
    def key_chroma(self) -> np.ndarray:
        """Energy (not magnitude) per pitch class, each frame scaled to its strongest class, so that loud
        passages do not outvote the rest and drums, spread over every class, fade into the floor."""
        return _frame_normalised(self.cqt**2)

    @functools.cached_property
    def grid(self) -> beat_network.Grid:
        return _beat_grid(self.librosa, self.y, self.sr, self.mel_db, self.stems)

    @functools.cached_property
    def beat_frames(self) -> np.ndarray:
        grid = self.grid
        return np.round(grid.beats * self.sr / HOP).astype(int) if grid.tempo else np.zeros(0, dtype=int)

    @functools.cached_property
    def harmony(self) -> dict[str, Any]:
        """Per-beat chroma and chords, with the meter and the bar's phase, shared by meter, chords and
        sections."""
        librosa, y, sr, rms, beat_frames = self.librosa, self.y, self.sr, self.rms, self.beat_frames
        starts = harmony.beat_frames_from_zero(beat_frames)
        fine = np.abs(librosa.cqt(y, sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"),
                                  n_bins=12 * harmony.BINS_PER_SEMITONE * CQT_OCTAVES,
                                  bins_per_octave=12 * harmony.BINS_PER_SEMITONE))
        chroma, pitched = harmony.beat_chroma(fine, starts)
        del fine
        if "bass" in self.stems:
            # A clean bass line names the root better than the mix's low octaves.
            chroma = _with_bass_roots(librosa, chroma, self.stems["bass"], sr, starts)
        level = harmony.beat_sync(rms[None], starts)[0]
        db = 20 * np.log10(np.maximum(level, 1e-9) / max(float(rms.max()), 1e-9))
        labels = harmony.chords(chroma, db, pitched)
        lead = starts.size - beat_frames.size
        meter, _, clarity = harmony.meter_and_phase(chroma[:, lead:], labels[lead:], self.grid.accent)
        bars = harmony.bar_lines(harmony.downbeat_evidence(labels[lead:]), meter)
        labels = harmony.bar_chords(chroma, labels, list(lead + bars))
        return {"starts": starts, "lead": lead, "chroma": chroma, "labels": labels, "meter": meter,
                "bars": bars, "clarity": clarity}


@dataclass(frozen=True)
class Feature:
    """One thing the analyzer measures: what a person reads while it runs, and how (from the shared context,
    to the keys it adds to the output)."""

    name: str
    stage: str
    measure: Callable[[Context], dict[str, Any]]


MEASURES: dict[str, Feature] = {}


def feature(name: str, stage: str) -> Callable[[Callable[[Context], dict[str, Any]]], Callable[[Context], Any]]:
    """Register a feature's measure under its name in the contract (contract.FEATURES)."""

    def register(measure: Callable[[Context], dict[str, Any]]) -> Callable[[Context], dict[str, Any]]:
        if name not in FEATURES:
            raise ValueError(f"{name} is not in contract.FEATURES")
        MEASURES[name] = Feature(name, stage, measure)
        return measure

    return register


def analyse(y: np.ndarray, sr: int, features: list[str], source: str = "", stems: dict[str, str] | None = None
            ) -> dict[str, Any]:
    """Measure ``features`` (in contract order) on mono ``y``, saying each stage as it starts."""
    context = Context(y, sr, features, source, stems)
    steps = len(features) + 1
    progress(0.1, "spectrogram")
    context.spectrogram  # noqa: B018 -- first, for every feature that reads it
    for done, name in enumerate(features, start=1):
        # One more step done; the stage a person sees is what is happening now.
        progress(0.1 + 0.9 * done / steps, MEASURES[name].stage)
        context.out.update(MEASURES[name].measure(context))
    progress(1.0, "done")
    return context.out


@feature("tempo", "tempo and beats")
def _tempo(c: Context) -> dict[str, Any]:
    grid = c.grid
    return {"tempo": r(grid.tempo, 2) if grid.tempo else None,
            "beats": [r(b, 3) for b in grid.beats] if grid.tempo else [],
            "beat_tracker": grid.tracker}


@feature("key", "key")
def _key(c: Context) -> dict[str, Any]:
    return {"key": estimate_key(c.key_chroma.mean(axis=1))}


@feature("energy", "energy")
def _energy(c: Context) -> dict[str, Any]:
    rms = c.rms
    lo, hi = np.percentile(rms, [5, 95])
    return {"energy": {
        "rms_mean": r(rms.mean()),
        "rms_max": r(rms.max()),
        "rms_std": r(rms.std()),
        "dynamic_range_db": r(20 * np.log10(max(hi, 1e-9) / max(lo, 1e-9)), 2),
        "curve_hz": CURVE_HZ,
        "curve": [r(v) for v in _curve(rms, c.sr)],
    }}


@feature("spectral", "spectral features")
def _spectral(c: Context) -> dict[str, Any]:
    spectral = dict(c.spectrogram["spectral"])
    contrast = np.concatenate(spectral.pop("contrast"), axis=1)
    stats = {k: _stats(np.concatenate(v)) for k, v in spectral.items()}
    return {"spectral": {**stats, "contrast": [r(v, 3) for v in contrast.mean(axis=1)]}}


@feature("mfcc", "MFCC")
def _mfcc(c: Context) -> dict[str, Any]:
    mfcc = c.librosa.feature.mfcc(S=c.mel_db, n_mfcc=13)
    return {"mfcc": {"mean": [r(v, 3) for v in mfcc.mean(axis=1)], "var": [r(v, 3) for v in mfcc.var(axis=1)]}}


@feature("chroma", "chroma")
def _chroma(c: Context) -> dict[str, Any]:
    chroma = _frame_normalised(c.cqt)
    return {"chroma": {
        "pitch_classes": list(PITCH_CLASSES),
        "mean": [r(v, 4) for v in chroma.mean(axis=1)],
        "curve_hz": CURVE_HZ,
        "curve": [[r(v, 3) for v in row] for row in _curve(chroma, c.sr).T],
    }}


@feature("waveform", "waveform")
def _waveform(c: Context) -> dict[str, Any]:
    return {"waveform": waveform_peaks(c.y, WAVEFORM_POINTS)}


@feature("meter", "meter and downbeats")
def _meter(c: Context) -> dict[str, Any]:
    h = c.harmony
    return {"meter": {"beats_per_bar": h["meter"], "confidence": r(h["clarity"], 3)},
            "downbeats": [c.out["beats"][i] for i in h["bars"]]}


@feature("chords", "chords")
def _chords(c: Context) -> dict[str, Any]:
    return {"chords": _chord_spans(c.harmony, c.sr, c.y.size)}


@feature("sections", "sections")
def _sections_feature(c: Context) -> dict[str, Any]:
    sections, key_changes = _sections(c.librosa, c.harmony, c.mel_db, c.beat_frames, c.out, c.key_chroma, c.y,
                                      c.sr)
    return {"sections": sections, "key_changes": key_changes}


@feature("loudness", "loudness")
def _loudness(c: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"loudness": loudness(c.source)}
    if c.stems:
        out["stems"] = {stem: {"loudness": loudness(path, curve=False)} for stem, path in c.stems.items()}
    return out


def magnitude_blocks(librosa: Any, y: np.ndarray) -> Iterator[np.ndarray]:
    """``abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))`` (centred frames, zeros beyond the ends) in blocks
    of SPECTRAL_BLOCK frames, so that neither the complex STFT nor the magnitude of a whole song is held."""
    n_frames = 1 + y.size // HOP
    for first in range(0, n_frames, SPECTRAL_BLOCK):
        piece = centred_piece(y, first, min(SPECTRAL_BLOCK, n_frames - first), HOP, N_FFT)
        yield np.abs(librosa.stft(piece, n_fft=N_FFT, hop_length=HOP, center=False))


def _span_times(starts: np.ndarray, sr: int, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    begin = starts * HOP / sr
    return begin, np.r_[begin[1:], n_samples / sr]


def _chord_spans(h: dict[str, Any], sr: int, n_samples: int) -> list[list[Any]]:
    """[start, end, label] runs of the per-beat chords (each run starts on a beat)."""
    begin, end = _span_times(h["starts"], sr, n_samples)
    spans: list[list[Any]] = []
    for a, b, label in zip(begin, end, h["labels"], strict=True):
        if spans and spans[-1][2] == label:
            spans[-1][1] = r(b, 3)
        else:
            spans.append([r(a, 3), r(b, 3), label])
    return spans


def _sections(librosa: Any, h: dict[str, Any], mel_db: np.ndarray, beat_frames: np.ndarray,
              out: dict[str, Any], chroma: np.ndarray, y: np.ndarray, sr: int
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sections with a letter, a name where it is clear, and their own key; and the key over time."""
    duration = y.size / sr
    lead = h["lead"]
    if beat_frames.size < 2:
        spans = [(0.0, duration, "A")]
        keys_of = [(0, y.size // HOP + 1)]
    else:
        timbre = harmony.beat_sync(librosa.feature.mfcc(S=mel_db, n_mfcc=13)[1:], beat_frames)
        features = np.vstack([h["chroma"][:, lead:], timbre / (np.linalg.norm(timbre, axis=0) + 1e-9)])
        found = harmony.sections(features, h["bars"])
        edges = [0.0, *(beat_frames[a] * HOP / sr for a, _, _ in found[1:]), duration]
        spans = [(edges[i], edges[i + 1], label) for i, (_, _, label) in enumerate(found)]
        keys_of = [(round(a * sr / HOP), round(b * sr / HOP)) for a, b, _ in spans]
    names = harmony.section_names(spans, duration)
    song_key = out.get("key")
    bar_s = 60 / out["tempo"] * h["meter"] if out.get("tempo") else 0.0
    result, moved = [], []
    for (start, end, label), name, (f0, f1) in zip(spans, names, keys_of, strict=True):
        mean = chroma[:, f0:max(f1, f0 + 1)].mean(axis=1)
        key = estimate_key(mean)
        # Elsewhere than the song's key only when long enough to be heard as a key and clearly in it; the
        # section table says the same as the key changes (one key story on the page, the chart and the tags).
        elsewhere = (song_key is None or (
            end - start >= max(KEY_CHANGE_MIN_S, KEY_CHANGE_MIN_BARS * bar_s)
            and key["confidence"] >= KEY_CHANGE_CONFIDENCE
            and key["candidates"][0]["score"] - _key_fit(mean, song_key) >= KEY_CHANGE_MARGIN))
        decided = key if elsewhere else song_key
        result.append({"start": r(start, 3), "end": r(end, 3), "label": label, "name": name,
                       "key": decided["key"], "mode": decided["mode"], "key_confidence": decided["confidence"]})
        moved.append((decided["key"], decided["mode"]))
    return result, _key_changes(result, moved)


KEY_CHANGE_CONFIDENCE = 0.3
KEY_CHANGE_MIN_S = 12.0
KEY_CHANGE_MIN_BARS = 8
KEY_CHANGE_MARGIN = 0.1


def _key_fit(chroma_mean: np.ndarray, key: dict[str, Any]) -> float:
    """How well a key's profile fits a chroma (the correlation estimate_key ranks keys by)."""
    profile = MAJOR_PROFILE if key["mode"] == "major" else MINOR_PROFILE
    corr = np.corrcoef(chroma_mean, np.roll(profile, PITCH_CLASSES.index(key["key"])))[0, 1]
    return 0.0 if np.isnan(corr) else float(corr)


def _key_changes(sections: list[dict[str, Any]], keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The key over time: runs of sections in the same key (one entry when the key never changes)."""
    runs: list[dict[str, Any]] = []
    for s, (key, mode) in zip(sections, keys, strict=True):
        if runs and (runs[-1]["key"], runs[-1]["mode"]) == (key, mode):
            runs[-1]["end"] = s["end"]
        else:
            runs.append({"start": s["start"], "end": s["end"], "key": key, "mode": mode})
    return runs


# Shorter than this, a piece has no tempo to speak of (a fragment's few beats fit any grid).
MIN_STEADY_S = 10.0


def _beat_grid(librosa: Any, y: np.ndarray, sr: int, mel_db: np.ndarray | None, stems: dict[str, str]
               ) -> beat_network.Grid:
    """Beats and tempo from the trained network (beats.py), or librosa's tracker when it cannot load; no
    tempo for a fragment."""
    grid = _network_grid(librosa, y, sr, stems)
    if grid is None:
        grid = _librosa_grid(librosa, y, sr, mel_db, stems)
    if y.size < MIN_STEADY_S * sr:
        grid.tempo = None
    return grid


def _librosa_grid(librosa: Any, y: np.ndarray, sr: int, mel_db: np.ndarray | None, stems: dict[str, str]
                  ) -> beat_network.Grid:
    if mel_db is None:
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP))
    onset_env = librosa.onset.onset_strength(S=mel_db, sr=sr)
    if "drums" in stems:
        # The drum stem's onsets steady the pulse; the mix's keep it where the drums are silent.
        onset_env = _with_drum_onsets(librosa, onset_env, stems["drums"], sr)
    _, frames = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=HOP)
    beats = _refine(np.asarray(frames), onset_env) * HOP / sr
    tempo = beat_network.steady_tempo(beats, salience=1.0)  # librosa says nothing of how clear they were
    return beat_network.Grid(beats, tempo, None, "librosa")


def _network_grid(librosa: Any, y: np.ndarray, sr: int, stems: dict[str, str]) -> beat_network.Grid | None:
    """The network's grid, or None (and a progress line saying why) when it cannot load."""
    try:
        beat_network.load()
    except beat_network.Unavailable as exc:
        progress(0.1, "tempo and beats (librosa: " + str(exc) + ")")
        return None
    audio = y
    if "drums" in stems:
        # The network hears the mix with its drums twice as loud: the pulse stands out, and it is still the
        # kind of mix the network learnt from (the drum stem alone is not).
        drums, _ = decode(stems["drums"], sr)
        audio = y.copy()
        n = min(audio.size, drums.size)
        audio[:n] += drums[:n]
    if sr != beat_network.SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=beat_network.SAMPLE_RATE)
    return beat_network.track(beat_network.activations(audio))


def _with_drum_onsets(librosa: Any, onset_env: np.ndarray, path: str, sr: int) -> np.ndarray:
    drums, _ = decode(path, sr)
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=drums, sr=sr, n_fft=N_FFT, hop_length=HOP))
    drum_env = librosa.onset.onset_strength(S=mel, sr=sr)
    n = min(drum_env.size, onset_env.size)
    return onset_env[:n] / (onset_env.max() + 1e-9) + drum_env[:n] / (drum_env.max() + 1e-9)


def _with_bass_roots(librosa: Any, chroma: np.ndarray, path: str, sr: int, starts: np.ndarray) -> np.ndarray:
    bass, _ = decode(path, sr)
    cqt = np.abs(librosa.cqt(bass, sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"), n_bins=48,
                             bins_per_octave=12))
    per_beat = harmony.beat_sync(cqt.reshape(4, 12, -1).sum(axis=0), starts)[:, : chroma.shape[1]]
    per_beat = per_beat / (per_beat.max(axis=0, keepdims=True) + 1e-9)
    width = min(per_beat.shape[1], chroma.shape[1])
    mixed = chroma.copy()
    mixed[:, :width] += BASS_ROOT_WEIGHT * per_beat[:, :width] ** 2
    return mixed / (np.linalg.norm(mixed, axis=0, keepdims=True) + 1e-12)


BASS_ROOT_WEIGHT = 0.5


def loudness(path: str, curve: bool = True) -> dict[str, Any]:
    """ITU-R BS.1770 loudness of a file at its own rate and channels (pyloudnorm): integrated LUFS, loudness
    range (LU), true peak (dBTP, 4x oversampled) and, for the picture, short-term (3 s) loudness once a
    second. Silence reads as None."""
    import pyloudnorm
    from scipy.signal import resample_poly

    audio, info = decode(path, None, "stereo" if _channels(path) > 1 else "mono")
    rate = info["source_sample_rate"]
    frames = audio.T if audio.ndim == 2 else audio
    meter = pyloudnorm.Meter(rate)
    result: dict[str, Any] = {"integrated_lufs": None, "range_lu": None}
    short_term: list[float | None] = []
    # BS.1770 gates 400 ms blocks: nothing shorter has a loudness (its true peak it still has). EBU Tech 3342's
    # loudness range comes from 3 s blocks ten times a second; those blocks are also the short-term loudness
    # curve, kept once a second for the picture (blocks reaching into the silence pyloudnorm appends are
    # left out).
    if frames.shape[0] >= meter.block_size * rate:
        result["integrated_lufs"] = _db(meter.integrated_loudness(frames))
        try:
            result["range_lu"] = _db(meter.loudness_range(frames))
            inside = max(0, int((frames.shape[0] / rate - 3.0) * 10) + 1)
            short_term = [_db(v) for v in meter.blockwise_loudness[:inside:round(10 / LOUDNESS_CURVE_HZ)]]
        except ValueError:  # shorter than one 3 s block
            pass
    channels = audio if audio.ndim == 2 else audio[None]
    # Oversampled 10 s blocks, loudest first, until no block can hold more: an oversampled value is at most
    # the block's largest sample times the interpolation filter's largest branch sum (|h|). Most songs need
    # one or two blocks of the thirty-six a three-minute stereo file has.
    block = rate * 10
    pieces = [channel[max(0, start - 64): start + block + 64] for channel in channels
              for start in range(0, channel.size, block)]
    peak = 0.0
    for sample_peak, piece in sorted(((float(np.abs(p).max(initial=0.0)), p) for p in pieces),
                                     key=lambda found: -found[0]):
        if sample_peak * _interpolation_gain() <= peak:
            break
        peak = max(peak, float(np.abs(resample_poly(piece, TRUE_PEAK_OVERSAMPLE, 1)).max(initial=0.0)))
    result["true_peak_dbtp"] = _db(20 * np.log10(peak) if peak > 0 else -np.inf)
    if curve:
        result["curve_hz"] = LOUDNESS_CURVE_HZ
        result["short_term"] = short_term
    return result


@functools.cache
def _interpolation_gain() -> float:
    """The most resample_poly's TRUE_PEAK_OVERSAMPLE-times interpolation can raise a signal's peak: the
    largest sum of |taps| over its polyphase branches (its own filter: firwin, Kaiser 5.0, scaled by up)."""
    from scipy.signal import firwin

    up = TRUE_PEAK_OVERSAMPLE
    taps = firwin(2 * 10 * up + 1, 1 / up, window=("kaiser", 5.0)) * up
    return max(float(np.abs(taps[phase::up]).sum()) for phase in range(up))


def _db(value: float) -> float | None:
    """Loudness in dB, or None for silence (JSON has no -inf)."""
    return r(value, 2) if value is not None and np.isfinite(value) else None


def _channels(path: str) -> int:
    import av

    with av.open(path) as container:
        return container.streams.audio[0].channels if container.streams.audio else 1


def _refine(frames: np.ndarray, onset_env: np.ndarray) -> np.ndarray:
    """Beat positions finer than a frame: the onset peak within a frame of each beat, placed between frames
    by a parabola through it and its neighbours. A frame is 23 ms; over a short song that quantisation alone
    moves the tempo by tenths of a BPM."""
    peaks = np.asarray(frames, dtype=int).copy()
    for i, f in enumerate(peaks):
        lo, hi = max(1, f - 1), min(onset_env.size - 2, f + 1)
        if lo <= hi:
            peaks[i] = lo + int(np.argmax(onset_env[lo:hi + 1]))
    return beat_network.between_frames(peaks, onset_env)


def _frame_normalised(cqt: np.ndarray) -> np.ndarray:
    """Fold a semitone CQT into 12 pitch classes, each frame divided by its largest class."""
    chroma = cqt.reshape(CQT_OCTAVES, 12, cqt.shape[1]).sum(axis=0)
    return chroma / (chroma.max(axis=0, keepdims=True) + 1e-9)


def main(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    args = parse_args(argv)
    jit_cache.ensure_filled(lambda: jit_cache.run_every_port(main),
                            on_wait=lambda: progress(0.0, "compiling (first analysis only)"))
    progress(0.0, "decoding")
    y, info = decode(args.audio_path, args.sample_rate)
    result = analyse(y, args.sample_rate, args.features, args.audio_path, args.stems)
    return {
        "analyzer_version": ANALYZER_VERSION,
        "features": args.features,
        "duration": r(y.size / args.sample_rate, 3),
        "sample_rate": args.sample_rate,
        **info,
        **result,
        "seconds": r(time.monotonic() - started, 3),
    }


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], FAILURE_KIND))
