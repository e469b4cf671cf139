"""Geometry for the analysis pictures (server-side SVG): numbers in, coordinates out, no HTML.

The templates draw the SVG elements; this module only turns the analyzer's JSON into points scaled to a
view box, so the pictures need no JavaScript library and no CDN.
"""

from __future__ import annotations

from typing import Any

WIDTH = 1000
WAVE_HEIGHT = 120
STEM_HEIGHT = 48
CURVE_HEIGHT = 80
BAR_HEIGHT = 260
LABEL_BAND = 36  # room under the bars for their labels
MAX_HEAT_COLUMNS = 200


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def waveform(data: dict[str, Any]) -> dict[str, Any] | None:
    wave = data.get("waveform")
    duration = data.get("duration") or 0
    if not wave or not duration:
        return None
    beats = [round(b / duration * WIDTH, 1) for b in data.get("beats") or [] if 0 <= b <= duration]
    return {"points": peaks_polygon(wave, WAVE_HEIGHT), "beats": beats, "height": WAVE_HEIGHT}


def peak_of(peaks: dict[str, Any]) -> float:
    return max([1e-6, *peaks.get("max", []), *(-v for v in peaks.get("min", []))])


def peaks_polygon(peaks: dict[str, Any], height: float, peak: float | None = None) -> str:
    """The outline of a waveform from its per-slice min and max (the ports' ``waveform_peaks``), scaled
    so that ``peak`` (by default its own) reaches the top."""
    lo, hi = peaks.get("min", []), peaks.get("max", [])
    if not hi:
        return ""
    peak = peak or peak_of(peaks)
    mid = height / 2
    xs = [i * WIDTH / max(1, len(hi) - 1) for i in range(len(hi))]
    top = [f"{_fmt(x)},{_fmt(mid - h / peak * mid)}" for x, h in zip(xs, hi, strict=True)]
    bottom = [f"{_fmt(x)},{_fmt(mid - v / peak * mid)}" for x, v in zip(reversed(xs), reversed(lo), strict=True)]
    return " ".join(top + bottom)


def stem_waves(stems: list[Any]) -> dict[str, str]:
    """Each stem's outline on one common scale, so a quiet stem looks quiet next to a loud one."""
    peak = max([peak_of(s.peaks) for s in stems] or [1.0])
    return {s.name: peaks_polygon(s.peaks, STEM_HEIGHT, peak) for s in stems}


def energy(data: dict[str, Any]) -> dict[str, Any] | None:
    curve = (data.get("energy") or {}).get("curve") or []
    if len(curve) < 2:
        return None
    peak = max(1e-9, max(curve))
    pts = [
        f"{_fmt(i * WIDTH / (len(curve) - 1))},{_fmt(CURVE_HEIGHT - v / peak * (CURVE_HEIGHT - 4))}"
        for i, v in enumerate(curve)
    ]
    return {"points": " ".join([f"0,{CURVE_HEIGHT}", *pts, f"{WIDTH},{CURVE_HEIGHT}"]), "height": CURVE_HEIGHT}


def chroma(data: dict[str, Any]) -> dict[str, Any] | None:
    block = data.get("chroma")
    if not block:
        return None
    mean = block["mean"]
    peak = max(1e-9, max(mean))
    key = (data.get("key") or {}).get("key")
    bar_w = WIDTH / 12
    base = BAR_HEIGHT - LABEL_BAND
    tallest = base - 4
    bars = [
        {"x": _fmt(i * bar_w + 4), "w": _fmt(bar_w - 8), "h": _fmt(v / peak * tallest),
         "y": _fmt(base - v / peak * tallest), "label": pc, "lx": _fmt(i * bar_w + bar_w / 2), "tonic": pc == key}
        # The analyzer names its pitch classes alongside the values.
        for i, (pc, v) in enumerate(zip(block["pitch_classes"], mean, strict=True))
    ]
    curve = block.get("curve") or []
    step = max(1, -(-len(curve) // MAX_HEAT_COLUMNS))
    columns = [curve[i] for i in range(0, len(curve), step)]
    cell_w = WIDTH / max(1, len(columns))
    cells = [
        {"x": _fmt(c * cell_w), "y": (11 - p) * 10, "w": _fmt(cell_w + 0.5), "o": round(min(1.0, v), 2)}
        for c, column in enumerate(columns)
        for p, v in enumerate(column)
        if v > 0.05
    ]
    return {"bars": bars, "cells": cells, "height": BAR_HEIGHT}


def mfcc(data: dict[str, Any]) -> dict[str, Any] | None:
    block = data.get("mfcc")
    if not block:
        return None
    # Coefficient 0 is loudness and dwarfs the rest; the timbre shape is in 1..12.
    coeffs = block["mean"][1:]
    peak = max(1e-9, max(abs(v) for v in coeffs))
    mid = (BAR_HEIGHT - LABEL_BAND) / 2
    bar_w = WIDTH / len(coeffs)
    bars = []
    for i, v in enumerate(coeffs):
        h = abs(v) / peak * (mid - 4)
        bars.append({"x": _fmt(i * bar_w + 6), "w": _fmt(bar_w - 12), "y": _fmt(mid - h if v >= 0 else mid),
                     "h": _fmt(h), "neg": v < 0, "label": i + 1, "lx": _fmt(i * bar_w + bar_w / 2)})
    return {"bars": bars, "mid": mid, "height": BAR_HEIGHT}


def for_analysis(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "width": WIDTH,
        "waveform": waveform(data),
        "energy": energy(data),
        "chroma": chroma(data),
        "mfcc": mfcc(data),
    }
