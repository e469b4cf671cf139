"""Audio to MIDI: the transcription port finds the notes a stem plays (scored with mir_eval as the MIREX note
measures do), tracks/music/midi.py writes them on the song's own tempo map (read back with mido, a reader of its
own), and the job runs the port with a real worker: a piano roll under the stem, .mid files for those who
may take the track away, and bad requests refused in words."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import mido
import mir_eval
import numpy as np
import pytest
import soundfile as sf
from django.test import Client

from tests import portcli
from tests.helpers import separation, track_row
from tests.test_sharing import link_client
from tracks.models import Job, Share, ShareLink, Track
from tracks.music import midi

RATE = 22050
# (start s, end s, MIDI pitch): a bass line, and a melody an octave and more above it.
BASS = [(0.1, 0.6, 40), (0.75, 1.25, 43), (1.4, 1.9, 45), (2.05, 2.8, 47), (3.0, 3.5, 45), (3.6, 4.4, 40)]
MELODY = [(0.2, 0.7, 64), (0.8, 1.3, 67), (1.4, 2.2, 69), (2.4, 2.9, 71), (3.0, 3.8, 72)]


def hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def played(notes: list[tuple[float, float, int]], seconds: float = 4.8) -> np.ndarray:
    """Plucked tones with a few harmonics, each dying away: an instrument, not a sine."""
    t = np.arange(int(seconds * RATE)) / RATE
    y = np.zeros_like(t)
    for start, end, pitch in notes:
        inside = (t >= start) & (t < end)
        since = t[inside] - start
        envelope = np.exp(-2.5 * since) * np.minimum(1.0, (end - t[inside]) * 40) * np.minimum(1.0, since * 200)
        for harmonic, level in ((1, 1.0), (2, 0.5), (3, 0.25), (4, 0.12)):
            y[inside] += 0.25 * level * envelope * np.sin(2 * np.pi * harmonic * hz(pitch) * since)
    return y


def note_f(reference: list[tuple[float, float, int]], found: list[list[float]]) -> float:
    """mir_eval's note F-measure on onsets and pitch (50 ms, a quarter tone), offsets not scored."""
    est = np.array([[n[0], n[1]] for n in found]) if found else np.zeros((0, 2))
    _, _, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        np.array([[s, e] for s, e, _ in reference]), np.array([hz(p) for _, _, p in reference]),
        est, np.array([hz(n[2]) for n in found]), offset_ratio=None)
    return f


@pytest.mark.slow
def test_the_port_finds_each_stems_notes_in_its_range(tmp_path: Path, port_env: dict[str, str]) -> None:
    bass, melody, silence = tmp_path / "bass.wav", tmp_path / "vocals.wav", tmp_path / "other.wav"
    sf.write(bass, played(BASS), RATE)
    sf.write(melody, np.stack([played(MELODY)] * 2, axis=1), RATE)  # stereo: read as mono
    sf.write(silence, np.zeros(RATE), RATE)
    code, out, lines = portcli.run("transcribe", f"--stem=bass={bass}", f"--stem=vocals={melody}",
                                 f"--stem=other={silence}", env=port_env)
    assert code == 0, out
    assert note_f(BASS, out["stems"]["bass"]) >= 0.9
    assert note_f(MELODY, out["stems"]["vocals"]) >= 0.9
    assert all(36 <= n[2] <= 52 and 1 <= n[3] <= 127 for n in out["stems"]["bass"])  # nothing above its range
    assert out["stems"]["other"] == []
    fractions = [line["progress"] for line in lines]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(line["stage"] == "transcribing vocals" for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize(("args", "kind", "said"), [
    (["--stem=drums={wav}"], "invalid_arguments", "not a stem to transcribe"),
    (["--stem=bass={missing}"], "file_not_found", "no such file"),
    (["--stem=bass={text}"], "decode_error", "cannot read"),
])
def test_the_port_refuses_what_it_cannot_transcribe(tmp_path: Path, port_env: dict[str, str], args: list[str],
                                                    kind: str, said: str) -> None:
    wav, text = tmp_path / "a.wav", tmp_path / "a.txt"
    sf.write(wav, np.zeros(RATE), RATE)
    text.write_text("not audio")
    code, out, _ = portcli.run("transcribe", *(a.format(wav=wav, text=text, missing=tmp_path / "gone.wav")
                                               for a in args), env=port_env)
    assert code != 0 and out["error"] == kind and said in out["message"]


# -- the .mid file on the song's tempo map ---------------------------------------------------------------------

def read_back(data: bytes) -> tuple[mido.MidiFile, list[tuple[float, int, int]]]:
    """The file as mido reads it, and its notes as (seconds, pitch, tick): mido applies the tempo map."""
    song = mido.MidiFile(file=io.BytesIO(data))
    seconds, notes = 0.0, []
    for message in song:
        seconds += message.time
        if message.type == "note_on":
            notes.append((seconds, message.note))
    ticks, now = [], 0
    for message in song.tracks[1]:
        now += message.time
        if message.type == "note_on":
            ticks.append(now)
    return song, [(s, p, k) for (s, p), k in zip(notes, ticks, strict=True)]


# A band that speeds up from 100 to 120 BPM, its first beat 0.4 s in and its first downbeat on the second beat.
BEATS = list(np.cumsum([0.4, *np.linspace(0.6, 0.5, 39)]))
SHOWN = {"beats": BEATS, "downbeats": BEATS[1::3], "meter": {"beats_per_bar": 3}}


def test_the_notes_land_where_they_were_played_and_every_beat_on_a_midi_beat() -> None:
    notes = [[BEATS[i], BEATS[i] + 0.2, 40 + i % 7, 90] for i in range(0, 39, 2)] + [[5.123, 5.3, 50, 64]]
    song, found = read_back(midi.midi_file(notes, SHOWN, 22.0, name="Night Drive - bass", program=33))
    assert [round(s, 3) for s, _, _ in found] == [round(n[0], 3) for n in sorted(notes)]
    beat_ticks = [k for s, _, k in found if any(abs(s - b) < 1e-3 for b in BEATS)]
    assert len(beat_ticks) == 20 and all(k % midi.PPQ == 0 for k in beat_ticks)  # the grid is the song's
    conductor = song.tracks[0]
    tempos = [m.tempo for m in conductor if m.type == "set_tempo"]
    assert 99 < mido.tempo2bpm(tempos[2]) < 101 and 119 < mido.tempo2bpm(tempos[-1]) < 121
    meters = [(m.numerator, m.denominator) for m in conductor if m.type == "time_signature"]
    assert meters == [(2, 4), (3, 4)]  # a pickup (the lead-in and the first beat), then bars of three
    assert song.tracks[1][0].name == "Night Drive - bass"
    assert [m.program for m in song.tracks[1] if m.type == "program_change"] == [33]


def test_quantised_notes_sit_on_sixteenths_and_keep_a_length() -> None:
    notes = [[BEATS[3] + 0.04, BEATS[3] + 0.05, 45, 80], [BEATS[5] - 0.03, BEATS[6] + 0.01, 47, 80]]
    _, found = read_back(midi.midi_file(notes, SHOWN, 22.0, quantise=4))
    assert [k % (midi.PPQ // 4) for _, _, k in found] == [0, 0]
    song = mido.MidiFile(file=io.BytesIO(midi.midi_file(notes, SHOWN, 22.0, quantise=4)))
    now, on = 0, {}
    for message in song.tracks[1]:
        now += message.time
        if message.type == "note_on":
            on[message.note] = now
        elif message.type == "note_off":
            assert now - on[message.note] >= midi.PPQ // 4  # a 10 ms note keeps a sixteenth


def test_without_an_analysis_the_file_is_at_120_bpm() -> None:
    song, found = read_back(midi.midi_file([[1.0, 1.5, 40, 90]], None, 3.0))
    assert found[0][2] == 2 * midi.PPQ and abs(found[0][0] - 1.0) < 1e-3
    assert {round(mido.tempo2bpm(m.tempo)) for m in song.tracks[0] if m.type == "set_tempo"} == {120}


# -- the job, the page and the doors ---------------------------------------------------------------------------

@pytest.fixture
def separated(alice) -> tuple[Track, Job]:
    track = track_row(alice, title="Night Drive", duration=4.8)
    stems = {"bass": np.stack([played(BASS)] * 2, axis=1), "drums": np.zeros((int(4.8 * RATE), 2))}
    return track, separation(track, stems, RATE)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_transcription_puts_a_piano_roll_under_the_stem_and_offers_midi(
        alice_client: Client, separated, run_worker: Callable[[str], bool]) -> None:
    track, job = separated
    response = alice_client.post(f"/tracks/{track.uuid}/separations/{job.uuid}/transcribe/", {"stems": "bass"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Queued" in response.content.decode()
    run_worker("processing")
    transcription = track.jobs.get(kind=Job.Kind.TRANSCRIPTION)
    assert transcription.status == Job.Status.SUCCEEDED, transcription.error
    bass = track.stems.get(name="bass")
    assert note_f(BASS, bass.notes) >= 0.9
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert f"{len(bass.notes)} notes, E2\u2013B2" in page
    url = f"/tracks/{track.uuid}/separations/{job.uuid}/midi/bass.mid"
    assert f'href="{url}"' in page and f"{len(bass.notes)} notes" in page
    response = alice_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/midi"
    assert 'filename="Night Drive - bass.mid"' in response["Content-Disposition"]  # no analysis: no tempo, no key
    _, found = read_back(response.content)
    assert [p for _, p, _ in found] == [n[2] for n in bass.notes]
    gridded = alice_client.get(url + "?grid=16")
    assert gridded.status_code == 200 and "bass - 1-16 grid.mid" in gridded["Content-Disposition"]
    assert all(k % (midi.PPQ // 4) == 0 for _, _, k in read_back(gridded.content)[1])


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "said"), [
    ({"stems": "drums"}, "This separation has no drums stem to transcribe: pick from bass."),
    ({"stems": "vocals"}, "This separation has no vocals stem to transcribe"),
    ({}, "Pick the stems to transcribe (bass)."),
])
def test_a_transcription_that_cannot_be_made_says_why_and_queues_nothing(alice_client: Client, separated,
                                                                         data: dict, said: str) -> None:
    track, job = separated
    response = alice_client.post(f"/tracks/{track.uuid}/separations/{job.uuid}/transcribe/", data,
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and said in response.content.decode()
    assert not track.jobs.filter(kind=Job.Kind.TRANSCRIPTION).exists()


@pytest.mark.django_db
def test_midi_is_for_those_who_may_take_the_track_away(alice, alice_client: Client, bob, bob_client: Client,
                                                       separated) -> None:
    track, job = separated
    url = f"/tracks/{track.uuid}/separations/{job.uuid}/midi/bass.mid"
    assert alice_client.get(url).status_code == 404  # not transcribed yet
    track.stems.filter(name="bass").update(notes=[[0.1, 0.6, 40, 90]])
    assert alice_client.get(url + "?grid=7").status_code == 400
    assert alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/midi/piano.mid").status_code == 404
    Share.objects.create(track=track, user=bob, role="viewer")
    assert bob_client.get(url).status_code == 200
    assert link_client(ShareLink.objects.create(track=track)).get(url).status_code == 403  # listen-only
    assert link_client(ShareLink.objects.create(track=track, allow_downloads=True)).get(url).status_code == 200
