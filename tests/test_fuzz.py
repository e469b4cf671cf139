"""Fuzzing (hypothesis) the upload path and the analyzer port with mutated and random audio bytes: no 500,
nothing half-stored, no port that crashes or prints anything but one JSON object. A bounded number of
examples here (SOUNDFORGE_FUZZ_EXAMPLES, 25 by default); bench/fuzz.py runs the same for longer."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzzing
from tracks.models import Job, Track
from tracks.ports.host import runner

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

EXAMPLES = int(os.environ.get("SOUNDFORGE_FUZZ_EXAMPLES", "25"))
ALLOWED_ERRORS = {"decode_error", "file_not_found", "analysis_failed"}


def media_folders() -> set[Path]:
    from django.conf import settings as django_settings

    root = Path(django_settings.MEDIA_ROOT) / "tracks"
    return set(root.iterdir()) if root.is_dir() else set()


@pytest.mark.django_db(transaction=True)
def test_fuzzed_uploads_get_a_clear_answer_and_leave_nothing_half_stored(alice_client: Client,
                                                                         tmp_path: Path) -> None:
    seeds = fuzzing.seeds(tmp_path)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=fuzzing.mutated(seeds), name=st.sampled_from(["song.mp3", "a.wav", "x.flac", "noext", "t.ogg"]))
    def upload(data: bytes, name: str) -> None:
        tracks, folders = Track.objects.count(), media_folders()
        response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile(name, data)},
                                     HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        assert response.status_code in (201, 400), response.content[:200]
        outcomes[f"upload answered {response.status_code}"] += 1
        if response.status_code == 400:
            assert Track.objects.count() == tracks and media_folders() == folders
        else:
            track = Track.objects.latest("created")
            assert (Path(track.file).name.startswith("original.")
                    and Job.objects.filter(track=track, kind=Job.Kind.ANALYSIS).exists())

    outcomes: Counter[str] = Counter()
    upload()
    print(f"\nupload fuzzing, {sum(outcomes.values())} runs: {dict(outcomes)}")


@pytest.fixture(scope="module")
def warm_socket(tmp_path_factory: pytest.TempPathFactory, port_env: dict[str, str]) -> Iterator[str]:
    """The analyzer forked from a warm server: a cold start per example would take seconds."""
    socket_path = str(tmp_path_factory.mktemp("fuzz-warm") / "analyzer.sock")
    proc = subprocess.Popen([*runner.warm_server().command(), "--socket", socket_path],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, **port_env})
    assert proc.stdout is not None
    json.loads(proc.stdout.readline())
    # Keep reading its log (a line per fork and exit), or a full pipe would stall it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    yield socket_path
    proc.terminate()
    proc.wait(timeout=10)


def test_the_analyzer_answers_fuzzed_audio_with_a_result_or_a_typed_error(warm_socket: str, tmp_path: Path) -> None:
    path = tmp_path / "fuzzed"
    seeds = fuzzing.seeds(tmp_path)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=fuzzing.mutated(seeds))
    def analyse(data: bytes) -> None:
        path.write_bytes(data)
        try:
            result = runner.run_port(runner.port("analyzer"), [str(path), "--features", "all"], timeout=60,
                                     warm_socket=warm_socket)
        except runner.PortError as exc:
            # The port's own typed errors only: never a crash, a timeout, garbage or a bare exit.
            assert exc.kind in ALLOWED_ERRORS, (exc.kind, exc.message, exc.stderr_tail[-500:])
            assert exc.message
            outcomes[f"port: {exc.kind}"] += 1
        else:
            assert result.data["duration"] > 0 and "tempo" in result.data
            outcomes["port: analysed"] += 1

    outcomes: Counter[str] = Counter()
    analyse()
    print(f"\nanalyzer fuzzing, {sum(outcomes.values())} runs: {dict(outcomes)}")
