"""Key, tempo, beat, meter, downbeat and chord accuracy of the analyzer port on a labelled corpus, next to
plain librosa in the same run.

    .venv/bin/python bench/accuracy.py /tmp/sfa-dev /tmp/sfa-dev11 /tmp/sfa-real [--input mix.mp3] [--stems]

Each corpus is a folder of pieces with a labels.json each (key, mode, tempo, beats, meter, downbeats,
chords): the synthesized chorales of the shared corpus's make_corpus.py (a development set and one with
another --seed), and the real productions of its make_real.sh, whose labels have no key and no chords (those
columns read "-" there), with the chords, key and sections that the shared corpus's lmms_harmony.py derives from
each project's notes (harmony.json beside labels.json, scored only where it marks them usable), and the rock
and metal songs of bench/rock_corpus.py (power chords, double kicks, pickups, 160-200 BPM). The sets are
reported side by side, and the real sets song by song as well.
The port's figures come from its own JSON output (a real subprocess per piece); with
--stems it also gets the piece's true drum and bass stems (``--stem``), the best case of a separation.
"Plain librosa" is what tools in this field do: `librosa.load`, `beat_track` for tempo and beats,
Krumhansl-Schmuckler on the mean `chroma_cqt` for the key, and the best major or minor triad template on
`chroma_cqt` per beat for chords; it has no meter or downbeats. Measures: MIREX weighted key score
(`mir_eval.key.weighted_score`), tempo Acc1 (within 4 %), Acc2 (also x2, x3, /2, /3) and the median absolute
BPM error, the beat F-measure (`mir_eval.beat.f_measure`, 70 ms window), meter accuracy (beats per bar),
the downbeat F-measure (same window), and the duration-weighted chord scores `majmin` (root and
major/minor, sevenths and diminished left out) and `mirex` (at least three notes in common) from
`mir_eval.chord`, with `sevenths` and `root`; sections by `mir_eval.segment` (boundary F-measure at 3 s, pairwise
F-measure of the labels); and key agreement, the share of a song's time whose section key is the headline key.
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
PORT = ["-m", "tracks.ports.analyzer"]  # run from the repository root (PYTHONPATH below)
sys.path.insert(0, str(ROOT))
from tracks.ports.contract import PITCH_CLASSES as PITCHES  # noqa: E402

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
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache")),
           "PYTHONPATH": str(ROOT)}
    extra = [f"--stem={name}={file}" for name, file in stems.items()]
    proc = subprocess.run([sys.executable, *PORT, str(path), "--features", "tempo,key,meter,chords,sections",
                           "--output", "json", *extra], capture_output=True, text=True, env=env)
    result = json.loads(proc.stdout)
    if proc.returncode:
        raise SystemExit(f"the port failed on {path}: {result}")
    return result


def with_harmony(label: dict, harmony: dict | None) -> dict:
    """The labels with a real song's note-derived chords, key and sections where harmony.json marks them usable."""
    if not harmony:
        return label
    usable = harmony.get("usable", {})
    label = dict(label)
    if usable.get("chords"):
        label["chords"] = harmony["chords"]
    if usable.get("key"):
        label["key"], label["mode"] = harmony["key"], harmony["mode"]
    if usable.get("sections"):
        label["sections"] = harmony["sections"]
    return label


def score(results: list[tuple[dict, dict]]) -> dict[str, float]:
    import mir_eval

    figures: dict[str, list[float]] = {name: [] for name in TARGETS}
    for label, found in results:
        if label.get("key") and found.get("key"):
            ref_key = f"{label['key']} {label['mode']}"
            est_key = f"{found['key']['key']} {found['key']['mode']}"
            figures["key (MIREX weighted)"].append(mir_eval.key.weighted_score(ref_key, est_key))
        true, est = label["tempo"], found["tempo"] or 0.0
        figures["tempo Acc1"].append(abs(est - true) <= 0.04 * true)
        figures["tempo Acc2"].append(any(abs(est * f - true) <= 0.04 * true for f in (1, 2, 3, 1 / 2, 1 / 3)))
        figures["tempo median abs error (BPM)"].append(abs(est - true))
        figures["beat F-measure"].append(beat_f(label, found))
        if "meter" in found:
            figures["meter (beats per bar)"].append(found["meter"]["beats_per_bar"] == label["meter"])
            figures["downbeat F-measure"].append(mir_eval.beat.f_measure(
                np.asarray(label["downbeats"], dtype=float), np.asarray(found["downbeats"], dtype=float)))
        if label.get("chords"):
            chord_scores = chord_score(label, found["chords"])
            for rule in CHORD_RULES:
                figures[f"chords {rule}"].append(chord_scores[rule])
        if label.get("sections") and found.get("sections"):
            boundary, pairwise = section_scores(label["sections"], found["sections"])
            figures["sections boundary F (3 s)"].append(boundary)
            figures["sections pairwise F"].append(pairwise)
        if found.get("sections") and found.get("key"):
            figures["key agreement"].append(key_agreement(found))
    return {name: (float(np.median(v)) if "median" in name else float(np.mean(v))) if v else float("nan")
            for name, v in figures.items()}


def beat_f(label: dict, found: dict) -> float:
    import mir_eval

    ref_beats = mir_eval.beat.trim_beats(np.asarray(label["beats"], dtype=float))
    est_beats = mir_eval.beat.trim_beats(np.asarray(found["beats"], dtype=float))
    return float(mir_eval.beat.f_measure(ref_beats, est_beats))


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
            for rule in CHORD_RULES}


CHORD_RULES = ("majmin", "sevenths", "root", "mirex")


def section_scores(reference: list, sections: list[dict]) -> tuple[float, float]:
    """Boundary F-measure (3 s window) and pairwise label F-measure of the port's sections against
    [start, end, label] reference sections, both over the reference's span."""
    import mir_eval

    ref = np.array([[a, b] for a, b, _ in reference], dtype=float)
    ref_labels = [str(x) for _, _, x in reference]
    est = np.array([[s["start"], s["end"]] for s in sections], dtype=float)
    est_labels = [s["label"].rstrip("'") for s in sections]
    est, est_labels = mir_eval.util.adjust_intervals(est, est_labels, ref.min(), ref.max(), "none", "none")
    boundary = mir_eval.segment.detection(ref, est, window=3.0, trim=True)[2]
    pairwise = mir_eval.segment.pairwise(ref, ref_labels, est, est_labels)[2]
    return float(boundary), float(pairwise)


def key_agreement(found: dict) -> float:
    """The share of the song's time whose section key is the headline key."""
    head = (found["key"]["key"], found["key"]["mode"])
    total = sum(s["end"] - s["start"] for s in found["sections"])
    same = sum(s["end"] - s["start"] for s in found["sections"] if (s["key"], s["mode"]) == head)
    return same / total if total else 1.0


TARGETS = {"key (MIREX weighted)": "synthetic >= 0.95", "tempo Acc1": "synthetic >= 0.99, real >= 0.88",
           "tempo Acc2": "real >= 0.96", "tempo median abs error (BPM)": "synthetic <= 0.1",
           "beat F-measure": "synthetic >= 0.98, real >= 0.80", "meter (beats per bar)": "",
           "downbeat F-measure": "real >= 0.85", "chords majmin": "real >= 0.75, synthetic >= 0.80",
           "chords sevenths": "real >= 0.60", "chords root": "", "chords mirex": "",
           "sections boundary F (3 s)": "real >= 0.65", "sections pairwise F": "real >= 0.70",
           "key agreement": "real >= 0.85"}


def run_set(corpus: Path, input_name: str, with_stems: bool) -> tuple[list, list]:
    pieces = sorted(p for p in corpus.iterdir() if (p / "labels.json").is_file())
    ours, plain = [], []
    real = False
    for piece in pieces:
        harmony = piece / "harmony.json"
        label = with_harmony(json.loads((piece / "labels.json").read_text()),
                             json.loads(harmony.read_text()) if harmony.is_file() else None)
        real = real or not label.get("midi")
        stems = {name: piece / label["stems"][name] for name in ("drums", "bass")} if with_stems else {}
        ours.append((label, port(piece / input_name, stems)))
        plain.append((label, plain_librosa(piece / input_name)))
    if real:
        print(f"\n{corpus.name}, song by song (tempo in BPM, beat F-measure; port tracker: "
              f"{ours[0][1].get('beat_tracker')}):")
        print(f"  {'song':38} {'true':>6} {'port':>7} {'F':>5} {'plain':>7} {'F':>5}")
        for (label, mine), (_, theirs) in zip(ours, plain, strict=True):
            print(f"  {label.get('piece', '?')[:38]:38} {label['tempo']:6.1f} {mine['tempo'] or 0:7.2f} "
                  f"{beat_f(label, mine):5.2f} {theirs['tempo']:7.2f} {beat_f(label, theirs):5.2f}", flush=True)
    return ours, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", type=Path, nargs="+")
    parser.add_argument("--input", default="mix.mp3", help="which file of each piece to analyse")
    parser.add_argument("--stems", action="store_true", help="give the port the true drum and bass stems")
    args = parser.parse_args()
    table = {}
    for corpus in args.corpora:
        ours, plain = run_set(corpus, args.input, args.stems)
        table[corpus.name] = (len(ours), score(ours), score(plain))
    stems = ", with true drum and bass stems" if args.stems else ""
    print(f"\naccuracy ({args.input}{stems}), port / plain librosa:")
    print(f"  {'measure':30}" + "".join(f" {f'{name} ({n})':>22}" for name, (n, _, _) in table.items()) + "   target")
    for measure in TARGETS:
        cells = "".join(f" {_figure(mine[measure]):>10} / {_figure(theirs[measure]):>9}"
                        for _, mine, theirs in table.values())
        print(f"  {measure:30}{cells}   {TARGETS[measure]}")


def _figure(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.3f}"


if __name__ == "__main__":
    main()
