"""numba's on-disk cache (``NUMBA_CACHE_DIR``), filled by one process alone.

librosa compiles its numba functions on first use and caches them on disk, so only the first port pays the
JIT (~20 s). But numba writes a gufunc's cache as two files, and two processes compiling the same gufunc at
once can leave two halves that do not match (numba/numba#10128, open): every later process that loads them
dies with SIGSEGV in librosa's beat tracker. With two analysis workers and the warm analyzer starting on an
empty cache, that is every analysis from then on.

So a port calls ``ensure_filled()`` first. The first to find the cache without the mark of this code fills
it under a lock: it empties the folder (whatever is there was written without the lock, maybe in halves),
runs ``warm_up()``, which passes through every function the ports compile, and leaves the mark. The others
wait for the lock and then load what it wrote. Stdlib only until the warm-up. It imports no port: each
caller hands it the warm-up, ``lambda: run_every_port(analyzer.main)``.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

PORTS_DIR = Path(__file__).resolve().parent.parent
# The ports whose librosa calls the warm-up covers: a change to any of them may compile something new.
COMPILING_PORTS = ("analyzer.py", "lib/beats.py", "lib/harmony.py", "lib/dsp_engine.py", "lib/jit_cache.py")
LOCK_NAME = ".lock"

_filling = False


@functools.cache
def mark_name() -> str:
    """The mark of a cache filled by this code with these libraries."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in COMPILING_PORTS:
        digest.update((PORTS_DIR / name).read_bytes())
    return f".filled-numba{version('numba')}-librosa{version('librosa')}-{digest.hexdigest()[:12]}"


def ensure_filled(warm_up: Callable[[], None], on_wait: Callable[[], None] | None = None) -> bool:
    """Return once the cache holds everything the ports compile, filling it first if nobody has (True if
    this process did). ``on_wait`` is called first when that takes a while (a port says so)."""
    global _filling
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if _filling or not folder:  # the warm-up's own ports; or numba caches beside librosa, which we leave be
        return False
    cache = Path(folder)
    mark = cache / mark_name()
    if mark.exists():
        return False
    if on_wait:
        on_wait()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process dies
        if mark.exists():  # filled while we waited
            return False
        for entry in cache.iterdir():
            if entry.name != LOCK_NAME:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        _filling = True
        try:
            warm_up()
        finally:
            _filling = False
        mark.touch()
    return True


def run_every_port(analyse: Callable[[list[str]], object]) -> None:
    """Pass through every numba function the ports use: an analysis (``analyse``: the analyzer's ``main``)
    with every feature and stems, and a dsp separation, on twelve seconds of synthetic sound (long enough for
    a tempo), and librosa's beat tracker, the analyzer's fallback."""
    import librosa
    import numpy as np
    import soundfile as sf

    from . import dsp_engine

    sr = 22050
    t = np.arange(sr * 12) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t)))).astype(np.float32)
    stereo = np.stack([y, 0.8 * y])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "warm.wav")
        sf.write(path, stereo.T, sr)
        stems = [f"--stem={name}={path}" for name in ("drums", "bass", "vocals")]
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
        os.dup2(devnull, 2)  # the warm-up's progress lines are nobody's
        try:
            analyse([path, "--features", "all", *stems])
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    dsp_engine.split(stereo, sr)
    librosa.beat.beat_track(y=y, sr=sr)
