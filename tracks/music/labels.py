"""How times and renders read in the pages, the files' names and the activity: ``clock`` (3:07) for
positions, ``duration_s`` (about 2 min) for estimates, ``render_label`` for what a rendered mix is,
``percent_off`` for how far one tempo is from another."""

from __future__ import annotations

from typing import Any


def clock(seconds: float | None) -> str:
    total = max(0, round(seconds or 0))
    return f"{total // 60}:{total % 60:02d}"


def duration_s(seconds: float | None) -> str:
    total = max(0, round(seconds or 0))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def render_label(options: dict[str, Any]) -> str:
    """What a rendered mix is: "80 %, -2 semitones, 0:12-0:24" (a true minus and dash), "as recorded" when
    nothing changed."""
    parts = []
    if options.get("rate", 1) != 1:
        parts.append(f"{round(options['rate'] * 100)} %")
    if options.get("semitones"):
        parts.append(f"{options['semitones']:+d} semitones".replace("-", "\u2212"))
    if options.get("start") or options.get("end") is not None:
        end = clock(options["end"]) if options.get("end") is not None else "end"
        parts.append(f"{clock(options.get('start'))}\u2013{end}")
    return ", ".join(parts) or "as recorded"


def percent_off(fraction: float) -> str:
    """0.012 -> "1.2 % off"; "same tempo" under 0.05 %."""
    return "same tempo" if abs(fraction) < 0.0005 else f"{abs(fraction) * 100:.1f} % off"
