"""Rekordbox's collection XML ("File > Import > rekordbox xml"): each track with its tempo, its beat grid
anchored on the first downbeat, its key, and a cue at the first downbeat and at every section (hot cues A
to H for the first eight, memory cues for all), so a DJ's deck knows the song as SoundForge does.

Standard library only. Rekordbox finds a track by its ``Location``: the file's name under a ``SoundForge``
folder, which "Relocate" points at wherever the downloaded originals are.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .loops import bar_starts
from .models import AnalysisResult, Track, safe_filename
from .tagging import tonality

KINDS = {"wav": "WAV File", "mp3": "MP3 File", "flac": "FLAC File", "aiff": "AIFF File", "m4a": "M4A File",
         "ogg": "OGG File"}
HOT_CUES = 8
# Rekordbox's hot cue colours, by section letter's order: pink, orange, yellow, green, aqua, blue, purple, red.
COLOURS = ((0xDE, 0x44, 0xCF), (0xFF, 0x8C, 0x00), (0xE0, 0xC8, 0x00), (0x10, 0xB1, 0x76), (0x00, 0xE0, 0xFF),
           (0x30, 0x5A, 0xFF), (0xAA, 0x72, 0xFF), (0xE6, 0x28, 0x28))


def cues(shown: dict[str, Any], duration: float) -> list[tuple[str, float]]:
    """(name, seconds): the first downbeat, then each section's start moved to its nearest bar line (one cue
    to a place)."""
    starts = bar_starts(shown, duration)
    found: list[tuple[str, float]] = [("Start", starts[0])] if starts else []
    for section in shown.get("sections") or []:
        at = min(starts, key=lambda s: abs(s - section["start"])) if starts else section["start"]
        name = " ".join(p for p in (section.get("label", ""), section.get("name", "")) if p) or "Section"
        if at < duration and all(abs(at - t) > 0.05 for _, t in found):
            found.append((name, at))
    return found


def track_element(number: int, track: Track, analysis: AnalysisResult | None, camelot: str) -> ET.Element:
    shown = analysis.shown if analysis else {}
    filename = safe_filename(f"{track.title}{Path(track.file).suffix}")
    key = analysis.key_label if analysis else ""
    comments = " · ".join(p for p in (key and f"{key} ({camelot})", "analysed by SoundForge" if analysis else "") if p)
    element = ET.Element("TRACK", {
        "TrackID": str(number), "Name": track.title, "Artist": "", "Kind": KINDS.get(track.format, "WAV File"),
        "Size": str(track.size), "TotalTime": str(round(track.duration)), "SampleRate": str(track.sample_rate),
        "AverageBpm": f"{analysis.tempo:.2f}" if analysis and analysis.tempo else "0.00",
        "Tonality": tonality(key), "Comments": comments,
        "Location": "file://localhost/SoundForge/" + quote(filename),
    })
    starts = bar_starts(shown, track.duration)
    if analysis and analysis.tempo and starts:
        meter = shown.get("meter") or {}
        beats = meter.get("beats_per_bar") if isinstance(meter, dict) else None
        ET.SubElement(element, "TEMPO", {"Inizio": f"{starts[0]:.3f}", "Bpm": f"{analysis.tempo:.2f}",
                                         "Metro": f"{beats or 4}/4", "Battito": "1"})
    for n, (name, at) in enumerate(cues(shown, track.duration)):
        if n < HOT_CUES:
            red, green, blue = COLOURS[n]
            ET.SubElement(element, "POSITION_MARK", {"Name": name, "Type": "0", "Start": f"{at:.3f}", "Num": str(n),
                                                     "Red": str(red), "Green": str(green), "Blue": str(blue)})
        ET.SubElement(element, "POSITION_MARK", {"Name": name, "Type": "0", "Start": f"{at:.3f}", "Num": "-1"})
    return element


def collection(entries: Iterable[tuple[Track, AnalysisResult | None, str]]) -> bytes:
    """The XML for (track, its latest analysis, its Camelot key) entries, in one playlist "SoundForge"."""
    root = ET.Element("DJ_PLAYLISTS", {"Version": "1.0.0"})
    ET.SubElement(root, "PRODUCT", {"Name": "SoundForge", "Version": version("soundforge"), "Company": "SoundForge"})
    tracks = [track_element(n, *entry) for n, entry in enumerate(entries, 1)]
    listed = ET.SubElement(root, "COLLECTION", {"Entries": str(len(tracks))})
    listed.extend(tracks)
    playlists = ET.SubElement(ET.SubElement(root, "PLAYLISTS"), "NODE", {"Type": "0", "Name": "ROOT", "Count": "1"})
    playlist = ET.SubElement(playlists, "NODE", {"Name": "SoundForge", "Type": "1", "KeyType": "0",
                                                 "Entries": str(len(tracks))})
    for element in tracks:
        ET.SubElement(playlist, "TRACK", {"Key": element.get("TrackID")})
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
