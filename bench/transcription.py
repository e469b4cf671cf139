"""Audio-to-MIDI accuracy of the transcription port on the corpus's true stems, whose notes are known, next
to basic-pitch's notes as they come, in the same run.

    .venv/bin/python bench/transcription.py /tmp/sfa-dev [--pieces 10] [--seconds 60]

Each piece of a make_corpus.py folder has each stem and the MIDI it was rendered from. The port runs once
per piece (a real subprocess) over the bass, vocals and other stems cut to their first ``--seconds``, once as
the app runs it (each stem's range, a bass or a voice without the overtones the model hears as notes) and
once with ``--as-it-comes`` (basic-pitch's defaults over every pitch): the baseline. Scored with
mir_eval.transcription as MIREX scores note tracking: F-measure with onsets within 50 ms and the pitch within
a quarter tone ("onset"), and also the offset within 20 % of the note or 50 ms ("offset"). Prints a table per
stem and the seconds of audio transcribed per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STEMS = ("bass", "vocals", "other")


def reference(path: Path, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    import pretty_midi

    notes = [n for instrument in pretty_midi.PrettyMIDI(str(path)).instruments for n in instrument.notes
             if n.start < seconds]
    intervals = np.array([[n.start, min(n.end, seconds)] for n in notes]).reshape(-1, 2)
    return intervals, np.array([pretty_midi.note_number_to_hz(n.pitch) for n in notes])


def transcribe(stems: dict[str, Path], as_it_comes: bool) -> tuple[dict[str, list[list[float]]], float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tracks.ports.transcribe",
                           *(f"--stem={name}={path}" for name, path in stems.items()),
                           *(["--as-it-comes"] if as_it_comes else [])],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    result = json.loads(proc.stdout)
    if proc.returncode:
        raise SystemExit(f"the port failed: {result}")
    return result["stems"], time.perf_counter() - started


def scores(ref: tuple[np.ndarray, np.ndarray], notes: list[list[float]]) -> tuple[float, float]:
    import mir_eval
    import pretty_midi

    est = np.array([[n[0], n[1]] for n in notes]).reshape(-1, 2)
    pitches = np.array([pretty_midi.note_number_to_hz(n[2]) for n in notes])
    onset = mir_eval.transcription.precision_recall_f1_overlap(*ref, est, pitches, offset_ratio=None)[2]
    offset = mir_eval.transcription.precision_recall_f1_overlap(*ref, est, pitches)[2]
    return onset, offset


def main() -> None:
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pieces", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    pieces = sorted(p.parent for p in args.corpus.glob("*/labels.json"))[: args.pieces]
    found: dict[str, dict[str, list[tuple[float, float]]]] = {"app": {s: [] for s in STEMS},
                                                               "as it comes": {s: [] for s in STEMS}}
    audio = busy = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for piece in pieces:
            cut = {}
            for stem in STEMS:
                y, rate = sf.read(piece / f"{stem}.wav")
                cut[stem] = Path(scratch) / f"{stem}.wav"
                sf.write(cut[stem], y[: int(args.seconds * rate)], rate)
                audio += min(len(y) / rate, args.seconds)
            for way in found:
                notes, seconds = transcribe(cut, way == "as it comes")
                busy += seconds if way == "app" else 0
                for stem in STEMS:
                    found[way][stem].append(scores(reference(piece / f"{stem}.mid", args.seconds), notes[stem]))
            line = "  ".join(f"{s} {found['app'][s][-1][0]:.2f}" for s in STEMS)
            print(f"{piece.name:>12}: onset F {line}", flush=True)
    print(f"\n{len(pieces)} pieces, the first {args.seconds:.0f} s of each stem; note F-measure (mir_eval)")
    print(f"{'stem':>8} {'onset F':>9} {'as it comes':>12} {'offset F':>9} {'as it comes':>12}")
    for stem in STEMS:
        app, raw = np.array(found["app"][stem]), np.array(found["as it comes"][stem])
        print(f"{stem:>8} {app[:, 0].mean():9.3f} {raw[:, 0].mean():12.3f} {app[:, 1].mean():9.3f} "
              f"{raw[:, 1].mean():12.3f}")
    print(f"speed: {audio / busy:.1f} s of audio per second (one process per piece, model load included)")


if __name__ == "__main__":
    main()
