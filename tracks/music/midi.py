"""A stem's notes as a Standard MIDI File on the song's own grid: every beat the analysis found falls on a
MIDI beat, through a tempo change at each, so a DAW's bars and grid follow the recording as played (a band
that drifts from 98 to 102 BPM stays on the grid); optionally each note moved to the nearest sixteenth.

The notes are the transcription port's ([start s, end s, pitch, velocity]); the grid is the track's latest
analysis, read when the file is asked for, so a corrected tempo needs no new transcription. No Django: mido
(MIT, pretty_midi's own) writes the file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import mido
import numpy as np

PPQ = 480  # ticks per beat
DEFAULT_BEAT_S = 0.5  # 120 BPM, for a song without beats
# General MIDI programs (0-based): fingered bass, voice oohs, steel-string guitar, grand piano.
PROGRAMS = {"bass": 33, "vocals": 53, "guitar": 25, "piano": 0, "other": 0}


def beat_grid(beats: Sequence[float], downbeats: Sequence[float], beats_per_bar: int,
              until: float) -> tuple[list[float], int]:
    """The times of MIDI beats 0, 1, 2 ... up to ``until``, and how many beats the pickup bar before the
    first downbeat has (0 when the first downbeat starts a whole bar).

    Time 0 is MIDI beat 0: the song's beats, led in by as many beats of the first beat's length as fit
    before the first one (the nearest whole number: the first of them starts at 0), and carried on past the
    last one at its length."""
    beats = sorted(b for b in beats if b >= 0)
    if len(beats) < 2:
        beats = [0.0, DEFAULT_BEAT_S]
    first, last = beats[1] - beats[0], beats[-1] - beats[-2]
    lead = round(beats[0] / first)
    grid = [beats[0] - k * first for k in range(lead, 0, -1)] + beats
    grid[0] = 0.0  # within half a beat of it
    while grid[-1] < until:
        grid.append(grid[-1] + last)
    before = 0
    if downbeats:
        before = int(np.argmin(np.abs(np.asarray(grid) - min(downbeats))))
    return grid, before % beats_per_bar


def midi_file(notes: Sequence[Sequence[float]], shown: dict[str, Any] | None, duration: float, *,
              name: str = "", program: int = 0, quantise: int = 0) -> bytes:
    """The notes as a type-1 MIDI file: a conductor track (a tempo at every beat, the meter, a pickup bar
    when the song starts on an upbeat) and the notes' track. ``quantise``: 0 leaves each note where it was
    played; 4 moves its start and end to the nearest sixteenth (the note keeps at least one)."""
    shown = shown or {}
    per_bar = int((shown.get("meter") or {}).get("beats_per_bar") or 4)
    until = max([duration, *(n[1] for n in notes)])
    grid, pickup = beat_grid(shown.get("beats") or [], shown.get("downbeats") or [], per_bar, until)
    times = np.asarray(grid)
    ticks_at = np.arange(len(grid)) * PPQ

    def tick(t: float) -> int:
        return round(float(np.interp(t, times, ticks_at)))

    conductor: list[tuple[int, mido.MetaMessage]] = []
    for k in range(len(grid) - 1):
        conductor.append((k * PPQ, mido.MetaMessage("set_tempo", tempo=max(1, round((grid[k + 1] - grid[k]) * 1e6)))))
    if pickup:
        conductor.append((0, mido.MetaMessage("time_signature", numerator=pickup, denominator=4)))
    conductor.append((pickup * PPQ, mido.MetaMessage("time_signature", numerator=per_bar, denominator=4)))

    step = PPQ // quantise if quantise else 0
    events: list[tuple[int, Any]] = [(0, mido.MetaMessage("track_name", name=name)),
                                     (0, mido.Message("program_change", program=program))]
    for start, end, pitch, velocity in notes:
        on, off = tick(start), tick(end)
        if step:
            on = round(on / step) * step
            off = max(on + step, round(off / step) * step)
        off = max(off, on + 1)
        events.append((on, mido.Message("note_on", note=int(pitch), velocity=int(velocity))))
        events.append((off, mido.Message("note_off", note=int(pitch), velocity=0)))

    song = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    for absolute in (conductor, events):
        # note_off before note_on at one tick: a repeated note ends before it starts again.
        absolute.sort(key=lambda e: (e[0], e[1].type == "note_on"))
        track = mido.MidiTrack()
        now = 0
        for at, message in absolute:
            track.append(message.copy(time=at - now))
            now = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        song.tracks.append(track)
    out = io.BytesIO()
    song.save(file=out)
    return out.getvalue()
