"""The suite's own services, set up before anything reads Django's settings (see conftest.py).

An embedded redis-server on a free port (so the suite never touches data it did not create) unless
SOUNDFORGE_TEST_REDIS_URL names one; media and var/ in a scratch folder; the numba cache kept in the
checkout's var/ so librosa's ~20 s first JIT is paid once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tracks.dev_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
_scratch: Path | None = None
_redis: EmbeddedRedis | None = None


def start() -> None:
    global _scratch, _redis
    if _scratch is not None:
        return
    _scratch = Path(tempfile.mkdtemp(prefix="soundforge-test-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "soundforge.settings"
    os.environ["SOUNDFORGE_VAR_DIR"] = str(_scratch / "var")
    os.environ["SOUNDFORGE_MEDIA_ROOT"] = str(_scratch / "media")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))
    # Whether a Demucs download could start is the tests' to say, not the network's: nothing listens on port
    # 1 (tests/test_separate_port.py opens a port of its own where a download must look possible).
    os.environ["SOUNDFORGE_MODEL_HOSTS"] = "127.0.0.1:1"
    url = os.environ.get("SOUNDFORGE_TEST_REDIS_URL")
    if not url:
        _redis = EmbeddedRedis(_scratch / "redis")
        url = _redis.start()
    os.environ["REDIS_URL"] = url


def stop() -> None:
    global _scratch, _redis
    if _redis is not None:
        _redis.stop()
        _redis = None
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None
