"""Rendering the mix as the mixer plays it (tracks/jobs/render.py, the render panel and file): a real
worker runs the render port over the stems; the file comes out at the speed and over the loop asked for, the
panel says what it is and offers it, a newer render replaces the older, and bad input is refused in words."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import soundfile as sf
from django.test import Client

from tests.helpers import separation, track_row
from tracks.files import storage
from tracks.models import Job, Share, Track

RATE = 22050


@pytest.fixture
def separated(alice) -> tuple[Track, Job]:
    """A track with two 6-second stems: a 220 Hz tone and a 660 Hz tone."""
    track = track_row(alice, title="Night Drive", duration=6.0)
    t = np.arange(6 * RATE) / RATE
    tones = {name: np.stack([0.4 * np.sin(2 * np.pi * freq * t)] * 2, axis=1) for name, freq in
             (("bass", 220.0), ("other", 660.0))}
    return track, separation(track, tones, RATE)


def peak_hz(y: np.ndarray) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(y * np.hanning(len(y))))) * RATE / len(y))


@pytest.mark.django_db(transaction=True)
def test_a_render_comes_out_at_the_speed_pitch_loop_and_levels_asked_for(
        alice_client: Client, separated, run_worker: Callable[[str], bool], tmp_path) -> None:
    track, separation = separated
    url = f"/tracks/{track.uuid}/separations/{separation.uuid}/render/"
    response = alice_client.post(url, {"rate": "0.8", "semitones": "-2", "start": "1", "end": "3",
                                       "gain_other": "0", "format": "wav"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Queued" in response.content.decode()
    run_worker("processing")
    render = track.jobs.get(kind=Job.Kind.RENDER)
    assert render.status == Job.Status.SUCCEEDED, render.error
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "80 %, \u22122 semitones, 0:01\u20130:03" in page and f"/tracks/{track.uuid}/renders/{render.uuid}/" in page
    response = alice_client.get(f"/tracks/{track.uuid}/renders/{render.uuid}/")
    # Named with what it is (80 %, minus 2 semitones, the loop), the true minus kept as RFC 5987 says.
    assert response.status_code == 200 and "Night%20Drive%20-%20mix%20%2880%20%25%2C%20%E2%88%922%20semitones" in \
        response["Content-Disposition"]
    path = tmp_path / "render.wav"
    path.write_bytes(b"".join(response.streaming_content))
    y, rate = sf.read(path, dtype="float32", always_2d=True)
    assert rate == RATE and abs(len(y) / RATE - 2.0 / 0.8) < 0.01  # the loop's two seconds, slower
    middle = y[len(y) // 4: 3 * len(y) // 4, 0]
    assert peak_hz(middle) == pytest.approx(220.0 * 2 ** (-2 / 12), rel=0.02)  # the bass a tone down, alone


@pytest.mark.django_db
def test_a_render_counts_against_the_owners_storage(alice, alice_client: Client, separated, settings) -> None:
    track, separation = separated
    stems = Track.objects.storage_used(alice)
    Job.objects.create(track=track, kind=Job.Kind.RENDER, status=Job.Status.SUCCEEDED, options={"bytes": 5_000_000})
    assert Track.objects.storage_used(alice) == stems + 5_000_000
    # A render that would not fit is refused before it is queued, in words: 6 s of WAV at 44.1 kHz at half
    # speed is 12 s, 2.1 MB.
    settings.USER_QUOTA_MB = (stems + 5_000_000 + 1_000_000) / 2**20
    response = alice_client.post(f"/tracks/{track.uuid}/separations/{separation.uuid}/render/", {"rate": "0.5"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 413 and "this render needs 2.0 MB" in response.content.decode()
    assert not track.jobs.filter(kind=Job.Kind.RENDER, status=Job.Status.QUEUED).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_newer_render_replaces_the_older(alice_client: Client, separated, run_worker: Callable[[str], bool]) -> None:
    track, separation = separated
    url = f"/tracks/{track.uuid}/separations/{separation.uuid}/render/"
    alice_client.post(url, {"rate": "1.25"}, HTTP_HX_REQUEST="true")
    run_worker("processing")
    first = track.jobs.get(kind=Job.Kind.RENDER)
    alice_client.post(url, {"rate": "0.5", "format": "mp3"}, HTTP_HX_REQUEST="true")
    run_worker("processing")
    second = track.jobs.filter(kind=Job.Kind.RENDER).exclude(pk=first.pk).get()
    assert second.status == Job.Status.SUCCEEDED and second.options["file"].endswith(".mp3")
    assert alice_client.get(f"/tracks/{track.uuid}/renders/{first.uuid}/").status_code == 404
    assert not storage.default_storage.exists(first.options["file"])  # its file went with it
    first.refresh_from_db()
    assert first.options["bytes"] == 0 and second.options["bytes"] > 0  # and the quota counts only the newer
    assert alice_client.get(f"/tracks/{track.uuid}/renders/{second.uuid}/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "said"), [
    ({"rate": "2"}, "less than or equal to 1.5"),
    ({"semitones": "-13"}, "greater than or equal to -12"),
    ({"start": "3", "end": "2"}, "The loop must end after it starts."),
    ({"format": "ogg"}, "Select a valid choice"),
])
def test_a_render_that_cannot_be_made_says_why_and_queues_nothing(alice_client: Client, separated, data: dict,
                                                                  said: str) -> None:
    track, separation = separated
    response = alice_client.post(f"/tracks/{track.uuid}/separations/{separation.uuid}/render/", data,
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and said in response.content.decode()
    assert not track.jobs.filter(kind=Job.Kind.RENDER).exists()


@pytest.mark.django_db
def test_a_viewer_may_render_and_sees_the_render_panel(alice, bob, bob_client: Client, separated) -> None:
    track, separation = separated
    Share.objects.create(track=track, user=bob, role="viewer")
    response = bob_client.post(f"/tracks/{track.uuid}/separations/{separation.uuid}/render/", {"rate": "0.9"},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'id="render-panel-{track.uuid}"' in response.content.decode()
    assert track.jobs.get(kind=Job.Kind.RENDER).requested_by == bob
