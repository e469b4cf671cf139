"""Loops and samples cut on the song's grid (tracks/music/loops.py, the loop views): bars of a stem or of the mix
as a WAV with short fades, named for a sampler, and every section as a loop in a zip."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import soundfile as sf
from django.test import Client

from tests.helpers import separation, track_row
from tracks.files import storage
from tracks.models import AnalysisResult, Job, Track
from tracks.music import loops

RATE = 22050
BAR = 2.0  # seconds: 120 BPM in 4/4
# Four bars from 0.5 s; sections A (bars 1-2) and B (bars 3-4), their edges a little off the bar lines.
SHOWN = {"tempo": 120.0, "downbeats": [0.5, 2.5, 4.5, 6.5],
         "sections": [{"start": 0.0, "end": 4.4, "label": "A", "name": "verse"},
                      {"start": 4.4, "end": 9.0, "label": "B"}]}


def test_bars_are_counted_from_the_first_downbeat_and_the_last_ends_a_bar_on() -> None:
    loop = loops.bars(SHOWN, 9.0, 2, 4)
    assert (loop.start, loop.end) == (2.5, 8.5)
    assert loops.bars(SHOWN, 7.0, 4, 4).end == 7.0  # the song ends first
    for first, last in ((0, 1), (3, 2), (1, 5)):
        with pytest.raises(ValueError, match="Bars go from 1 to 4"):
            loops.bars(SHOWN, 9.0, first, last)
    with pytest.raises(ValueError, match="no bar grid"):
        loops.bars({"downbeats": []}, 9.0, 1, 1)


def test_sections_become_the_whole_bars_they_hold() -> None:
    found = loops.sections(SHOWN, 9.0)
    assert [(s.first, s.last, s.start, s.end, s.label) for s in found] == [
        (1, 2, 0.5, 4.5, "A verse"), (3, 4, 4.5, 8.5, "B")]
    assert loops.sections({**SHOWN, "sections": [{"start": 2.4, "end": 2.6, "label": "X"}]}, 9.0) == []


def test_a_loop_is_named_for_a_sampler() -> None:
    loop = loops.Loop(5, 8, 0.0, 1.0, "B chorus")
    named = loops.filename("Night Drive", "drums", loop, 99.6, "A minor")
    assert named == "Night Drive - drums - bars 5-8 - 100 BPM - A minor.wav"
    assert loops.filename("Night Drive", "mix", loop, None, "", 3) == "Night Drive - mix - 03 B chorus bars 5-8.wav"


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.stack([0.5 * np.sin(2 * np.pi * freq * t)] * 2, axis=1).astype("float32")


@pytest.fixture
def separated(alice) -> tuple[Track, Job]:
    """A track with two 9-second stems (a 220 Hz tone, a 330 Hz tone) and an analysis with SHOWN's grid."""
    track = track_row(alice, title="Night Drive", duration=9.0)
    job = separation(track, {"bass": tone(220.0, 9.0), "other": tone(330.0, 9.0)}, RATE)
    AnalysisResult.objects.create(track=track, analyzer_version="1", data=SHOWN, tempo=120.0, key_label="A minor")
    return track, job


def wav(data: bytes) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    assert rate == RATE
    return samples


def stem_samples(track: Track, name: str) -> np.ndarray:
    return sf.read(storage.stem_path(track.stems.get(name=name)), dtype="int16", always_2d=True)[0]


@pytest.mark.django_db
def test_bars_of_a_stem_come_out_on_the_grid_with_short_fades(alice_client: Client, separated) -> None:
    track, job = separated
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/loop/",
                                {"first": 2, "last": 3, "what": "bass"})
    assert response.status_code == 200
    named = 'filename="Night Drive - bass - bars 2-3 - 120 BPM - A minor.wav"'
    assert named in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    loop = wav(data)
    start, end = round(2.5 * RATE), round(6.5 * RATE)
    assert len(loop) == end - start  # two bars exactly
    original = stem_samples(track, "bass")[start:end]
    fade = round(0.005 * RATE)
    assert np.array_equal(loop[fade:-fade], original[fade:-fade])  # the stem itself between the fades
    assert abs(int(loop[0, 0])) <= abs(int(original[0, 0])) // fade + 1  # faded in from silence
    assert abs(int(loop[-1, 0])) <= abs(int(original[-1, 0])) // fade + 1
    assert np.all(np.abs(loop[:fade].astype(int)) <= np.abs(original[:fade].astype(int)) + 1)


@pytest.mark.django_db
def test_bars_of_the_mix_sound_as_the_mixer_does(alice_client: Client, separated) -> None:
    track, job = separated
    url = f"/tracks/{track.uuid}/separations/{job.uuid}/loop/"
    muted = wav(b"".join(alice_client.get(url, {"first": 1, "last": 1, "gain_bass": 0}).streaming_content))
    other = stem_samples(track, "other")[round(0.5 * RATE):round(2.5 * RATE)]
    fade = round(0.005 * RATE)
    assert np.abs(muted[fade:-fade].astype(int) - other[fade:-fade].astype(int)).max() <= 1  # bass muted
    both = wav(b"".join(alice_client.get(url, {"first": 1, "last": 1}).streaming_content))
    assert np.abs(both).max() > np.abs(muted).max() * 1.5  # the bass adds in at unity


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "said"), [
    ({"first": 4, "last": 5}, "Bars go from 1 to 4"),
    ({"first": 1, "last": 1, "what": "vocals"}, "what: Select a valid choice"),
    ({"first": "x", "last": 1}, "first: Enter a whole number"),
    ({"last": 1}, "first: This field is required"),
])
def test_a_loop_that_cannot_be_cut_says_why(alice_client: Client, separated, query: dict, said: str) -> None:
    track, job = separated
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/loop/", query)
    assert response.status_code == 400 and said in response.content.decode()


@pytest.mark.django_db
def test_a_song_without_an_analysis_has_no_loops(alice_client: Client, separated) -> None:
    track, job = separated
    track.analyses.all().delete()
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/loop/", {"first": 1, "last": 1})
    assert response.status_code == 400 and "analyse it first" in response.content.decode()
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/loops/")
    assert response.status_code == 400


@pytest.mark.django_db
def test_every_section_comes_as_a_loop_in_a_zip(alice_client: Client, separated) -> None:
    track, job = separated
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/loops/", {"what": "other"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(data)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == ["Night Drive - other - 01 A verse bars 1-2 - 120 BPM - A minor.wav",
                                  "Night Drive - other - 02 B bars 3-4 - 120 BPM - A minor.wav"]
    original = stem_samples(track, "other")
    for name, (start, end) in zip(archive.namelist(), ((0.5, 4.5), (4.5, 8.5)), strict=True):
        loop = wav(archive.read(name))
        a, b = round(start * RATE), round(end * RATE)
        assert len(loop) == b - a and np.array_equal(loop[200:-200], original[a + 200:b - 200])


@pytest.mark.django_db
def test_the_stems_panel_offers_loops_only_where_a_grid_is(alice_client: Client, separated) -> None:
    track, job = separated
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert f'action="/tracks/{track.uuid}/separations/{job.uuid}/loop/"' in page
    assert '<option value="bass">bass</option>' in page and f"/separations/{job.uuid}/loops/" in page
    AnalysisResult.objects.create(track=track, analyzer_version="1", data={"tempo": 120.0})  # no bars found
    assert "data-loop-export" not in alice_client.get(f"/tracks/{track.uuid}/").content.decode()
