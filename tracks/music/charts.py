"""Geometry for the analysis pictures: numbers in, coordinates out, no HTML.

The templates draw the small SVG pictures from the points this module scales to a view box; the timeline
(static/js/timeline.js, a canvas that zooms) gets the song's and the stems' figures in seconds instead.
No JavaScript library, no CDN.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from ..ports.contract import PITCH_CLASSES
from . import keys

WIDTH = 1000
CURVE_HEIGHT = 80
BAR_HEIGHT = 260
LABEL_BAND = 36  # room under the bars for their labels
MAX_HEAT_COLUMNS = 200


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def timeline(data: dict[str, Any]) -> dict[str, Any] | None:
    """What the timeline draws for the song (static/js/timeline.js): its outline, beats and downbeats, bars
    numbered as the chart and the loops number them, sections and chord runs, in seconds; None without a
    waveform. Times to the millisecond, the outline in hundredths of its own peak (whole numbers)."""
    wave = data.get("waveform")
    duration = data.get("duration") or 0
    if not wave or not duration:
        return None
    runs = _runs(data)
    return {
        "duration": round(duration, 3),
        "peaks": outline(wave, peak_of(wave)),
        "beats": [round(b, 3) for b in data.get("beats") or [] if 0 <= b <= duration],
        "downbeats": [round(b, 3) for b in data.get("downbeats") or [] if 0 <= b <= duration],
        "bars": runs["bars"],
        # Each section with its colour (the same letter, the same colour), each chord with its root's pitch
        # class (its colour; -1 for no chord).
        "sections": [[*row, (ord(s["label"][0]) - ord("A")) % SECTION_TONES if s.get("label") else 0]
                     for row, s in zip(runs["sections"], data.get("sections") or [], strict=True)],
        "chords": [[*row, -1 if (root := _root_index(label)) is None else root]
                   for row, (_, _, label) in zip(runs["chords"], data.get("chords") or [], strict=True)],
    }


SECTION_TONES = 6


def _root_index(label: str) -> int | None:
    root = label.partition(":")[0]
    return PITCH_CLASSES.index(root) if root in PITCH_CLASSES else None


def progression(data: dict[str, Any], semitones: int = 0) -> list[dict[str, Any]]:
    """The chords bar by bar (a bar starts at each downbeat, the first is bar 1; a pickup, beats before the
    first downbeat, is bar 0), each bar's chords in order with repeats merged: what a lead sheet shows,
    moved by ``semitones``. The numbers are the loops' and the MIDI file's (loops.py, midi.py)."""
    chords, downbeats, beats = data.get("chords") or [], data.get("downbeats") or [], data.get("beats") or []
    if not chords or not downbeats:
        return []
    # Half a beat's grace: a first beat a hair before the first downbeat is the same beat, not a pickup.
    grace = 0.5 * (downbeats[1] - downbeats[0]) / 4 if len(downbeats) > 1 else 0.0
    pickup = any(b < downbeats[0] - grace for b in beats)
    starts = [0.0, *downbeats] if pickup else list(downbeats)
    bars = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else float("inf")
        names: list[str] = []
        for at in [b for b in beats if start <= b < end] or [start]:
            label = next((c[2] for c in chords if c[0] <= at < c[1]), None)
            text = _chord_text(keys.transpose_chord(label, semitones)) if label else ""
            if text and (not names or names[-1] != text):
                names.append(text)
        bars.append({"number": n + (0 if pickup else 1), "at": start, "chords": names})
    return bars


def section_title(section: dict[str, Any] | None) -> str:
    """How a section is headed: its name where the analysis gave one, and its letter (A, B, a prime for a
    part heard again)."""
    if not section:
        return ""
    label, name = section.get("label") or "", (section.get("name") or "").capitalize()
    return f"{name} ({label})" if name and label else name or label


def chart(data: dict[str, Any], semitones: int = 0) -> list[dict[str, Any]]:
    """The chord chart: the bars grouped by the section each starts in, every section's bars in rows of four
    (a lead sheet's layout), the chords moved by ``semitones``. Bars before the first section, or in a song
    without sections, stand under an empty heading."""
    sections = data.get("sections") or []
    groups: list[dict[str, Any]] = []
    for bar in progression(data, semitones):
        section = next((s for s in sections if s["start"] <= bar["at"] < s["end"]), None)
        if not groups or groups[-1]["section"] is not section:
            groups.append({"section": section, "title": section_title(section), "at": bar["at"], "bars": []})
        groups[-1]["bars"].append(bar)
    for group in groups:
        bars = group.pop("bars")
        group["rows"] = [bars[i:i + BARS_PER_ROW] for i in range(0, len(bars), BARS_PER_ROW)]
        group["bars"] = len(bars)
    return groups


BARS_PER_ROW = 4


def follow(data: dict[str, Any]) -> dict[str, Any] | None:
    """What the page needs to follow the playhead (static/js/follow.js): chord runs as [start, end, name],
    bars as [start, number], sections as [start, end, title]; None without chords."""
    chords = data.get("chords") or []
    if not chords:
        return None
    return _runs(data)


def _runs(data: dict[str, Any]) -> dict[str, Any]:
    """Chord runs as [start, end, name], bars as [start, number], sections as [start, end, title]."""
    return {
        "chords": [[round(a, 3), round(b, 3), "N.C." if label == "N" else _chord_text(label)]
                   for a, b, label in data.get("chords") or []],
        "bars": [[round(bar["at"], 3), bar["number"]] for bar in progression(data)],
        "sections": [[s["start"], s["end"], section_title(s)] for s in data.get("sections") or []],
    }


def _chord_text(label: str) -> str:
    """Lead-sheet spelling: C, Cm, C7, Cdim; N for no chord."""
    root, _, quality = label.partition(":")
    return root + {"maj": "", "min": "m", "7": "7", "dim": "°"}.get(quality, quality)


# Short-term loudness value i is the 3 s block from i / curve_hz seconds: it is drawn, and counted for a
# section, at the block's middle.
SHORT_TERM_MIDDLE_S = 1.5


def loudness(data: dict[str, Any]) -> dict[str, Any] | None:
    """The short-term loudness curve (LUFS) on a fixed scale from -60 to 0, so songs compare at a glance."""
    block = data.get("loudness") or {}
    curve = block.get("short_term") or []
    if len(curve) < 2:
        return None
    floor = -60.0

    def y(v: float | None) -> str:
        level = floor if v is None else min(0.0, max(floor, v))
        return _fmt(CURVE_HEIGHT - (level - floor) / -floor * (CURVE_HEIGHT - 4))

    # Each point sits at the middle of its 3 s block.
    duration = data.get("duration") or len(curve)
    step = 1.0 / (block.get("curve_hz") or 1.0)
    pts = [f"{_fmt(min(duration, SHORT_TERM_MIDDLE_S + i * step) / duration * WIDTH)},{y(v)}"
           for i, v in enumerate(curve)]
    integrated = block.get("integrated_lufs")
    return {"points": " ".join(pts), "height": CURVE_HEIGHT,
            "integrated_y": y(integrated) if integrated is not None else None}


def peak_of(peaks: dict[str, Any]) -> float:
    return max([1e-6, *peaks.get("max", []), *(-v for v in peaks.get("min", []))])


def outline(peaks: dict[str, Any], peak: float) -> list[list[int]]:
    """A waveform's per-slice max and min (the ports' ``waveform_peaks``) in hundredths of ``peak``."""
    return [[round(v / peak * 100) for v in peaks.get(side, [])] for side in ("max", "min")]


def note_name(pitch: int) -> str:
    """A MIDI pitch by name and octave: 40 is E2, 60 C4."""
    return f"{PITCH_CLASSES[pitch % 12]}{pitch // 12 - 1}"


def lanes(stems: list[Any]) -> list[dict[str, Any]]:
    """A timeline lane per stem (static/js/timeline.js): its outline on the stems' common scale, so a quiet
    stem looks quiet next to a loud one, and its notes as [start, end, pitch, velocity] once transcribed."""
    peak = max([peak_of(s.peaks) for s in stems] or [1.0])
    return [{"name": s.name, "peaks": outline(s.peaks, peak),
             "notes": [[round(a, 3), round(b, 3), int(p), int(v)] for a, b, p, v in s.notes or []]} for s in stems]


def note_range(notes: list[list[float]]) -> dict[str, Any] | None:
    """A stem's notes in words: how many, from the lowest to the highest; None without notes."""
    if not notes:
        return None
    pitches = [int(n[2]) for n in notes]
    return {"count": len(notes), "low": note_name(min(pitches)), "high": note_name(max(pitches))}


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
    return {"bars": bars, "layers": heat_layers(columns), "height": BAR_HEIGHT}


HEAT_LEVELS = 10


def heat_layers(columns: list[list[float]]) -> list[dict[str, Any]]:
    """A heatmap (values 0..1, a column per time step, each cell 10 units tall, the first row at the bottom) as
    one SVG path per shade (HEAT_LEVELS of them), the neighbouring cells of a row in one shade drawn as one
    rectangle: a small part of the bytes of a rect per cell (the chromagram's were most of the track page,
    and of what a finished analysis pushes to everyone on it)."""
    cell_w = WIDTH / max(1, len(columns))
    rows = len(columns[0]) if columns else 0
    paths: dict[int, list[str]] = {}
    for p in range(rows):
        shades = [min(HEAT_LEVELS, round(column[p] * HEAT_LEVELS)) if column[p] > 0.05 else 0 for column in columns]
        start = 0
        for shade, run in itertools.groupby(shades):
            n = len(list(run))
            if shade:
                w = _fmt(n * cell_w + 0.5)  # a little over, so no seam shows between runs
                paths.setdefault(shade, []).append(f"M{_fmt(start * cell_w)} {(rows - 1 - p) * 10}h{w}v10h-{w}z")
            start += n
    return [{"o": shade / HEAT_LEVELS, "d": "".join(d)} for shade, d in sorted(paths.items())]


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


def by_section(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The song section by section as a table, the text beside the pictures: each section's span, name and
    key, its mean short-term loudness (LUFS, from the loudness curve) and its energy (RMS in dB below the
    song's loudest half second, from the energy curve); None where the analysis has no such curve."""
    sections = data.get("sections") or []
    loud = data.get("loudness") or {}
    short_term, loud_hz = loud.get("short_term") or [], loud.get("curve_hz") or 1.0
    energy_block = data.get("energy") or {}
    energy_curve, energy_hz = energy_block.get("curve") or [], energy_block.get("curve_hz") or 2.0
    peak = max(energy_curve, default=0.0)

    def mean_over(curve: list[float | None], hz: float, centre: float, start: float, end: float) -> float | None:
        """The mean of the values whose points (point i at ``centre + i / hz`` s) fall in [start, end)."""
        lo, hi = (max(0, math.ceil((t - centre) * hz)) for t in (start, end))
        values = [v for v in curve[lo:hi] if v is not None]
        return sum(values) / len(values) if values else None

    rows = []
    for section in sections:
        start, end = section["start"], section["end"]
        lufs = mean_over(short_term, loud_hz, SHORT_TERM_MIDDLE_S, start, end)
        rms = mean_over(energy_curve, energy_hz, 0.5 / energy_hz, start, end)
        rows.append({
            "label": section.get("label", ""), "name": section.get("name") or "", "start": start, "end": end,
            "key": f"{section['key']} {section['mode']}" if section.get("key") else "",
            "lufs": round(lufs, 1) if lufs is not None else None,
            "energy_db": round(20 * math.log10(rms / peak), 1) if rms and peak else None,
        })
    return rows


def described(values: list[tuple[str, float]]) -> str:
    """A short text of a small chart's data for its label: the values, strongest first."""
    ranked = sorted(values, key=lambda pair: -abs(pair[1]))
    return ", ".join(f"{name} {value:.2f}" for name, value in ranked)


def for_analysis(data: dict[str, Any]) -> dict[str, Any]:
    chroma_block, mfcc_block = data.get("chroma") or {}, data.get("mfcc") or {}
    return {
        "sections": by_section(data),
        "chroma_text": described(list(zip(chroma_block.get("pitch_classes", []), chroma_block.get("mean", []),
                                          strict=False))),
        "mfcc_text": described([(str(i + 1), v) for i, v in enumerate((mfcc_block.get("mean") or [])[1:])]),
        "width": WIDTH,
        "timeline": timeline(data),
        "energy": energy(data),
        "loudness": loudness(data),
        "progression": progression(data),
        "chroma": chroma(data),
        "mfcc": mfcc(data),
    }
