"""Rekordbox's collection XML ("File > Import > rekordbox xml"): each track with its tempo, its beat grid
anchored on the first downbeat, its key, and its cue points (tracks/music/cues.py: hot cues A to H in their colours
for the first eight, memory cues for all), so a DJ's deck knows the song as SoundForge does.

Standard library only. Rekordbox finds a track by its ``Location``: the file's name under a ``SoundForge``
folder, which "Relocate" points at wherever the downloaded originals are.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from importlib.metadata import version
from urllib.parse import quote

from ..models import AnalysisResult, Track
from ..music.cues import Found, rgb
from ..music.loops import bar_starts
from ..music.tagging import tonality

KINDS = {"wav": "WAV File", "mp3": "MP3 File", "flac": "FLAC File", "aiff": "AIFF File", "m4a": "M4A File",
         "ogg": "OGG File"}
HOT_CUES = 8


def track_element(number: int, track: Track, analysis: AnalysisResult | None, camelot: str,
                  cue_points: list[Found]) -> ET.Element:
    shown = analysis.shown if analysis else {}
    filename = track.download_name
    key = analysis.key_label if analysis else ""
    comments = " · ".join(p for p in (key and f"{key} ({camelot})", "analysed by SoundForge" if analysis else "") if p)
    element = ET.Element("TRACK", {
        "TrackID": str(number), "Name": track.title, "Artist": track.artist, "Album": track.album,
        "Genre": track.genre, "Year": str(track.year or ""), "Kind": KINDS.get(track.format, "WAV File"),
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
    for n, cue in enumerate(cue_points):
        if n < HOT_CUES:
            red, green, blue = rgb(cue.colour)
            ET.SubElement(element, "POSITION_MARK", {"Name": cue.name, "Type": "0", "Start": f"{cue.at:.3f}",
                                                     "Num": str(n), "Red": str(red), "Green": str(green),
                                                     "Blue": str(blue)})
        ET.SubElement(element, "POSITION_MARK", {"Name": cue.name, "Type": "0", "Start": f"{cue.at:.3f}", "Num": "-1"})
    return element


def collection(entries: Iterable[tuple[Track, AnalysisResult | None, str, list[Found]]],
               playlist_name: str = "SoundForge") -> bytes:
    """The XML for (track, its latest analysis, its Camelot key, its cues) entries, in one playlist of that
    name, in their order."""
    root = ET.Element("DJ_PLAYLISTS", {"Version": "1.0.0"})
    ET.SubElement(root, "PRODUCT", {"Name": "SoundForge", "Version": version("soundforge"), "Company": "SoundForge"})
    tracks = [track_element(n, *entry) for n, entry in enumerate(entries, 1)]
    listed = ET.SubElement(root, "COLLECTION", {"Entries": str(len(tracks))})
    listed.extend(tracks)
    playlists = ET.SubElement(ET.SubElement(root, "PLAYLISTS"), "NODE", {"Type": "0", "Name": "ROOT", "Count": "1"})
    playlist = ET.SubElement(playlists, "NODE", {"Name": playlist_name, "Type": "1", "KeyType": "0",
                                                 "Entries": str(len(tracks))})
    for element in tracks:
        ET.SubElement(playlist, "TRACK", {"Key": element.get("TrackID")})
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)
