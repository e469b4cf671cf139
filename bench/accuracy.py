"""Key, tempo, beat, meter, downbeat and chord accuracy of the analyzer port on a labelled corpus, next to
plain librosa in the same run.

    .venv/bin/python bench/accuracy.py /tmp/sfa-dev [--input mix.mp3] [--stems]

The corpus comes from ../shared/corpus/make_corpus.py (labels.json per piece: key, mode, tempo, beats, meter,
downbeats, chords). The port's figures come from its own JSON output (a real subprocess per piece); with
--stems it also gets the piece's true drum and bass stems (``--stem``), the best case of a separation.
"Plain librosa" is what tools in this field do: `librosa.load`, `beat_track` for tempo and beats,
Krumhansl-Schmuckler on the mean `chroma_cqt` for the key, and the best major or minor triad template on
`chroma_cqt` per beat for chords; it has no meter or downbeats. Measures: MIREX weighted key score
(`mir_eval.key.weighted_score`), tempo Acc1 (within 4 %), Acc2 (also x2, x3, /2, /3) and the median absolute
BPM error, the beat F-measure (`mir_eval.beat.f_measure`, 70 ms window), meter accuracy (beats per bar),
the downbeat F-measure (same window), and the duration-weighted chord scores `majmin` (root and
major/minor, sevenths and diminished left out) and `mirex` (at least three notes in common) from
`mir_eval.chord`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PORT = ROOT / "tracks" / "ports" / "analyzer.py"
PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl & Kessler's probe-tone profiles, the textbook baseline.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAJ = np.array([1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0], dtype=float)
MIN = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], dtype=float)


def plain_librosa(path: Path) -> dict:
    import librosa

    y, sr = librosa.load(str(path), sr=None, mono=True)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    frames = librosa.feature.chroma_cqt(y=y, sr=sr)
    chroma = frames.mean(axis=1)
    scores = [(np.corrcoef(chroma, np.roll(profile, k))[0, 1], PITCHES[k], mode)
              for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)) for k in range(12)]
    _, key, mode = max(scores)
    starts = np.unique(np.r_[0, librosa.time_to_frames(beats, sr=sr)])
    per_beat = librosa.util.sync(frames, list(starts), aggregate=np.mean)[:, : starts.size]
    triads = [(PITCHES[k], q, np.roll(t, k)) for q, t in (("maj", MAJ), ("min", MIN)) for k in range(12)]
    labels = [max(triads, key=lambda c: float(c[2] @ column))[:2] for column in per_beat.T]
    times = librosa.frames_to_time(starts, sr=sr)
    ends = np.r_[times[1:], y.size / sr]
    chords = [[a, b, f"{k}:{q}"] for a, b, (k, q) in zip(times, ends, labels, strict=True)]
    return {"tempo": float(np.atleast_1d(tempo)[0]), "beats": list(beats), "key": {"key": key, "mode": mode},
            "chords": chords}


def port(path: Path, stems: dict[str, Path]) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))}
    extra = [f"--stem={name}={file}" for name, file in stems.items()]
    proc = subprocess.run([sys.executable, str(PORT), str(path), "--features", "tempo,key,meter,chords",
                           "--output", "json", *extra], capture_output=True, text=True, env=env)
    result = json.loads(proc.stdout)
    if proc.returncode:
        raise SystemExit(f"the port failed on {path}: {result}")
    return result


def score(results: list[tuple[dict, dict]]) -> dict[str, float]:
    import mir_eval

    keys, acc1, acc2, errors, beat_f, meters, down_f, majmin, mirex = [], [], [], [], [], [], [], [], []
    for label, found in results:
        ref_key = f"{label['key']} {label['mode']}"
        est_key = f"{found['key']['key']} {found['key']['mode']}"
        keys.append(mir_eval.key.weighted_score(ref_key, est_key))
        true, est = label["tempo"], found["tempo"]
        acc1.append(abs(est - true) <= 0.04 * true)
        acc2.append(any(abs(est * f - true) <= 0.04 * true for f in (1, 2, 3, 1 / 2, 1 / 3)))
        errors.append(abs(est - true))
        ref_beats = mir_eval.beat.trim_beats(np.asarray(label["beats"], dtype=float))
        est_beats = mir_eval.beat.trim_beats(np.asarray(found["beats"], dtype=float))
        beat_f.append(mir_eval.beat.f_measure(ref_beats, est_beats))
        if "meter" in found:
            meters.append(found["meter"]["beats_per_bar"] == label["meter"])
            down_f.append(mir_eval.beat.f_measure(np.asarray(label["downbeats"], dtype=float),
                                                  np.asarray(found["downbeats"], dtype=float)))
        chord_scores = chord_score(label, found["chords"])
        majmin.append(chord_scores["majmin"])
        mirex.append(chord_scores["mirex"])
    return {
        "key (MIREX weighted)": float(np.mean(keys)),
        "tempo Acc1": float(np.mean(acc1)),
        "tempo Acc2": float(np.mean(acc2)),
        "tempo median abs error (BPM)": float(np.median(errors)),
        "beat F-measure": float(np.mean(beat_f)),
        "meter (beats per bar)": float(np.mean(meters)) if meters else float("nan"),
        "downbeat F-measure": float(np.mean(down_f)) if down_f else float("nan"),
        "chords majmin": float(np.mean(majmin)),
        "chords mirex": float(np.mean(mirex)),
    }


def chord_score(label: dict, chords: list) -> dict[str, float]:
    """Duration-weighted chord accuracy of [start, end, label] spans against the corpus's chords (its "X",
    a sonority outside the vocabulary, is left out of the score by mir_eval)."""
    import mir_eval

    ref = np.array([[a, b] for a, b, _ in label["chords"]])
    ref_labels = [c for _, _, c in label["chords"]]
    est = np.array([[a, b] for a, b, _ in chords])
    est_labels = [c for _, _, c in chords]
    est, est_labels = mir_eval.util.adjust_intervals(est, est_labels, ref.min(), ref.max(),
                                                     mir_eval.chord.NO_CHORD, mir_eval.chord.NO_CHORD)
    intervals, ref_l, est_l = mir_eval.util.merge_labeled_intervals(ref, ref_labels, est, est_labels)
    durations = mir_eval.util.intervals_to_durations(intervals)
    return {rule: float(mir_eval.chord.weighted_accuracy(getattr(mir_eval.chord, rule)(ref_l, est_l), durations))
            for rule in ("majmin", "mirex")}


TARGETS = {"key (MIREX weighted)": ">= 0.95", "tempo Acc1": ">= 0.99", "tempo Acc2": "",
           "tempo median abs error (BPM)": "<= 0.1", "beat F-measure": ">= 0.98", "meter (beats per bar)": "",
           "downbeat F-measure": "", "chords majmin": "", "chords mirex": ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--input", default="mix.mp3", help="which file of each piece to analyse")
    parser.add_argument("--stems", action="store_true", help="give the port the true drum and bass stems")
    args = parser.parse_args()
    pieces = sorted(p for p in args.corpus.iterdir() if (p / "labels.json").is_file())
    ours, plain = [], []
    for piece in pieces:
        label = json.loads((piece / "labels.json").read_text())
        stems = {name: piece / label["stems"][name] for name in ("drums", "bass")} if args.stems else {}
        ours.append((label, port(piece / args.input, stems)))
        plain.append((label, plain_librosa(piece / args.input)))
        print(f"  {piece.name:12} true {label['key']:>2} {label['mode']:5} {label['tempo']:6.1f} BPM | port "
              f"{ours[-1][1]['key']['key']:>2} {ours[-1][1]['key']['mode']:5} {ours[-1][1]['tempo']:7.2f} | plain "
              f"{plain[-1][1]['key']['key']:>2} {plain[-1][1]['key']['mode']:5} {plain[-1][1]['tempo']:7.2f}",
              flush=True)
    mine, theirs = score(ours), score(plain)
    stems = ", with true drum and bass stems" if args.stems else ""
    print(f"\naccuracy on {len(pieces)} pieces ({args.input}{stems}):")
    print(f"  {'measure':30} {'port':>8} {'plain librosa':>14}   target")
    for name in mine:
        plain_figure = "-" if np.isnan(theirs[name]) else f"{theirs[name]:.3f}"
        print(f"  {name:30} {mine[name]:8.3f} {plain_figure:>14}   {TARGETS[name]}")


if __name__ == "__main__":
    main()
