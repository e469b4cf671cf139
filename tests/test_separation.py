"""Separation in the app: the track page's form, a real RQ worker running the real port, stems stored and
served (one by one, as a zip, as a mix) behind the track's access check, and cancelling."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from tests import audio, demucs_models, processes
from tests.conftest import worker_env
from tests.test_jobs import upload
from tracks import jobs
from tracks.files import storage
from tracks.models import Job, Stem, Track

ROOT = Path(__file__).resolve().parent.parent
FOUR = {"drums", "bass", "other", "vocals"}


@pytest.fixture
def song_wav(tmp_path: Path) -> Path:
    """6 s of stereo 44.1 kHz song."""
    left = audio.song("G", "major", 96.0, 12.0, sr=44100)
    return audio.write_wav(tmp_path / "Song Title.wav", np.stack([left, 0.5 * left], axis=1), 44100)


def separate(client: Client, track: Track, model: str = "dsp", fmt: str = "wav") -> int:
    return client.post(f"/tracks/{track.uuid}/separate/", {"model": model, "format": fmt},
                       HTTP_HX_REQUEST="true").status_code


def separated(client: Client, path: Path, run_worker: Callable[[str], bool], **kwargs: str) -> Track:
    track = upload(client, path)
    assert separate(client, track, **kwargs) == 200
    run_worker("processing")
    job = track.jobs.get(kind=Job.Kind.SEPARATION)
    assert job.status == Job.Status.SUCCEEDED, job.error
    return track


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_separates_with_the_built_in_engine(alice_client: Client, song_wav: Path,
                                               run_worker: Callable[[str], bool]) -> None:
    track = separated(alice_client, song_wav, run_worker)
    stems = list(track.stems.all())
    assert {s.name for s in stems} == FOUR
    for stem in stems:
        path = storage.stem_path(stem)
        assert path.parent == storage.stems_dir(stem.job)
        info = sf.info(path)
        assert (info.samplerate, info.frames) == (44100, 12 * 44100)
        assert (stem.model, stem.format, stem.size) == ("dsp", "wav", path.stat().st_size)
        assert stem.duration == pytest.approx(12.0)
        assert stem.peaks["points"] > 100
        # Its copy for listening (the mixer, listen-only links): the same audio as Ogg Opus, a fraction of the
        # size, starting on the stem's own first sample.
        preview = storage.stem_path(stem).with_name(f"{stem.name}.preview.opus")
        assert stem.preview == f"{storage.stems_prefix(stem.job)}/{preview.name}"
        played = sf.info(preview)
        assert (played.format, played.subtype) == ("OGG", "OPUS")
        assert played.duration == pytest.approx(12.0, abs=0.01)
        assert preview.stat().st_size < stem.size / 5
        assert audio.lag(audio.decode(preview, 48000), audio.decode(path, 48000)) == 0
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert page.count('class="strip"') == 4
    # Every control names its stem, for those who cannot see which row it is in.
    assert all(f'aria-label="Mute {n}"' in page and f'aria-label="Solo {n}"' in page for n in FOUR)
    assert "built-in engine, lower quality" in page
    assert f"/separations/{stems[0].job.uuid}/zip/" in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_new_stems_are_analysed_with_the_mix(alice_client: Client, song_wav: Path,
                                             run_worker: Callable[[str], bool]) -> None:
    """A separation queues a new analysis that listens to the stems: each gets its own loudness, and the
    drums keep the beats."""
    track = upload(alice_client, song_wav)
    run_worker("analysis")
    assert separate(alice_client, track) == 200
    run_worker("processing")
    assert track.jobs.filter(kind=Job.Kind.ANALYSIS, status=Job.Status.QUEUED).count() == 1
    run_worker("analysis")
    jobs = track.jobs.filter(kind=Job.Kind.ANALYSIS).order_by("created")
    assert [j.status for j in jobs] == [Job.Status.SUCCEEDED] * 2
    first, second = (j.result.data for j in jobs)
    assert "stems" not in first
    assert set(second["stems"]) == FOUR
    louder = {name: s["loudness"]["integrated_lufs"] for name, s in second["stems"].items()}
    assert all(v is None or v < second["loudness"]["integrated_lufs"] + 0.5 for v in louder.values())
    assert second["tempo"] == pytest.approx(96.0, abs=1.0)
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert page.count('<td class="name">') == 4


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_separates_with_a_demucs_model_from_the_models_folder(
    alice_client: Client, song_wav: Path, models_dir: Path, run_worker: Callable[[str], bool], settings
) -> None:
    settings.MODELS_DIR = str(models_dir)
    jobs.check_models()  # what a worker does when a page first asks
    track = separated(alice_client, song_wav, run_worker, model="htdemucs_6s", fmt="flac")
    stems = track.stems.all()
    assert {s.name for s in stems} == FOUR | {"guitar", "piano"}
    assert {(s.model, s.format) for s in stems} == {("htdemucs_6s", "flac")}
    assert all(sf.info(storage.stem_path(s)).format == "FLAC" for s in stems)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_offers_only_the_models_it_can_load_and_says_why(alice_client: Client, song_wav: Path,
                                                             tmp_path: Path, settings, monkeypatch,
                                                             run_worker: Callable[[str], bool]) -> None:
    settings.MODELS_DIR = str(tmp_path / "empty-models")
    (tmp_path / "empty-models").mkdir()
    track = upload(alice_client, song_wav)
    # The page never starts a port: it offers the built-in engine and queues the question for a worker.
    with monkeypatch.context() as patch:
        def no_process(*args, **kwargs):
            raise AssertionError(f"the page started a process: {args}")
        patch.setattr(subprocess, "Popen", no_process)
        page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert '<option value="dsp" selected' in page and "being checked" in page
    assert '<option value="htdemucs" disabled' in page
    run_worker("analysis")
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert '<option value="htdemucs" disabled' in page
    # Why not, and what to do: not in the folder, not cached, no download can start from here.
    assert "lacks htdemucs.yaml" in page and "cannot start" in page and "manage.py models fetch htdemucs" in page
    assert '<option value="dsp" selected' in page
    assert separate(alice_client, track, model="htdemucs") == 400
    assert separate(alice_client, track, model="dsp", fmt="ogg") == 400
    assert not track.jobs.filter(kind=Job.Kind.SEPARATION).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_new_separation_with_the_same_model_replaces_the_old_stems(
    alice_client: Client, song_wav: Path, run_worker: Callable[[str], bool]
) -> None:
    track = separated(alice_client, song_wav, run_worker)
    first = track.jobs.get(kind=Job.Kind.SEPARATION)
    assert separate(alice_client, track, fmt="mp3") == 200
    run_worker("processing")
    assert set(track.stems.values_list("format", flat=True)) == {"mp3"}
    assert not storage.stems_dir(first).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_cached_stems_panel_follows_new_stems_a_new_analysis_and_a_new_title(
    alice_client: Client, song_wav: Path, run_worker: Callable[[str], bool]
) -> None:
    """The stems panel (waveforms, mixer, click track) is drawn once and kept: whatever it shows must still
    change it."""
    track = separated(alice_client, song_wav, run_worker)
    run_worker("analysis")  # the first analysis and the one with the stems
    first = track.jobs.get(kind=Job.Kind.SEPARATION)
    analysis = track.latest_analysis()
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "Song Title - vocals (dsp).wav" in page and f'data-click="{analysis.job_id}-"' in page
    # The mixer says what speed and transpose make of the song: its tempo, its key 12 semitones either way.
    keys = page.split('data-keys="')[1].split('"')[0].split(",")
    assert f'data-tempo="{analysis.tempo}"' in page and len(keys) == 25 and keys[12] == analysis.key_label

    assert alice_client.post(f"/tracks/{track.uuid}/details/", {"title": "Renamed"}).status_code == 302
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "Renamed - vocals (dsp).wav" in page and "Song Title - vocals" not in page

    assert separate(alice_client, track, fmt="mp3") == 200
    run_worker("processing")
    run_worker("analysis")
    second = track.jobs.filter(kind=Job.Kind.SEPARATION).exclude(pk=first.pk).get()
    newer = track.latest_analysis()
    assert newer.pk != analysis.pk
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert f"/separations/{second.uuid}/zip/" in page and f"/separations/{first.uuid}/zip/" not in page
    assert "Renamed - vocals (dsp).mp3" in page and f'data-click="{newer.job_id}-"' in page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_serves_each_stem_and_a_zip_named_after_the_track(alice_client: Client, song_wav: Path,
                                                              run_worker: Callable[[str], bool]) -> None:
    track = separated(alice_client, song_wav, run_worker)
    vocals = track.stems.get(name="vocals")
    response = alice_client.get(f"/tracks/{track.uuid}/stems/{vocals.uuid}/?download=1")
    assert response.status_code == 200
    assert 'filename="Song Title - vocals (dsp).wav"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == storage.stem_path(vocals).read_bytes()
    ranged = alice_client.get(f"/tracks/{track.uuid}/stems/{vocals.uuid}/", HTTP_RANGE="bytes=0-99")
    assert ranged.status_code == 206 and len(b"".join(ranged.streaming_content)) == 100

    response = alice_client.get(f"/tracks/{track.uuid}/separations/{vocals.job.uuid}/zip/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "Song Title - stems (dsp).zip" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == sorted(f"Song Title - {n} (dsp).wav" for n in FOUR)
        for stem in track.stems.all():
            member = archive.getinfo(stem.download_name)
            assert member.compress_type == zipfile.ZIP_STORED
            assert archive.read(member) == storage.stem_path(stem).read_bytes()

    # An editor's title is no path: not in the archive's entries, not in any download's name.
    alice_client.post(f"/tracks/{track.uuid}/details/", {"title": "../../../../tmp/x/CON\x07pwn"})
    response = alice_client.get(f"/tracks/{track.uuid}/separations/{vocals.job.uuid}/zip/")
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        names = archive.namelist()
    assert sorted(names) == sorted(f"tmp-x-CON-pwn - {n} (dsp).wav" for n in FOUR)
    for url in (f"/tracks/{track.uuid}/separations/{vocals.job.uuid}/zip/", f"/tracks/{track.uuid}/audio/?download=1",
                f"/tracks/{track.uuid}/stems/{vocals.uuid}/?download=1"):
        disposition = alice_client.get(url)["Content-Disposition"]
        assert 'filename="tmp-x-CON-pwn' in disposition and ".." not in disposition and "/" not in disposition


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_download_this_mix_renders_the_mixers_gains_and_pans(alice_client: Client, song_wav: Path,
                                                              run_worker: Callable[[str], bool]) -> None:
    track = separated(alice_client, song_wav, run_worker)
    job = track.jobs.get(kind=Job.Kind.SEPARATION)
    url = f"/tracks/{track.uuid}/separations/{job.uuid}/mix/"

    def mix(**query: str) -> np.ndarray:
        response = alice_client.get(url, query)
        assert response.status_code == 200, response.content
        body = b"".join(response.streaming_content)
        assert int(response["Content-Length"]) == len(body)
        data, rate = sf.read(io.BytesIO(body), dtype="float64")
        assert rate == 44100
        return data

    stems = {s.name: sf.read(storage.stem_path(s), dtype="float64")[0] for s in track.stems.all()}
    # Everything at unity: the stems sum back to (nearly) the song.
    assert np.abs(mix() - sum(stems.values())).max() < 2e-4
    # Only the bass, doubled, panned hard left: its right channel folds into the left, the right is silent.
    only_bass = mix(gain_drums="0", gain_other="0", gain_vocals="0", gain_bass="2", pan_bass="-1")
    expected_left = 2 * (stems["bass"][:, 0] + stems["bass"][:, 1])
    assert np.abs(only_bass[:, 0] - np.clip(expected_left, -1, 1)).max() < 2e-4
    assert np.abs(only_bass[:, 1]).max() < 1e-4
    assert alice_client.get(url, {"gain_bass": "9"}).status_code == 400
    assert alice_client.get(url, {"pan_bass": "nan"}).status_code == 400


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_stranger_cannot_reach_the_stems(alice_client: Client, charlie_client: Client, song_wav: Path,
                                           run_worker: Callable[[str], bool]) -> None:
    track = separated(alice_client, song_wav, run_worker)
    stem = track.stems.first()
    job = stem.job
    for url in (f"/tracks/{track.uuid}/stems/{stem.uuid}/", f"/tracks/{track.uuid}/stems/{stem.uuid}/?download=1",
                f"/tracks/{track.uuid}/separations/{job.uuid}/zip/",
                f"/tracks/{track.uuid}/separations/{job.uuid}/mix/"):
        assert charlie_client.get(url).status_code == 404, url
        assert Client().get(url).status_code in (302, 404), url
    assert charlie_client.post(f"/tracks/{track.uuid}/separate/", {"model": "dsp"}).status_code == 404
    assert charlie_client.post(f"/tracks/{track.uuid}/jobs/{job.uuid}/cancel/").status_code == 404
    # A stem is only reachable through its own track.
    other = upload(charlie_client, song_wav)
    assert charlie_client.get(f"/tracks/{other.uuid}/stems/{stem.uuid}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_queued_separation_can_be_cancelled_and_never_runs(alice_client: Client, song_wav: Path,
                                                             run_worker: Callable[[str], bool]) -> None:
    track = upload(alice_client, song_wav)
    assert separate(alice_client, track) == 200
    job = track.jobs.get(kind=Job.Kind.SEPARATION)
    response = alice_client.post(f"/tracks/{track.uuid}/jobs/{job.uuid}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Cancelled" in response.content.decode()
    run_worker("processing")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.started is None
    assert not Stem.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_separation_kills_the_port_and_removes_its_files(
    alice_client: Client, tmp_path: Path
) -> None:
    """A real `manage.py rqworker --burst` process runs a long separation; cancel it mid-way."""
    long_song = audio.write_wav(tmp_path / "long.wav", audio.song("A", "minor", 100.0, 60.0, sr=44100), 44100)
    track = upload(alice_client, long_song)
    assert separate(alice_client, track) == 200
    job = track.jobs.get(kind=Job.Kind.SEPARATION)
    folder = storage.stems_dir(job)
    worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "rqworker", "processing", "--burst"],
                              env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.stage == "separating" and job.progress > 0 and processes.with_marker(str(folder)):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the separation never got going: {job.status} {job.stage} {job.error}")
        assert folder.is_dir()
        response = alice_client.post(f"/tracks/{track.uuid}/jobs/{job.uuid}/cancel/")
        assert response.status_code == 302
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert processes.with_marker(str(folder)) == []
    assert not folder.exists()
    assert not Stem.objects.exists()
    assert Path(settings.MEDIA_ROOT, track.file).exists()  # the original stays


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_manage_py_models_fetches_into_the_models_folder_and_lists(tmp_path: Path, settings) -> None:
    from tests.test_separate_port import serving

    remote = tmp_path / "remote"
    weights = demucs_models.save_random_model(remote, "mine", "tiny")
    (remote / "files.txt").write_text(f"{weights.name}\n")
    settings.MODELS_DIR = str(tmp_path / "models")
    out, err = io.StringIO(), io.StringIO()
    with serving(remote) as url:
        call_command("models", "fetch", "mine", "--url", url, stdout=out, stderr=err)
        assert (tmp_path / "models" / weights.name).read_bytes() == weights.read_bytes()
        assert f"mine: mine.yaml, {weights.name}" in out.getvalue() and "fetching mine" in err.getvalue()
        # htdemucs_6s's bag comes with demucs and names its real weights, which this repository lacks.
        with pytest.raises(CommandError, match="fetch_failed"):
            call_command("models", "fetch", "htdemucs_6s", "--url", url, stdout=out, stderr=err)
    assert not list((tmp_path / "models").glob("5c90dfd2*"))
    out = io.StringIO()
    call_command("models", "list", stdout=out)
    listed = dict(line.split(None, 1) for line in out.getvalue().splitlines() if line)
    assert listed["dsp"] == "built in"
    assert listed["htdemucs"].startswith("unavailable:") and "cannot start" in listed["htdemucs"]
    # The pages offer what the list found, without asking again.
    assert [m["name"] for m in jobs.separation_models() if m["available"]] == ["dsp"]
