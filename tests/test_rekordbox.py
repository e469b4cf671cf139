"""Rekordbox's collection XML (tracks/files/rekordbox.py): what a DJ imports is read back here as Rekordbox reads
it: tempo, a beat grid on the first downbeat, the key, the track's cue points as hot cues in their colours and
as memory cues."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.helpers import track_row
from tracks.models import AnalysisResult, Cue, Share
from tracks.music import cues, tagging

SHOWN = {"tempo": 124.0, "downbeats": [0.4, 2.3, 4.2, 6.1, 8.0], "meter": {"beats_per_bar": 4},
         "sections": [{"start": 0.0, "end": 4.1, "label": "A", "name": "intro"},
                      {"start": 4.3, "end": 8.1, "label": "B"}, {"start": 8.1, "end": 10.0, "label": "A"}]}


def test_keys_are_written_as_rekordbox_writes_them() -> None:
    assert [tagging.tonality(k) for k in ("A minor", "F# major", "")] == ["Am", "F#", ""]


def read(response) -> ET.Element:
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    return ET.fromstring(response.content)  # noqa: S314 (our own output)


@pytest.mark.django_db
def test_a_track_exports_with_its_tempo_grid_key_and_cues(alice, alice_client: Client) -> None:
    track = track_row(alice, title="Night Drive", duration=10.0, format="wav", size=1234, sample_rate=44100)
    AnalysisResult.objects.create(track=track, analyzer_version="3", data=SHOWN, tempo=124.0, key_label="A minor")
    Cue.propose(track, cues.found(SHOWN, 10.0))
    Cue.objects.filter(track=track, name="B").update(name="Chorus", colour="aqua")  # as a person left it
    response = alice_client.get(f"/tracks/{track.uuid}/analysis.xml")
    assert 'filename="Night Drive - rekordbox.xml"' in response["Content-Disposition"]
    root = read(response)
    assert root.tag == "DJ_PLAYLISTS" and root.find("PRODUCT").get("Name") == "SoundForge"
    assert root.find("COLLECTION").get("Entries") == "1"
    entry = root.find("COLLECTION/TRACK")
    assert {k: entry.get(k) for k in ("Name", "Kind", "Size", "TotalTime", "SampleRate", "AverageBpm", "Tonality")} == {
        "Name": "Night Drive", "Kind": "WAV File", "Size": "1234", "TotalTime": "10", "SampleRate": "44100",
        "AverageBpm": "124.00", "Tonality": "Am"}
    assert "8A" in entry.get("Comments") and entry.get("Location") == "file://localhost/SoundForge/Night%20Drive.wav"
    tempo = entry.find("TEMPO")
    assert dict(tempo.attrib) == {"Inizio": "0.400", "Bpm": "124.00", "Metro": "4/4", "Battito": "1"}
    marks = [(m.get("Name"), float(m.get("Start")), int(m.get("Num"))) for m in entry.findall("POSITION_MARK")]
    hot = [m for m in marks if m[2] >= 0]
    assert hot == [("Start", 0.4, 0), ("Chorus", 4.2, 1), ("A", 8.0, 2)]
    colours = [(m.get("Red"), m.get("Green"), m.get("Blue")) for m in entry.findall("POSITION_MARK")][:6:2]
    assert colours == [("16", "177", "118"), ("0", "224", "255"), ("222", "68", "207")]  # green, aqua, pink
    assert [m for m in marks if m[2] == -1] == [(name, at, -1) for name, at, _ in hot]  # memory cues too
    assert all(m.get("Type") == "0" and m.get("Red") for m in entry.findall("POSITION_MARK") if m.get("Num") != "-1")
    playlist = root.find("PLAYLISTS/NODE/NODE")
    assert playlist.get("Name") == "SoundForge" and [t.get("Key") for t in playlist] == [entry.get("TrackID")]


@pytest.mark.django_db
def test_a_track_not_analysed_exports_without_a_grid_or_cues(alice, alice_client: Client) -> None:
    track = track_row(alice, title="Raw")
    AnalysisResult.objects.create(track=track, analyzer_version="3", data={"tempo": None}, tempo=None)
    entry = read(alice_client.get(f"/tracks/{track.uuid}/analysis.xml")).find("COLLECTION/TRACK")
    assert entry.get("AverageBpm") == "0.00" and entry.get("Tonality") == ""
    assert entry.find("TEMPO") is None and entry.findall("POSITION_MARK") == []


@pytest.mark.django_db
def test_the_library_export_holds_the_persons_own_tracks_only(alice, bob, charlie, alice_client: Client) -> None:
    mine = [track_row(alice, title=t) for t in ("One", "Two")]
    shared = track_row(bob, title="Bob's")
    Share.objects.create(track=shared, user=alice, role="viewer")
    track_row(charlie, title="Charlie's")
    AnalysisResult.objects.create(track=mine[0], analyzer_version="3", data=SHOWN, tempo=124.0, key_label="C major")
    root = read(alice_client.get("/rekordbox.xml"))
    entries = root.findall("COLLECTION/TRACK")
    assert [e.get("Name") for e in entries] == ["One", "Two"] and root.find("COLLECTION").get("Entries") == "2"
    assert entries[0].get("Tonality") == "C" and entries[1].get("AverageBpm") == "0.00"
    assert len({e.get("TrackID") for e in entries}) == 2
