"""Analysis jobs through a real RQ worker on a real Redis, running the real port."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import django_rq
import pytest
import soundfile as sf
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client

from tracks import jobs
from tracks.files import storage
from tracks.models import AnalysisResult, Job, Track


def upload(client: Client, path: Path) -> Track:
    response = client.post("/tracks/upload/", {"file": SimpleUploadedFile(path.name, path.read_bytes())},
                           HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 201, response.content
    return Track.objects.latest("created")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_analyses_an_upload(alice_client: Client, c_major_wav: Path, run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, c_major_wav)
    assert run_worker("analysis")
    job = Job.objects.get(track=track)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 1.0
    assert job.started is not None and job.finished >= job.started
    result = AnalysisResult.objects.get(track=track)
    assert result.job == job
    assert result.tempo == pytest.approx(120.0, abs=1.5)
    assert result.key_label == "C major"
    assert result.analyzer_version == "3"
    # The first analysis also made the preview that listen-only links play: the song, as MP3.
    track.refresh_from_db()
    assert track.preview == f"tracks/{track.uuid}/original.preview.mp3"
    preview = sf.info(storage.track_dir(track.uuid) / "original.preview.mp3")
    assert preview.format == "MP3" and preview.duration == pytest.approx(track.duration, abs=0.1)
    data = result.data
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "C major" in page
    assert "<polygon" in page  # the energy picture
    # The timeline's figures: the downbeats, the chords, the sections, as the analysis found them; and the
    # loudness curve.
    timeline = json.loads(re.search(r'<script id="timeline-data" type="application/json">(.*?)</script>', page,
                                    re.S).group(1))
    assert timeline["downbeats"] == [round(d, 3) for d in data["downbeats"]] and timeline["downbeats"]
    assert f'{data["meter"]["beats_per_bar"]}/4' in page
    assert sum(c[2] == "C" for c in timeline["chords"]) == sum(c[2] == "C:maj" for c in data["chords"]) > 0
    assert len(timeline["sections"]) == len(data["sections"]) and 'class="chart loudness"' in page
    # The progression bar by bar: one cell per downbeat (and one for the beats before the first).
    cells = page.count('<span class="bar-number">')
    assert cells == len(data["downbeats"]) + (data["downbeats"][0] > 0)
    assert f'{data["loudness"]["integrated_lufs"]:.1f}</b> LUFS' in page
    # It proposed cue points: the first downbeat, and the sections on their bar lines.
    proposed = list(track.cues.all())
    assert proposed[0].name == "Start" and proposed[0].at == pytest.approx(data["downbeats"][0], abs=0.001)
    assert all(c.auto for c in proposed) and 'data-cue="Start"' in page
    library = alice_client.get("/").content.decode()
    # The row's tempo and key, and the key's place on the Camelot wheel (the server sorts and filters by them).
    assert f"<b>{result.tempo:.1f}</b> BPM" in library
    assert '<b>C major</b> <span class="hint" title="Camelot wheel">8B</span>' in library
    exported = alice_client.get(f"/tracks/{track.uuid}/analysis.json")
    assert exported.status_code == 200 and exported.json()["tempo"] == result.tempo
    assert 'analysis.json"' in exported["Content-Disposition"]
    rows = [r.split(",") for r in alice_client.get(f"/tracks/{track.uuid}/analysis.csv").content.decode().splitlines()]
    assert rows[0] == ["beat", "time_s", "bar", "beat_in_bar", "chord", "section", "tempo_bpm", "key"]
    assert len(rows) == 1 + len(data["beats"])
    assert rows[1][-2:] == [str(result.tempo), "C major"]
    # Bars count up from each downbeat, and the chord column is the chord sounding at the beat.
    downbeat_rows = [r for r in rows[1:] if r[3] == "1"]
    assert [float(r[1]) for r in downbeat_rows] == pytest.approx(data["downbeats"], abs=0.001)
    assert [int(r[2]) for r in downbeat_rows] == list(range(1, len(downbeat_rows) + 1))
    assert {r[4] for r in rows[1:]} <= {c[2] for c in data["chords"]}
    assert {r[5] for r in rows[1:]} == {s["label"] for s in data["sections"]}
    assert alice_client.get(f"/tracks/{track.uuid}/analysis.txt").status_code == 404
    rekordbox = alice_client.get(f"/tracks/{track.uuid}/analysis.xml")  # tests/test_rekordbox.py reads it all
    assert rekordbox.status_code == 200 and b'Tonality="C"' in rekordbox.content


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_records_a_clear_error_when_the_port_fails(alice_client: Client, c_major_wav: Path,
                                                        run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, c_major_wav)
    # The stored file goes bad between upload and analysis: the port's decode error reaches the row.
    storage.track_path(track).write_bytes(b"garbage" * 100)
    run_worker("analysis")
    job = Job.objects.get(track=track)
    assert job.status == Job.Status.FAILED
    assert "could not decode the audio" in job.error or "no decodable audio" in job.error
    assert not AnalysisResult.objects.exists()
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert job.error.split(":")[0] in page


@pytest.mark.django_db(transaction=True)
def test_it_leaves_a_job_that_is_already_taken(alice_client: Client, c_major_wav: Path,
                                               run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, c_major_wav)
    Job.objects.filter(track=track).update(status=Job.Status.CANCELLED)
    run_worker("analysis")
    assert Job.objects.get(track=track).status == Job.Status.CANCELLED
    assert not AnalysisResult.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_re_running_queues_a_new_job_but_never_two_at_once(alice_client: Client, c_major_wav: Path,
                                                           run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, c_major_wav)
    alice_client.post(f"/tracks/{track.uuid}/analyse/")  # one is queued already: nothing new
    assert Job.objects.filter(track=track).count() == 1
    run_worker("analysis")
    response = alice_client.post(f"/tracks/{track.uuid}/analyse/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="job-panel-{track.uuid}"' in response.content.decode()
    assert Job.objects.filter(track=track).count() == 2
    run_worker("analysis")
    assert AnalysisResult.objects.filter(track=track).count() == 2
    assert track.latest_job("analysis").status == Job.Status.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_deleted_track_stops_its_job(alice_client: Client, c_major_wav: Path,
                                       run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, c_major_wav)
    Job.objects.filter(track=track).delete()
    with transaction.atomic():
        job = jobs.enqueue(Job.Kind.ANALYSIS, track)
    track_dir = storage.track_path(track).parent
    queue = django_rq.get_queue("analysis")
    assert job.rq_id in queue.get_job_ids()
    response = alice_client.post(f"/tracks/{track.uuid}/delete/")
    assert response.status_code == 302
    assert job.rq_id not in queue.get_job_ids()  # its queued RQ job was cancelled, not left for a worker
    assert not Track.objects.filter(pk=track.pk).exists()
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not track_dir.exists()
    run_worker("analysis")  # finds its row gone and does nothing
    assert not AnalysisResult.objects.exists()
