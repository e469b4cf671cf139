"""A person's practice settings for a track, as the mixer keeps them (static/js/mixer/practice.js): speed,
transpose, the loop, each stem's level, pan, mute and solo, the click and the count-in. ``clean`` takes what a
browser sent and keeps only what the mixer can use, in its ranges; anything else is refused in words."""

from __future__ import annotations

import math
from typing import Any

from .keys import transpose_key
from .labels import clock

RATE = (0.5, 1.5)
SEMITONES = (-12, 12)
GAIN = (0.0, 2.0)
PAN = (-1.0, 1.0)
MOST_STEMS = 12
LOOP_MIN_S = 0.25


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name}: a number.")
    if not low <= value <= high:
        raise ValueError(f"{name}: from {low:g} to {high:g}.")
    return float(value)


def clean(data: Any, duration: float, stems: set[str]) -> dict[str, Any]:
    """The settings to keep, from what was sent (a JSON object); ValueError in words when something is wrong.
    ``stems``: the names a mixer of this track may have (its stems and "click")."""
    if not isinstance(data, dict):
        raise ValueError("The settings are a JSON object.")
    kept: dict[str, Any] = {
        "rate": round(_number(data.get("rate", 1), "rate", *RATE), 3),
        "semitones": int(_number(data.get("semitones", 0), "semitones", *SEMITONES)),
        "count_in": bool(data.get("count_in", False)),
    }
    loop = data.get("loop")
    if loop is not None:
        if not isinstance(loop, list) or len(loop) != 2:
            raise ValueError("loop: [start, end] in seconds, or null.")
        start, end = (_number(t, "loop", 0, duration) for t in loop)
        if end - start < LOOP_MIN_S:
            raise ValueError(f"loop: at least {LOOP_MIN_S:g} s long.")
        loop = [round(start, 3), round(end, 3)]
    kept["loop"] = loop
    levels = data.get("stems", {})
    if not isinstance(levels, dict) or len(levels) > MOST_STEMS:
        raise ValueError("stems: an object of the stems' levels.")
    kept["stems"] = {}
    for name, level in levels.items():
        if name not in stems:
            continue  # a stem of an older separation: nothing to set
        if not isinstance(level, dict):
            raise ValueError(f"stems.{name}: an object.")
        kept["stems"][name] = {"gain": round(_number(level.get("gain", 1), f"stems.{name}.gain", *GAIN), 3),
                               "pan": round(_number(level.get("pan", 0), f"stems.{name}.pan", *PAN), 3),
                               "mute": bool(level.get("mute", False)), "solo": bool(level.get("solo", False))}
    return kept


def neutral(kept: dict[str, Any]) -> bool:
    """Whether the settings are the song as it is: full speed, no transpose, loop or count-in, every stem as
    the mixer starts it."""
    plain = {"gain": 1.0, "pan": 0.0, "mute": False, "solo": False}
    return (kept.get("rate", 1) == 1 and not kept.get("semitones") and not kept.get("loop")
            and not kept.get("count_in") and all(level == plain for level in kept.get("stems", {}).values()))


def summary(kept: dict[str, Any], tempo: float | None, key_label: str | None) -> str:
    """What settings change, in a musician's words: "at 90 % (108.0 BPM) · 2 semitones down (G minor) ·
    looping 0:32 to 0:48 · count-in"; empty when they change nothing (as the song is)."""
    said = []
    rate, semitones, loop = kept.get("rate", 1), kept.get("semitones", 0), kept.get("loop")
    if rate != 1:
        said.append(f"at {round(rate * 100)} %" + (f" ({tempo * rate:.1f} BPM)" if tempo else ""))
    if semitones:
        moved = transpose_key(key_label, semitones)
        said.append(f"{abs(semitones)} semitone{'s' if abs(semitones) != 1 else ''} "
                    f"{'up' if semitones > 0 else 'down'}" + (f" ({moved})" if moved else ""))
    if loop:
        said.append(f"looping {clock(loop[0])} to {clock(loop[1])}")
    if kept.get("count_in"):
        said.append("count-in")
    return " · ".join(said)
