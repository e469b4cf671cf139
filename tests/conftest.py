"""Shared fixtures: alice (owner), bob (shared with), charlie (stranger), audio with known answers,
a real Redis (tests/redis_plugin.py) and a real burst RQ worker."""

from __future__ import annotations

from tests import services

# Before anything imports Django: settings read REDIS_URL, MEDIA_ROOT and friends once, at import.
services.start()

import functools  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import django_rq  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from rq.job import Job as RQJob  # noqa: E402
from rq.worker import SimpleWorker  # noqa: E402

from tests import audio, demucs_models  # noqa: E402

ROOT = services.ROOT

PASSWORD = "a-long-enough-test-password"


def pytest_unconfigure(config: pytest.Config) -> None:
    services.stop()


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path: Path) -> None:
    """Each test gets its own media folder, so "nothing left behind" is checkable; static files are served
    from the source folders (no collectstatic manifest in tests)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_channel_layer() -> None:
    # Each async test runs on its own event loop; the Redis layer's locks belong to the loop that first
    # waited on them, so every test gets a layer of its own.
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The real hasher costs a quarter of a second per user on purpose; tests make hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_upload_rate_limit(settings) -> None:
    # Tests upload as fast as they like; tests/test_security.py turns the limit on to check it.
    settings.RATELIMIT_ENABLE = False


@pytest.fixture(autouse=True)
def _clean_queues() -> None:
    """Each test starts with empty queues in the suite's own Redis."""
    for name in ("analysis", "processing"):
        queue = django_rq.get_queue(name)
        queue.empty()
        for registry in (queue.failed_job_registry, queue.finished_job_registry):
            for job_id in registry.get_job_ids():
                try:
                    registry.remove(job_id, delete_job=True)
                except ValueError:
                    # A job whose worker was SIGKILLed (test_recovery) lacks the execution records RQ's
                    # delete expects: drop it by its keys.
                    registry.remove(job_id)
                    queue.connection.delete(RQJob.key_for(job_id))


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice@example.com", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def bob_client(bob) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def charlie(db):
    return get_user_model().objects.create_user("charlie@example.com", "charlie@example.com", PASSWORD)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def charlie_client(charlie) -> Client:
    client = Client()
    client.force_login(charlie)
    return client


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def c_major_wav(audio_dir: Path) -> Path:
    """8 s, C major, 120 BPM."""
    return audio.write_wav(audio_dir / "c-major-120.wav", audio.song("C", "major", 120.0, 12.0))


@pytest.fixture(scope="session")
def fsharp_minor_mp3(audio_dir: Path) -> Path:
    """8 s, F# minor, 123.4 BPM, stereo MP3."""
    return audio.write_encoded(audio_dir / "f-sharp-minor.mp3", audio.song("F#", "minor", 123.4, 12.0), channels=2)


@pytest.fixture
def run_worker() -> Callable[[str], bool]:
    """Run a real RQ worker in burst mode on a queue until it is empty (in this process, so it shares the
    test database)."""

    def run(queue: str = "analysis") -> bool:
        worker = django_rq.get_worker(queue, worker_class=SimpleWorker)
        return worker.work(burst=True)

    return run


@functools.cache
def fill_numba_cache() -> None:
    """Fill numba's cache before a test starts a worker on a clock: on a cold checkout the first port compiles
    for about two minutes (tracks/ports/lib/jit_cache.py), longer than such a test waits for its results."""
    subprocess.run([sys.executable, "-c", "from tracks.ports import analyzer; from tracks.ports.lib import jit_cache; "
                    "jit_cache.ensure_filled(lambda: jit_cache.run_every_port(analyzer.main))"],
                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, timeout=600)


def worker_env() -> dict[str, str]:
    """The environment for a worker process that shares this test's database, Redis and media."""
    from django.conf import settings

    fill_numba_cache()
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "SOUNDFORGE_MEDIA_ROOT": str(settings.MEDIA_ROOT)}


@pytest.fixture(scope="session")
def port_env() -> dict[str, str]:
    return {**os.environ, "NUMBA_CACHE_DIR": os.environ["NUMBA_CACHE_DIR"]}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local demucs repo: tiny random-weight ``htdemucs`` (four stems) and ``htdemucs_6s`` (six)."""
    repo = tmp_path_factory.mktemp("models")
    demucs_models.save_random_model(repo, "htdemucs", "tiny")
    demucs_models.save_random_model(repo, "htdemucs_6s", "tiny", sources=demucs_models.SIX, seed=1)
    return repo


@pytest.fixture(scope="session")
def stereo_song_wav(audio_dir: Path) -> Path:
    """10 s, stereo, 44.1 kHz (Demucs's own rate): a song on the left, the same a fifth up on the right."""
    left = audio.song("A", "minor", 100.0, 10.0, sr=44100)
    right = audio.song("E", "minor", 100.0, 10.0, sr=44100)
    return audio.write_wav(audio_dir / "stereo-44k.wav", np.stack([left, right], axis=1), 44100)
