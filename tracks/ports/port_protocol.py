"""What every port shares: ADR-002's error object and exit codes, progress lines, argument errors, peaks.

Ports run as modules of this package (``python -m tracks.ports.<port>``, the repository root on the path).
Standard library and numpy only; imports no Django.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from .contract import ErrorKind

_stderr_lock = threading.Lock()


class PortFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Parser(argparse.ArgumentParser):
    """Argument errors become an ``invalid_arguments`` failure instead of argparse's usage text and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, message)


def progress(fraction: float, stage: str, **extra: Any) -> None:
    """One progress line on stderr; ``t`` is when it was composed (Unix time). The runner stamps when it
    reads the line, which the pages carry along (bench/load.py measures from there to the screen); a port
    short of CPU may write a while after composing."""
    line = json.dumps({"progress": round(fraction, 4), "stage": stage, "t": round(time.time(), 4), **extra})
    with _stderr_lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


NO_SPACE = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
            errno.EFBIG: "an output file reached the size limit"}
FULL_MARGIN = 1 << 20


def out_of_space(path: str) -> str | None:
    """Why writing ``path`` failed, when it was for want of space: the file at the per-file size limit
    (RLIMIT_FSIZE, which the runner sets) or its disk (nearly) full; None otherwise. Writers that turn an
    OSError into their own exception (libsndfile) are judged by the state they leave."""
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    try:
        if limit != resource.RLIM_INFINITY and os.path.getsize(path) > limit - FULL_MARGIN:
            return no_space(errno.EFBIG)
        disk = os.statvfs(os.path.dirname(path) or ".")
    except OSError:
        return None
    return NO_SPACE[errno.ENOSPC] if disk.f_bavail * disk.f_frsize < FULL_MARGIN else None


def no_space(code: int) -> str:
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if code == errno.EFBIG and limit != resource.RLIM_INFINITY:
        return f"{NO_SPACE[code]} of {limit / 2**20:g} MB"
    return NO_SPACE[code]


def disk_full(why: str) -> PortFailure:
    return PortFailure(ErrorKind.DISK_FULL, f"ran out of space writing its output: {why}")


def r(value: Any, digits: int = 5) -> float:
    return round(float(value), digits)


def waveform_peaks(y: np.ndarray, points: int) -> dict[str, Any]:
    """Min and max of ``points`` equal slices of a mono signal, for drawing."""
    points = max(1, min(points, y.size))
    edges = np.linspace(0, y.size, points + 1).astype(int)
    lo = np.minimum.reduceat(y, edges[:-1])
    hi = np.maximum.reduceat(y, edges[:-1])
    return {"points": points, "min": [r(v, 4) for v in lo], "max": [r(v, 4) for v in hi]}


def centred_piece(y: np.ndarray, first: int, count: int, hop: int, size: int) -> np.ndarray:
    """The stretch of ``y`` that frames ``first`` to ``first + count`` cover, frame i being the ``size``
    samples centred on sample ``i * hop`` (zeros beyond the ends), as librosa's and madmom's centred frames
    are: frame ``first + k`` starts at ``k * hop`` in it."""
    lo = first * hop - size // 2
    hi = lo + (count - 1) * hop + size
    piece = y[max(lo, 0):max(min(hi, y.size), 0)]
    return np.pad(piece, (max(0, -lo), hi - lo - piece.size - max(0, -lo)))


def run(main: Callable[[list[str]], dict[str, Any]], argv: list[str], failure_kind: str) -> int:
    """Run a port's ``main``: its result on stdout and exit 0, or the error object and a non-zero exit.

    Anything ``main`` raises that is not a :class:`PortFailure` is reported as ``failure_kind`` with the
    exception's type and text, because the job needs one clear message rather than a traceback.
    """
    # Libraries print (torch hub's "Downloading: ..."); stdout is kept for the one JSON object.
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        try:
            result = main(argv)
        except PortFailure:
            raise
        except MemoryError:
            raise PortFailure(failure_kind, "ran out of memory") from None
        except OSError as exc:
            if exc.errno in NO_SPACE:
                raise disk_full(no_space(exc.errno)) from exc
            raise PortFailure(failure_kind, f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise PortFailure(failure_kind, f"{type(exc).__name__}: {exc}") from exc
    except PortFailure as failure:
        real_stdout.write(json.dumps({"error": failure.kind, "message": failure.message}) + "\n")
        real_stdout.flush()
        return 2 if failure.kind == ErrorKind.INVALID_ARGUMENTS else 1
    real_stdout.write(json.dumps(result) + "\n")
    real_stdout.flush()
    return 0
