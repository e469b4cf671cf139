"""A port that runs out of room — memory over its limit, a file past the size limit — fails its job with a
clear message, leaves no partial files, and its worker goes on to the next job. Real `manage.py rqworker`
processes running the real separation port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.test import Client

from tests import audio
from tests.conftest import worker_env
from tests.test_jobs import upload
from tests.test_separation import FOUR, separate
from tracks.files import storage
from tracks.models import Job

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def song_wav(tmp_path: Path) -> Path:
    """8 s of stereo 44.1 kHz song: 1.4 MB a stem as 16-bit WAV, 0.3 MB as MP3."""
    left = audio.song("G", "major", 96.0, 8.0, sr=44100)
    return audio.write_wav(tmp_path / "song.wav", np.stack([left, 0.5 * left], axis=1), 44100)


def burst_worker(**env: str) -> int:
    """A real worker on the separation queue, run until the queue is empty; its exit status."""
    worker = subprocess.run([sys.executable, str(ROOT / "manage.py"), "rqworker", "processing", "--burst"],
                            env={**worker_env(), **env}, capture_output=True, timeout=300)
    return worker.returncode


def separations(client: Client, song: Path, *formats: str) -> list[Job]:
    """One track and one separation per format, queued in that order (a track separates once at a time)."""
    jobs = []
    for n, fmt in enumerate(formats):
        track = upload(client, audio.variant(song, n, song.parent))  # a file each: one would be kept once
        assert separate(client, track, fmt=fmt) == 200
        jobs.append(track.jobs.get(kind=Job.Kind.SEPARATION))
    return jobs


@pytest.mark.django_db(transaction=True)
def test_a_port_writing_past_the_file_limit_fails_cleanly_and_the_worker_goes_on(
    alice_client: Client, song_wav: Path
) -> None:
    too_big, fits = separations(alice_client, song_wav, "wav", "mp3")
    assert burst_worker(SOUNDFORGE_PORT_MAX_FILE_MB="1") == 0
    too_big.refresh_from_db()
    assert too_big.status == Job.Status.FAILED
    assert too_big.error == "ran out of space writing its output: an output file reached the size limit of 1 MB"
    assert not storage.stems_dir(too_big).exists()
    fits.refresh_from_db()
    assert fits.status == Job.Status.SUCCEEDED, fits.error
    assert {stem.name for stem in fits.stems.all()} == FOUR
    assert all(storage.stem_path(stem).stat().st_size < 2**20 for stem in fits.stems.all())


@pytest.mark.django_db(transaction=True)
def test_a_port_over_its_memory_limit_fails_cleanly_and_the_worker_goes_on(
    alice_client: Client, song_wav: Path
) -> None:
    jobs = separations(alice_client, song_wav, "wav", "wav")
    assert burst_worker(SOUNDFORGE_PORT_MEMORY_MB="64") == 0
    for job in jobs:  # the worker survived the first to take the second
        job.refresh_from_db()
        assert job.status == Job.Status.FAILED
        assert job.error.startswith("used ") and job.error.endswith("MB, over the limit of 64 MB, and was stopped")
        assert not storage.stems_dir(job).exists()
        assert not job.stems.exists()
