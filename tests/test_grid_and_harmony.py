"""The grid and the harmony a musician plays from, on rock: the analyzer port as a real subprocess on
synthesized songs with known answers (a lone note, pickups, off-beat guitars, a key change against a
borrowed chord)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests import audio, portcli

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server


def run(path: Path, features: str, env: dict[str, str]) -> dict:
    code, out, _ = portcli.run("analyzer", str(path), "--features", features, env=env)
    assert code == 0, out
    return out


def chord_at(chords: list[list], t: float) -> str:
    return next(label for start, end, label in chords if start <= t < end)


def test_a_lone_note_is_no_chord(tmp_path: Path, port_env: dict[str, str]) -> None:
    for seconds in (2.0, 12.0):
        path = audio.write_wav(tmp_path / f"a-{seconds}.wav", audio.sine(440.0, seconds=seconds, sr=22050), 22050)
        out = run(path, "chords", port_env)
        assert {label for _, _, label in out["chords"]} == {"N"}, out["chords"]


def test_the_grid_stays_on_the_kicks_under_off_beat_guitars(tmp_path: Path, port_env: dict[str, str]) -> None:
    y, labels = audio.rock(["A:5", "C:5", "D:5", "C:5"], bpm=184, repeats=4, offbeat_guitar=True)
    out = run(audio.write_wav(tmp_path / "offbeat.wav", y), "meter", port_env)
    assert abs(out["tempo"] - 184) < 1.0
    true = np.asarray(labels["beats"])
    beats = np.asarray(out["beats"])
    on_the_beat = np.abs(beats[:, None] - true[None]).min(axis=1) < 0.07
    assert on_the_beat.mean() > 0.95
    downbeats = np.asarray(out["downbeats"])
    bars = np.asarray(labels["downbeats"])
    assert (np.abs(downbeats[:, None] - bars[None]).min(axis=1) < 0.07).mean() > 0.9


def test_a_song_on_a_pickup_starts_bar_one_on_the_first_downbeat(tmp_path: Path, port_env: dict[str, str]) -> None:
    y, labels = audio.rock(["E:5", "E:5", "D:5", "A:5"], bpm=168, repeats=4, pickup_beats=2)
    out = run(audio.write_wav(tmp_path / "pickup.wav", y), "meter", port_env)
    first = labels["first_downbeat"]
    # The bar lines fall on the song's (none before its first downbeat but the pickup's half bar).
    assert abs(out["downbeats"][0] - first) < 0.07 or abs(out["downbeats"][1] - first) < 0.07
    on_a_bar = [min(abs(d - b) for b in labels["downbeats"]) < 0.07 for d in out["downbeats"] if d > first - 0.07]
    assert np.mean(on_a_bar) > 0.9


def test_a_key_change_held_for_sixteen_bars_is_one_and_a_borrowed_chord_is_not(tmp_path: Path,
                                                                             port_env: dict[str, str]) -> None:
    home = ["C:maj", "F:maj", "G:maj", "C:maj"] * 4  # 16 bars of C major, then 16 of D major
    borrowed = ["C:maj", "F:maj", "G:maj", "C:maj", "C:maj", "A#:maj", "G:maj", "C:maj"] * 2  # a bar of bVII
    away = ["D:maj", "G:maj", "A:maj", "D:maj"] * 4
    y = np.concatenate([audio.progression(home + borrowed, bpm=140),
                        audio.progression(away, bpm=140, brightness=0.6)])
    out = run(audio.write_wav(tmp_path / "modulation.wav", y), "key,sections", port_env)
    assert (out["key"]["key"], out["key"]["mode"]) == ("C", "major")
    changes = [(k["key"], k["mode"]) for k in out["key_changes"]]
    assert changes == [("C", "major"), ("D", "major")], out["key_changes"]
    switch = out["key_changes"][1]["start"]
    assert abs(switch - 32 * 4 * 60 / 140) < 4 * 4 * 60 / 140  # within four bars of the modulation
    # The section table tells the same story as the key changes.
    for section in out["sections"]:
        held = next(k for k in out["key_changes"] if k["start"] <= section["start"] < k["end"])
        assert (section["key"], section["mode"]) == (held["key"], held["mode"])
