"""Cue points: the places a DJ jumps to and a band rehearses from. An analysis proposes them (the first
downbeat, each section's start on its bar line, drops, the outro); people rename, recolour, move, add and
delete them, and what a person changed outlives the next analysis. Rekordbox's XML and the tagged files
carry them. No Django here: the model keeps them (``models.Cue``), this module finds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

from .loops import bar_starts

# Rekordbox's hot cue colours (its eight), by name: what the page offers and the XML writes.
COLOURS = {"pink": "#de44cf", "orange": "#ff8c00", "yellow": "#e0c800", "green": "#10b176", "aqua": "#00e0ff",
           "blue": "#305aff", "purple": "#aa72ff", "red": "#e62828"}
SECTION_COLOURS = ("pink", "orange", "yellow", "aqua", "purple")  # by section letter: A pink, B orange ...
DROP_RISE = 1.5  # a drop: a section this much louder than the one before it ...
BREAKDOWN = 0.8  # ... which was quieter than this much of the song's median
NAME_LENGTH = 40


@dataclass(frozen=True)
class Found:
    name: str
    at: float  # seconds
    colour: str  # a key of COLOURS


def _loudness(shown: dict[str, Any], start: float, end: float) -> float | None:
    """The mean of the analysis's energy curve between two times, None without one."""
    energy = shown.get("energy") or {}
    curve, hz = energy.get("curve") or [], energy.get("curve_hz")
    if not curve or not hz:
        return None
    part = curve[int(start * hz): max(int(start * hz) + 1, int(end * hz))]
    return sum(part) / len(part) if part else None


def found(shown: dict[str, Any], duration: float) -> list[Found]:
    """The cues an analysis proposes, in time order, one to a place: "Start" at the first downbeat, each
    section's start moved to its nearest bar line ("B chorus"), "Drop" where a section comes in much louder
    after a quiet one (a breakdown), "Outro" where the analysis heard the last section end the song."""
    starts = bar_starts(shown, duration)
    cues = [Found("Start", round(starts[0], 3), "green")] if starts else []
    sections = shown.get("sections") or []
    song = median(c for c in (shown.get("energy") or {}).get("curve") or [0.0])
    before = None
    for n, section in enumerate(sections):
        at = min(starts, key=lambda s: abs(s - section["start"])) if starts else section["start"]
        label = section.get("label") or ""
        end = section.get("end") or (sections[n + 1]["start"] if n + 1 < len(sections) else duration)
        loud = _loudness(shown, section["start"], end)
        if before is not None and loud is not None and song > 0 and before < BREAKDOWN * song \
                and loud >= DROP_RISE * before:
            cue = Found("Drop", at, "red")
        elif section.get("name") == "outro":
            cue = Found("Outro", at, "blue")
        else:
            letter = ord(label[:1].upper()) - ord("A") if label[:1].isalpha() else 0
            name = " ".join(p for p in (label, section.get("name") or "") if p) or "Section"
            cue = Found(name[:NAME_LENGTH], at, SECTION_COLOURS[letter % len(SECTION_COLOURS)])
        before = loud
        if 0 <= at < duration and all(abs(at - c.at) > 0.05 for c in cues):
            cues.append(Found(cue.name, round(cue.at, 3), cue.colour))
        elif cue.name in ("Drop", "Outro"):  # the same place as the Start: the more telling name wins
            cues = [cue if abs(c.at - at) <= 0.05 else c for c in cues]
    return sorted(cues, key=lambda c: c.at)


def rgb(colour: str) -> tuple[int, int, int]:
    """A colour's name (or #rrggbb) as red, green and blue, 0 to 255."""
    hex_ = COLOURS.get(colour, colour).lstrip("#")
    return int(hex_[0:2], 16), int(hex_[2:4], 16), int(hex_[4:6], 16)
