"""Runs a port: one subprocess per job, speaking ADR-002's protocol.

A port prints exactly one JSON object on stdout and exits 0, or prints ``{"error": ..., "message": ...}`` and
exits non-zero. Progress arrives as JSON lines on stderr (``{"progress": 0.4, "stage": "key"}``). Whatever
the port does — hang, crash, flood memory, print garbage — the caller gets a :class:`PortResult` or a
:class:`PortError` with a message a person can read, and the port's whole process group is gone.

This module imports no Django so that it can be used (and tested) on its own.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import ErrorKind
from . import processes, warm

logger = logging.getLogger(__name__)

PORTS_DIR = Path(__file__).resolve().parent.parent
ROOT = PORTS_DIR.parent.parent  # the repository: tracks.ports is importable from here
PORTS_PACKAGE = __package__.rpartition(".")[0]  # the programs sit above this package
STDERR_TAIL_LINES = 40
POLL_S = 0.1
SPAWN = Path(__file__).with_name("spawn.py")
KILL_GRACE_S = 2.0


@dataclass(frozen=True)
class Progress:
    fraction: float
    stage: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PortResult:
    data: dict[str, Any]
    seconds: float
    stderr_tail: str


class PortError(Exception):
    """A port failed. ``kind`` is the port's own error type or one of the runner's:
    ``timeout``, ``memory_limit``, ``crashed``, ``exited``, ``bad_output``, ``cancelled``, ``not_started``."""

    def __init__(self, kind: str, message: str, stderr_tail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.stderr_tail = stderr_tail


def spawned(command: Sequence[str], *, die_with_parent: bool = True, max_file_bytes: int | None = None,
            nice: int = 0) -> list[str]:
    """``command`` (``python ...``) started through spawn.py, which in the child before the program: has the
    kernel KILL it if this process dies first (Linux), so a worker killed mid-job never leaves an orphan port
    running; with ``max_file_bytes``, makes it unable to write any file past that size (the kernel's
    RLIMIT_FSIZE: a write past it fails with EFBIG, which the port reports), so a runaway port cannot fill the
    disk; with ``nice``, has it yield the CPU to the web server."""
    python, *rest = command
    return [python, "-I", "-S", str(SPAWN), str(os.getpid() if die_with_parent else 0), str(max_file_bytes or 0),
            str(nice), *rest]


@dataclass(frozen=True)
class Port:
    """What the runner starts: ``python *argv``, called ``name`` in messages."""

    name: str
    argv: tuple[str, ...]

    def command(self, python: str | None = None) -> list[str]:
        return [python or sys.executable, *self.argv]


def port(name: str) -> Port:
    """A port of this package, run as ``python -m tracks.ports.<name>`` (the repository root on PYTHONPATH)."""
    return Port(name, ("-m", f"{PORTS_PACKAGE}.{name}"))


def warm_server() -> Port:
    """The warm analyzer (host/warm.py), run as ``python -m tracks.ports.host.warm``."""
    return Port("warm", ("-m", f"{__package__}.warm"))


def script(path: Path | str) -> Port:
    """Any script run as ``python PATH`` (the tests' misbehaving ports)."""
    return Port(Path(path).name, (os.fspath(path),))


def port_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a port starts in: ours plus ``env``, with this package importable from anywhere."""
    merged = {**os.environ, **(env or {})}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), merged.get("PYTHONPATH")]))
    return merged


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (0 when it is gone or /proc is not there)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _read_stderr(stream: Any, progress: queue.Queue[Progress], tail: collections.deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        parsed = None
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("progress"), int | float):
            fraction = min(1.0, max(0.0, float(parsed.pop("progress"))))
            stage = str(parsed.pop("stage", ""))
            parsed["read_at"] = time.time()  # when the line came out of the pipe: the port has written it
            progress.put(Progress(fraction, stage, parsed))
        else:
            tail.append(line)
    stream.close()


def _read_all(stream: Any, sink: list[bytes]) -> None:
    sink.append(stream.read())
    stream.close()


def run_port(
    target: Port | Path | str,
    args: Sequence[str],
    *,
    timeout: float,
    memory_limit_mb: int | None = None,
    max_file_mb: float | None = None,
    nice: int = 0,
    progress_interval: float = 0.0,
    on_progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    python: str | None = None,
    env: dict[str, str] | None = None,
    warm_socket: str | None = None,
) -> PortResult:
    """Run ``target`` (a :func:`port`, or a script's path) with ``args`` and return its parsed JSON, or raise
    :class:`PortError`.

    ``on_progress`` and ``should_cancel`` are called from the calling thread, so they may use the
    database; ``should_cancel`` is asked about twice a second. With ``progress_interval``, ``on_progress``
    gets at most one line per interval on average, the newest, after a first few at once (see _ProgressPump).
    With ``warm_socket``, the port is forked by that warm server (ports/host/warm.py) when one answers there, and
    started cold otherwise.
    ``max_file_mb`` caps the size of every file a cold-started port writes (warm ones write none); ``nice``
    lowers its CPU priority (the warm server is started niced as a whole).
    """
    target = target if isinstance(target, Port) else script(target)
    started = time.monotonic()
    proc: subprocess.Popen[bytes] | warm.WarmProcess | None = None
    if warm_socket and os.path.exists(warm_socket):
        proc = warm.start(warm_socket, target.name, args, env)
    try:
        proc = proc or subprocess.Popen(
            spawned([*target.command(python), *args], max_file_bytes=int(max_file_mb * 2**20) if max_file_mb else None,
                    nice=nice),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a kill reaches its children too
            env=port_env(env),
        )
    except OSError as exc:
        raise PortError(ErrorKind.NOT_STARTED, f"could not start {target.name}: {exc}") from exc

    progress = _ProgressPump(on_progress, progress_interval)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    stdout: list[bytes] = []
    readers = [
        threading.Thread(target=_read_stderr, args=(proc.stderr, progress.lines, tail), daemon=True),
        threading.Thread(target=_read_all, args=(proc.stdout, stdout), daemon=True),
    ]
    for reader in readers:
        reader.start()

    limit_bytes = memory_limit_mb * 1024 * 1024 if memory_limit_mb else None
    deadline = started + timeout
    next_cancel_check = 0.0
    failure: PortError | None = None
    try:
        while True:
            # Woken by a progress line as soon as it is read (pages show it without a polling delay), else
            # every POLL_S to check the process, the clock, memory and cancellation.
            progress.pump(POLL_S)
            try:
                proc.wait(timeout=0)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now > deadline:
                failure = PortError(ErrorKind.TIMEOUT, f"timed out after {timeout:g} s and was stopped")
                break
            if limit_bytes and (rss := _rss_bytes(proc.pid)) > limit_bytes:
                failure = PortError(
                    ErrorKind.MEMORY_LIMIT,
                    f"used {rss / 2**20:.0f} MB, over the limit of {memory_limit_mb} MB, and was stopped",
                )
                break
            if should_cancel and now >= next_cancel_check:
                next_cancel_check = now + 0.5
                if should_cancel():
                    failure = PortError(ErrorKind.CANCELLED, "cancelled by its caller")
                    break
    finally:
        # Always reap the whole group: on failure, on success (stray children), and if a callback raised.
        processes.stop_groups([proc], KILL_GRACE_S)  # TERM the port's group, KILL what is left after the grace
        for reader in readers:
            reader.join(timeout=5)
    progress.flush()

    seconds = time.monotonic() - started
    stderr_tail = "\n".join(tail)
    if failure is not None:
        failure.stderr_tail = stderr_tail
        raise failure
    return _parse_outcome(target.name, proc.returncode, b"".join(stdout), stderr_tail, seconds)


class _ProgressPump:
    """Hands the progress lines the reader thread queues to ``on_progress``, in the calling thread: every
    line in order; or, with an ``interval``, at most one per interval on average, the newest (progress is a
    state: a line superseded before its turn is dropped). A burst of up to BURST lines (an analysis's quick
    stages) goes out at once; beyond that a line is held back and goes out as soon as its turn comes."""

    BURST = 3

    def __init__(self, on_progress: Callable[[Progress], None] | None, interval: float) -> None:
        self.lines: queue.Queue[Progress] = queue.Queue()
        self.on_progress, self.interval = on_progress, interval
        self.held: Progress | None = None
        self.tokens, self.stamp = float(self.BURST), time.monotonic()  # a token bucket, full

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(float(self.BURST), self.tokens + (now - self.stamp) / self.interval)
        self.stamp = now

    def pump(self, wait: float) -> None:
        """Wait up to ``wait`` seconds for a line (less when one held back falls due), then deliver."""
        if self.held is not None:
            self._refill()
            wait = min(wait, max(0.0, (1.0 - self.tokens) * self.interval))
        try:
            arrived = [self.lines.get(timeout=wait) if wait > 0 else self.lines.get_nowait()]
        except queue.Empty:
            arrived = []
        while True:
            try:
                arrived.append(self.lines.get_nowait())
            except queue.Empty:
                break
        if self.interval <= 0:
            for item in arrived:
                self._deliver(item)
            return
        self.held = arrived[-1] if arrived else self.held
        if self.held is not None:
            self._refill()
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self._deliver(self.held)

    def flush(self) -> None:
        """The port is done: whatever is left goes out now."""
        self.interval, held = 0.0, self.held
        if held is not None:
            self._deliver(held)
        self.pump(0)

    def _deliver(self, item: Progress) -> None:
        self.held = None
        if self.on_progress:
            self.on_progress(item)


def _parse_outcome(name: str, returncode: int, out: bytes, stderr_tail: str, seconds: float) -> PortResult:
    if returncode < 0:
        try:
            signame = signal.Signals(-returncode).name
        except ValueError:
            signame = f"signal {-returncode}"
        raise PortError(ErrorKind.CRASHED, f"{name} crashed ({signame})", stderr_tail)

    try:
        data = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        data = None

    if returncode != 0:
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            message = str(data.get("message") or data["error"])
            raise PortError(data["error"], message, stderr_tail)
        raise PortError(ErrorKind.EXITED, f"{name} exited with status {returncode}", stderr_tail)

    if not isinstance(data, dict):
        snippet = out[:120].decode("utf-8", "replace").strip() or "nothing"
        raise PortError(ErrorKind.BAD_OUTPUT, f"{name} printed {snippet!r} instead of one JSON object", stderr_tail)
    if "error" in data:
        raise PortError(str(data["error"]), str(data.get("message") or data["error"]), stderr_tail)
    return PortResult(data=data, seconds=seconds, stderr_tail=stderr_tail)
