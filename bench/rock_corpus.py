"""Rock and metal songs with exact labels, for bench/accuracy.py: what neither shared corpus has.

    .venv/bin/python bench/rock_corpus.py /tmp/sfa-rock [--songs 8]

Each song (tests/audio.py's ``rock``: distorted power-chord guitars, bass, kick and snare, some parts on
double kicks or off-beat guitars, some songs starting on a pickup) is a verse, chorus and bridge form at
160-200 BPM in a minor key, written as mix.mp3 with a labels.json (tempo, meter, beats, downbeats, key and
chords) and a harmony.json (chords, key and sections by which riff plays, as the shared corpus's
lmms_harmony.py writes them). For measuring beside the other corpora, never for tuning alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.audio import PITCH_CLASSES, rock, write_encoded  # noqa: E402

SR = 22050
# The parts in E minor: a riff, and how the band plays it.
PARTS = {
    "verse": (["E:5", "G:5", "A:5", "G:5"], {}),
    "chorus": (["C:5", "D:5", "E:5", "E:5"], {"double_kick": True}),
    "bridge": (["A:5", "C:5", "B:5", "B:5"], {"offbeat_guitar": True}),
    "power": (["C:maj", "D:maj", "E:min", "E:min"], {"double_kick": True}),
}
FORMS = (("verse", "chorus", "verse", "chorus", "bridge", "chorus"),
         ("verse", "power", "verse", "power", "bridge", "power"))
SONGS = [  # bpm, semitones up from E minor, pickup beats, form, verse on off-beats
    (160, 0, 2, 0, False), (168, 5, 0, 1, True), (176, 2, 1, 0, False), (184, 7, 0, 1, False),
    (192, -2, 3, 0, True), (200, 3, 0, 1, False), (170, 9, 2, 0, False), (188, -4, 0, 1, True),
]


def transposed(name: str, shift: int) -> str:
    root, _, quality = name.partition(":")
    return f"{PITCH_CLASSES[(PITCH_CLASSES.index(root) + shift) % 12]}:{quality}"


def song(bpm: float, shift: int, pickup: int, form: tuple[str, ...], offbeat_verse: bool, seed: int
         ) -> tuple[np.ndarray, dict, dict]:
    """One song: the audio, its labels.json and its harmony.json."""
    pieces, beats, downbeats, chords, sections = [], [], [], [], []
    t = 0.0
    letters: dict[str, str] = {}
    for index, part in enumerate(form):
        riff, style = PARTS[part]
        style = {**style, "offbeat_guitar": offbeat_verse} if part == "verse" else style
        lead = pickup if index == 0 else 0
        y, labels = rock([transposed(c, shift) for c in riff], bpm=bpm, repeats=2, pickup_beats=lead, sr=SR,
                         seed=seed + index, **style)
        length = labels["first_downbeat"] + 8 * 4 * 60 / bpm
        pieces.append(y[: round(length * SR)])
        beats += [t + b for b in labels["beats"]]
        downbeats += [t + b for b in labels["downbeats"]]
        chords += [[t + a, t + b, c] for a, b, c in labels["chords"]]
        start = t + labels["first_downbeat"]
        letter = letters.setdefault(part, "ABCD"[len(letters)])
        sections.append([round(t if index == 0 else start, 4), round(t + length, 4), letter])
        t += len(pieces[-1]) / SR
    if pickup:
        chords.insert(0, [0.0, round(pickup * 60 / bpm, 4), "N"])
    audio = np.concatenate(pieces)
    key = PITCH_CLASSES[(4 + shift) % 12]
    labels = {"tempo": bpm, "meter": 4, "beats": [round(b, 4) for b in beats],
              "downbeats": [round(b, 4) for b in downbeats], "key": key, "mode": "minor",
              "chords": [[round(a, 4), round(b, 4), c] for a, b, c in chords], "duration": round(t, 3)}
    harmony = {"chords": labels["chords"], "key": key, "mode": "minor", "sections": sections,
               "usable": {"chords": True, "key": True, "sections": True}}
    return audio, labels, harmony


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--songs", type=int, default=len(SONGS))
    args = parser.parse_args()
    for number, (bpm, shift, pickup, form, offbeat) in enumerate(SONGS[: args.songs]):
        name = f"rock{number + 1:02d}-{bpm}bpm"
        audio, labels, harmony = song(bpm, shift, pickup, FORMS[form], offbeat, seed=number * 10)
        folder = args.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        write_encoded(folder / "mix.mp3", audio, SR)
        (folder / "labels.json").write_text(json.dumps({"piece": name, **labels}))
        (folder / "harmony.json").write_text(json.dumps({"piece": name, **harmony}))
        print(f"{name}: {labels['key']} minor, {labels['duration']:.0f} s, pickup {pickup} beats", flush=True)


if __name__ == "__main__":
    main()
