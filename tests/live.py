"""`manage.py serve` (web server, workers, recovery) as a real subprocess on the test's database, media and
var folder, for tests that restart what it depends on; and a logged-in HTTP session and websocket to it."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import worker_env
from tracks.dev_redis import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
_collected = False


def collect_static() -> None:
    """The served pages need the hashed static files (DEBUG is off), collected once per test session."""
    global _collected
    if not _collected:  # in a subprocess: the suite's own settings keep plain (unhashed) static storage
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
                       env=worker_env(), check=True)
        _collected = True


class Served:
    """``manage.py serve`` with the given Redis and settings (environment variables); ``start`` waits until
    the web server answers. Its output goes to ``log``, which a failing test can show."""

    def __init__(self, folder: Path, redis_url: str, analysis_workers: int = 1, processing_workers: int = 1,
                 **env: str) -> None:
        self.folder = folder
        self.log = folder / "serve.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = ["--port", str(self.port), "--analysis-workers", str(analysis_workers),
                     "--processing-workers", str(processing_workers)]
        self.env = {**worker_env(), "REDIS_URL": redis_url, "SOUNDFORGE_WARM_ANALYZER": "0", **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Served:
        collect_static()
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", *self.args],
                                            cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.url}/login/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"manage.py serve did not start:\n{self.output()}")
            time.sleep(0.2)

    def stop(self) -> None:
        stop_process(self.process, signal.SIGINT, grace_s=30)  # as Ctrl-C: serve stops its children in order
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def __enter__(self) -> Served:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- a person using it ------------------------------------------------------------------------------------

    def session(self, user: Any) -> requests.Session:
        """An HTTP session logged in as ``user`` (its session row in the shared database) with a CSRF token."""
        client = Client()
        client.force_login(user)
        http = requests.Session()
        token = secrets.token_hex(16)
        http.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        http.cookies.set(settings.CSRF_COOKIE_NAME, token)
        http.headers.update({"X-CSRFToken": token, "Referer": self.url + "/"})
        return http

    def upload(self, http: requests.Session, path: Path) -> requests.Response:
        with open(path, "rb") as f:
            return http.post(f"{self.url}/tracks/upload/", files={"file": (path.name, f)},
                             headers={"X-Requested-With": "XMLHttpRequest"}, timeout=60)

    def websocket(self, http: requests.Session, path: str) -> ClientConnection:
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        return connect(f"ws://127.0.0.1:{self.port}{path}", origin=self.url,
                       additional_headers={"Cookie": cookie}, open_timeout=10, legacy=True)


# The close codes after which a page opens its socket again: the htmx ws extension's (2.0.4) and ours
# (static/js/live.js).
RECONNECT_CODES = {1006, 1011, 1012, 1013, 4012}


class Page:
    """A page's websocket as the browser keeps it: opened again, after a pause, when the server closes it
    with one of RECONNECT_CODES; ``reconnects`` counts how often."""

    def __init__(self, served: Served, http: requests.Session, path: str) -> None:
        self.served, self.http, self.path = served, http, path
        self.reconnects = 0
        self.ws = served.websocket(http, path)

    def receive_until(self, wanted: str, timeout: float) -> str:
        """What arrives until a message containing ``wanted``; raises TimeoutError if none does."""
        deadline = time.monotonic() + timeout
        heard: list[str] = []
        while time.monotonic() < deadline:
            try:
                message = str(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                continue
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                if code not in RECONNECT_CODES:
                    raise
                self._reopen(deadline)
                continue
            heard.append(message)
            if wanted in message:
                return "".join(heard)
        raise TimeoutError(f"{wanted!r} never arrived; heard {len(heard)} messages")

    def _reopen(self, deadline: float) -> None:
        while True:
            time.sleep(0.5)
            try:
                self.ws = self.served.websocket(self.http, self.path)
                self.reconnects += 1
                return
            except (OSError, InvalidStatus, InvalidHandshake):
                if time.monotonic() > deadline:
                    raise

    def close(self) -> None:
        self.ws.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Until ``condition()`` holds; fails the test after ``timeout`` seconds, saying ``what`` it waited for."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
