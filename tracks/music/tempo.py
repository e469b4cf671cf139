"""A person's tempo correction: the beat grid re-derived from the tracked beats at another metrical level.

A tracker can hear the right pulse at the wrong level: half or double the tempo people tap, or two thirds
of it when it locks on a 3:2 pulse. The track page offers x2, /2, x3/2 and x2/3; the track keeps the tempo
the person chose (``Track.tempo_target``) and each analysis the ratio that brings its own tracked tempo
there (``AnalysisResult.tempo_factor``), so a re-analysis keeps the correction even when its tracker finds
another level. Pure functions on the port's output; no Django.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

# The buttons, by what they post.
STEPS = {"2": Fraction(2), "1/2": Fraction(1, 2), "3/2": Fraction(3, 2), "2/3": Fraction(2, 3)}
# Ratios one or two presses reach that still make sense as a metrical level of the same beats.
FACTORS = sorted({Fraction(1), *STEPS.values(), *(a * b for a in STEPS.values() for b in STEPS.values())}
                 - {Fraction(9, 4), Fraction(4, 9)})
# A corrected tempo outside this range is no tempo a person taps.
MIN_BPM, MAX_BPM = 40.0, 250.0


def parse(factor: str) -> Fraction:
    return Fraction(factor) if factor else Fraction(1)


def label(factor: Fraction) -> str:
    """How the page names a factor: a times sign and 3/2, or a division sign and 2."""
    if factor.numerator == 1 and factor.denominator > 1:
        return f"\N{DIVISION SIGN}{factor.denominator}"
    return f"\N{MULTIPLICATION SIGN}{factor}"


def can_step(tempo: float | None, factor: Fraction, step: Fraction) -> bool:
    """Whether a button may be pressed: its result is one of FACTORS and a tempo people tap."""
    new = factor * step
    return tempo is not None and new in FACTORS and MIN_BPM <= tempo * new <= MAX_BPM


def factor_for(tempo: float | None, target: float | None) -> Fraction:
    """The factor that brings a tracked ``tempo`` nearest the ``target`` a person chose (1 when there is
    no target or no tempo)."""
    if not tempo or not target:
        return Fraction(1)
    return min(FACTORS, key=lambda f: (abs(np.log(tempo * f / target)), abs(np.log(float(f)))))


def regrid(beats: list[float], downbeats: list[float], meter: int, factor: Fraction) -> tuple[list[float], list[float]]:
    """The beats at ``factor`` times the tempo, placed between (or on) the tracked beats, and a downbeat
    every ``meter`` of them from the first tracked downbeat (the bar's phase stays where it was heard).

    The new beats sit at fractional indices of the tracked ones, ``k / factor`` from the first downbeat's
    index, each linearly between the two tracked beats around it: a tempo that drifts keeps drifting."""
    if factor == 1 or len(beats) < 2:
        return list(beats), list(downbeats)
    times = np.asarray(beats, dtype=float)
    first_down = downbeats[0] if downbeats else times[0]
    anchor = int(np.argmin(np.abs(times - first_down)))
    step = 1 / factor  # in tracked beats
    # Back from the anchor to the first tracked beat, and on to the last, exactly (Fractions, no drift).
    back = int(anchor / step)
    indices = [anchor - k * step for k in range(back, 0, -1)]
    k = 0
    while anchor + k * step <= len(times) - 1:
        indices.append(anchor + k * step)
        k += 1
    positions = np.interp([float(i) for i in indices], np.arange(len(times)), times)
    new_beats = [round(float(t), 3) for t in positions]
    new_downbeats = new_beats[back::meter]
    return new_beats, new_downbeats


def corrected(data: dict[str, Any], factor: Fraction) -> dict[str, Any]:
    """The port's output as the page and the exports show it: with ``factor`` other than 1, the tempo,
    beats and downbeats at the corrected level, and what the tracker found under ``tempo_correction``."""
    if factor == 1 or not data.get("tempo"):
        return data
    meter = (data.get("meter") or {}).get("beats_per_bar") or 4
    beats, downbeats = regrid(data.get("beats") or [], data.get("downbeats") or [], meter, factor)
    return {
        **data,
        "tempo": round(data["tempo"] * factor, 2),
        "beats": beats,
        "downbeats": downbeats if "downbeats" in data else data.get("downbeats"),
        "tempo_correction": {"factor": str(factor), "tracked_tempo": data["tempo"],
                             "tracked_beats": len(data.get("beats") or [])},
    }
