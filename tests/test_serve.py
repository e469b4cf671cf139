"""`manage.py serve` (what `make run` ends in): starts Redis, daphne, the workers and the warm analyzer; Ctrl-C
stops them all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tracks.dev_redis import free_port, redis_answers

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

ROOT = Path(__file__).resolve().parent.parent


def test_it_serves_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SOUNDFORGE_VAR_DIR": str(tmp_path / "var"), "SOUNDFORGE_MEDIA_ROOT": str(tmp_path / "m")}
    env.pop("REDIS_URL", None)  # none configured: it must start its own
    env.pop("DATABASE_URL", None)
    # As `make run` does before serving: the pages need the collected, hashed static files.
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
                   env=env, check=True)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port), "--analysis-workers", "1",
         "--processing-workers", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    warm_socket = tmp_path / "var" / "run" / "analyzer.sock"
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                time.sleep(0.3)
        # Twisted parses a multipart body itself before daphne passes it on (and answers a malformed one with a
        # bare 400); the web processes leave bodies to Django (soundforge/runtime/web.py), whose answer this is.
        malformed = urllib.request.Request(f"http://127.0.0.1:{port}/tracks/upload/", data=b"not multipart",
                                           headers={"Content-Type": "multipart/form-data; boundary=XX"})
        malformed_answer = None
        try:
            urllib.request.urlopen(malformed, timeout=10)  # noqa: S310 (the http:// URL above)
        except urllib.error.HTTPError as exc:
            malformed_answer = (exc.code, exc.headers.get("Content-Security-Policy"))
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/s/a-secret-link-token/", timeout=10)
        except urllib.error.HTTPError:
            pass  # no such link: 404
        while time.monotonic() < deadline and not warm_socket.exists():
            time.sleep(0.3)
        warm_started = warm_socket.exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        lines = out.splitlines()
    assert status == 200, out
    # Django's CSRF check answered it
    assert malformed_answer and malformed_answer[0] == 403 and "script-src" in malformed_answer[1]
    assert proc.returncode == 0, out
    assert warm_started, out  # the warm analyzer listened on its socket ...
    assert not warm_socket.exists()  # ... and took it away when it stopped
    assert any(f"SoundForge is running at http://127.0.0.1:{port}/" in line for line in lines)
    redis_url = next(m[1] for line in lines if (m := re.search(r"embedded Redis at (\S+)", line)))
    assert not redis_answers(redis_url)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
        raise AssertionError("the web server is still answering")
    except OSError:
        pass
    assert lines[-1] == "Stopped."
    # The access log has the request, not the key to the track.
    assert any('"GET /s/[token]/' in line for line in lines), out
    assert "a-secret-link-token" not in out


def test_it_says_so_and_starts_nothing_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {**os.environ, "SOUNDFORGE_VAR_DIR": str(tmp_path / "var")}
        env.pop("REDIS_URL", None)
        proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert not (tmp_path / "var" / "redis").exists()  # no embedded Redis was started
