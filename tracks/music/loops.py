"""Loops on the song's grid: which stretch of the song bars *a* to *b* are, and the sections as bar ranges,
from an analysis's downbeats; and what such a loop file is called. No Django, no audio: the downloads
module cuts the samples."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from statistics import median
from typing import Any


@dataclass(frozen=True)
class Loop:
    first: int  # bars, counted from 1, both included
    last: int
    start: float  # seconds
    end: float
    label: str = ""  # a section's letter (and name), when it is one


def bar_starts(shown: dict[str, Any], duration: float) -> list[float]:
    """Where each bar starts, and where the last one ends (one bar on, or the song's end): the downbeats
    plus one. Empty for a song without a bar grid."""
    downbeats = sorted(d for d in shown.get("downbeats") or [] if 0 <= d < duration)
    if not downbeats:
        return []
    bar = median(b - a for a, b in itertools.pairwise(downbeats)) if len(downbeats) > 1 else duration
    return [*downbeats, min(duration, downbeats[-1] + bar)]


def bars(shown: dict[str, Any], duration: float, first: int, last: int) -> Loop:
    """Bars ``first`` to ``last`` (from 1, both included). ValueError says what is wrong in words."""
    starts = bar_starts(shown, duration)
    count = len(starts) - 1
    if count < 1:
        raise ValueError("This song has no bar grid: analyse it first.")
    if not 1 <= first <= last <= count:
        raise ValueError(f"Bars go from 1 to {count}: pick a first bar no later than the last.")
    return Loop(first, last, starts[first - 1], starts[last])


def sections(shown: dict[str, Any], duration: float) -> list[Loop]:
    """Each section as the whole bars it holds (its start and end moved to the nearest bar line); a section
    shorter than a bar is left out."""
    starts = bar_starts(shown, duration)
    if len(starts) < 2:
        return []

    def nearest(t: float) -> int:
        return min(range(len(starts)), key=lambda i: abs(starts[i] - t))

    found = []
    for section in shown.get("sections") or []:
        a, b = nearest(section["start"]), nearest(section["end"])
        if b > a:
            label = section.get("label", "") + (f" {section['name']}" if section.get("name") else "")
            found.append(Loop(a + 1, b, starts[a], starts[b], label.strip()))
    return found


def filename(title: str, what: str, loop: Loop, tempo: float | None, key: str, number: int = 0) -> str:
    """``Title - drums - bars 5-8 - 100 BPM - A minor.wav``: what a sampler's file list should say
    (``03 B chorus bars 9-16`` for a section in a zip)."""
    where = f"bars {loop.first}-{loop.last}"
    if number:
        where = f"{number:02d} {loop.label} {where}".replace("  ", " ")
    parts = [title, what, where, f"{round(tempo)} BPM" if tempo else "", key]
    return " - ".join(p for p in parts if p) + ".wav"
