"""The librosa port: analyse one audio file and print one JSON object (ADR-002).

    python tracks/ports/analyzer.py song.mp3 --features tempo,key,energy,spectral,mfcc,chroma --output json

Exit 0 with the analysis on stdout, or non-zero with ``{"error": type, "message": text}`` on stdout, where
type is one of ``invalid_arguments``, ``file_not_found``, ``decode_error``, ``analysis_failed``. Progress goes
to stderr as JSON lines ``{"progress": 0..1, "stage": name}``. Imports no Django.

The audio is decoded once (PyAV, resampled to mono at --sample-rate) and one STFT feeds every feature but
chroma, which uses a constant-Q transform because key finding needs its pitch resolution.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np
from port_protocol import Parser, PortFailure, progress, r, run, waveform_peaks

ANALYZER_VERSION = "1"
FEATURES = ("tempo", "key", "energy", "spectral", "mfcc", "chroma", "waveform")
N_FFT = 2048
HOP = 512
CURVE_HZ = 2.0
WAVEFORM_POINTS = 1000
STAGES = {
    "tempo": "tempo and beats",
    "key": "key",
    "energy": "energy",
    "spectral": "spectral features",
    "mfcc": "MFCC",
    "chroma": "chroma",
    "waveform": "waveform",
}
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Albrecht & Shanahan's key profiles (2013, from a corpus of classical scores), index 0 = tonic. On the
# labelled corpus they beat Krumhansl & Kessler's probe-tone profiles, which confuse keys a fifth apart.
MAJOR_PROFILE = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
MINOR_PROFILE = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])
CQT_OCTAVES = 7  # C1 to B7, one bin per semitone


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="analyzer.py", description="Analyse an audio file with librosa.")
    parser.add_argument("audio_path")
    parser.add_argument("--features", default="all", help=f"comma list of {', '.join(FEATURES)}, or all")
    parser.add_argument("--output", default="json", choices=["json"])
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args(argv)
    names = [f.strip() for f in args.features.split(",") if f.strip()]
    if names == ["all"]:
        names = list(FEATURES)
    unknown = sorted(set(names) - set(FEATURES))
    if unknown or not names:
        raise PortFailure(
            "invalid_arguments",
            f"unknown feature(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FEATURES)}, all",
        )
    if not 4000 <= args.sample_rate <= 192000:
        raise PortFailure("invalid_arguments", "--sample-rate must be between 4000 and 192000")
    args.features = [f for f in FEATURES if f in names]
    return args


def decode(path: str, sr: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The whole file as mono float32 at ``sr``, plus what the container says about itself."""
    import av

    if not os.path.isfile(path):
        raise PortFailure("file_not_found", f"no such file: {path}")
    try:
        with av.open(path) as container:
            if not container.streams.audio:
                raise PortFailure("decode_error", "the file has no audio stream")
            stream = container.streams.audio[0]
            info = {"source_sample_rate": stream.rate, "channels": stream.channels}
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
            chunks = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        raise PortFailure("decode_error", f"could not decode the audio: {exc}") from exc
    y = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if y.size < sr // 10:
        raise PortFailure("decode_error", "the file holds no decodable audio")
    return np.ascontiguousarray(y, dtype=np.float32), info


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
    scores = []
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            corr = np.corrcoef(chroma_mean, np.roll(profile, tonic))[0, 1]
            scores.append((0.0 if np.isnan(corr) else float(corr), PITCH_CLASSES[tonic], mode))
    scores.sort(reverse=True)
    best, second = scores[0][0], scores[1][0]
    # Confident only when the best key both fits well and stands clear of the runner-up.
    confidence = float(np.clip(best, 0, 1) * np.clip((best - second) / 0.1, 0, 1))
    return {
        "key": scores[0][1],
        "mode": scores[0][2],
        "confidence": r(confidence, 3),
        "candidates": [{"key": k, "mode": m, "score": r(s, 3)} for s, k, m in scores[:3]],
    }


def analyse(y: np.ndarray, sr: int, features: list[str]) -> dict[str, Any]:
    import librosa

    out: dict[str, Any] = {}
    steps = len(features) + 1
    done = 0

    def step(next_stage: str) -> None:
        """One more step done; say what comes next (the stage a person sees is what is happening now)."""
        nonlocal done
        done += 1
        progress(0.1 + 0.9 * done / steps, next_stage)

    progress(0.1, "spectrogram")
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    power = S**2
    mel_db = None
    if {"tempo", "mfcc"} & set(features):
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    step(STAGES[features[0]])

    for name in features:
        if name == "tempo":
            onset_env = librosa.onset.onset_strength(S=mel_db, sr=sr)
            tempo, beats = librosa.beat.beat_track(onset_envelope=onset_env, sr=sr, hop_length=HOP)
            beats = _half_time(np.asarray(beats), onset_env, sr) * HOP / sr
            bpm = float(np.atleast_1d(tempo)[0])
            if beats.size >= 4:
                # beat_track's tempo is quantised to its tempogram bins; the slope of a straight line
                # through the beat times is the beat period the tracker actually followed.
                period = np.polyfit(np.arange(beats.size), beats, 1)[0]
                if period > 0:
                    bpm = 60.0 / period
            out["tempo"] = r(bpm, 2)
            out["beats"] = [r(b, 3) for b in beats]
        elif name == "key":
            # Energy (not magnitude) per pitch class, each frame scaled to its strongest class, so that loud
            # passages do not outvote the rest and drums, spread over every class, fade into the floor.
            out["key"] = estimate_key(_frame_normalised(_cqt(librosa, y, sr, out) ** 2).mean(axis=1))
        elif name == "chroma":
            chroma = _frame_normalised(_cqt(librosa, y, sr, out))
            out["chroma"] = {
                "pitch_classes": list(PITCH_CLASSES),
                "mean": [r(v, 4) for v in chroma.mean(axis=1)],
                "curve_hz": CURVE_HZ,
                "curve": [[r(v, 3) for v in row] for row in _curve(chroma, sr).T],
            }
        elif name == "energy":
            rms = librosa.feature.rms(S=S, frame_length=N_FFT)[0]
            lo, hi = np.percentile(rms, [5, 95])
            out["energy"] = {
                "rms_mean": r(rms.mean()),
                "rms_max": r(rms.max()),
                "rms_std": r(rms.std()),
                "dynamic_range_db": r(20 * np.log10(max(hi, 1e-9) / max(lo, 1e-9)), 2),
                "curve_hz": CURVE_HZ,
                "curve": [r(v) for v in _curve(rms, sr)],
            }
        elif name == "spectral":
            contrast = librosa.feature.spectral_contrast(S=S, sr=sr)
            out["spectral"] = {
                "centroid": _stats(librosa.feature.spectral_centroid(S=S, sr=sr)),
                "rolloff": _stats(librosa.feature.spectral_rolloff(S=S, sr=sr)),
                "bandwidth": _stats(librosa.feature.spectral_bandwidth(S=S, sr=sr)),
                "flatness": _stats(librosa.feature.spectral_flatness(S=S)),
                "contrast": [r(v, 3) for v in contrast.mean(axis=1)],
            }
        elif name == "mfcc":
            mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=13)
            out["mfcc"] = {"mean": [r(v, 3) for v in mfcc.mean(axis=1)], "var": [r(v, 3) for v in mfcc.var(axis=1)]}
        elif name == "waveform":
            out["waveform"] = waveform_peaks(y, WAVEFORM_POINTS)
        later = features[features.index(name) + 1:]
        step(STAGES[later[0]] if later else "done")
    out.pop("_cqt", None)
    return out


HALF_TIME_ABOVE_BPM = 140.0
HALF_TIME_MIDPOINT = 0.2
HALF_TIME_PARITY = 0.6
HALF_TIME_ALIKE = 0.5


def _half_time(beats: np.ndarray, onset_env: np.ndarray, sr: int) -> np.ndarray:
    """Beat frames at the level a listener taps. On a fast pulse the tracker sometimes follows the eighth
    notes instead: then the beats alternate strong and weak, the strong ones alike, and nothing sounds
    halfway between them (at a true beat, the subdivisions do). Keep every other beat, the strong ones, in
    that case."""
    if beats.size < 8 or 60.0 / (np.median(np.diff(beats)) * HOP / sr) <= HALF_TIME_ABOVE_BPM:
        return beats
    strength = onset_env[beats]
    even, odd = strength[0::2].mean(), strength[1::2].mean()
    between = onset_env[(beats[:-1] + beats[1:]) // 2].mean() / max(strength.mean(), 1e-9)
    strong = beats[0::2] if even >= odd else beats[1::2]
    # The strong beats must be alike (a steady pulse), not one accent a bar over plain clicks.
    first, second = onset_env[strong[0::2]].mean(), onset_env[strong[1::2]].mean()
    alike = min(first, second) >= HALF_TIME_ALIKE * max(first, second)
    if between < HALF_TIME_MIDPOINT and min(even, odd) < HALF_TIME_PARITY * max(even, odd) and alike:
        return strong
    return beats


def _cqt(librosa: Any, y: np.ndarray, sr: int, cache: dict[str, Any]) -> np.ndarray:
    """One constant-Q magnitude spectrogram, a bin per semitone, shared by the key and the chroma."""
    if "_cqt" not in cache:
        cache["_cqt"] = np.abs(librosa.cqt(y, sr=sr, hop_length=HOP, fmin=librosa.note_to_hz("C1"),
                                           n_bins=12 * CQT_OCTAVES, bins_per_octave=12))
    return cache["_cqt"]


def _frame_normalised(cqt: np.ndarray) -> np.ndarray:
    """Fold a semitone CQT into 12 pitch classes, each frame divided by its largest class."""
    chroma = cqt.reshape(CQT_OCTAVES, 12, cqt.shape[1]).sum(axis=0)
    return chroma / (chroma.max(axis=0, keepdims=True) + 1e-9)


def main(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    args = parse_args(argv)
    progress(0.0, "decoding")
    y, info = decode(args.audio_path, args.sample_rate)
    result = analyse(y, args.sample_rate, args.features)
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
    sys.exit(run(main, sys.argv[1:], "analysis_failed"))
