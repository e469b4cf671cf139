"""soundforge.runtime.web, the daphne a web process runs: a response's body is taken from the application only as
fast as the client reads it, a request's body is handed over in large pieces, and a body past its limit or
one that stops arriving is refused before it is read."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import streaming_app
from tracks.dev_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
SESSION = "sessionid=abc"


@contextlib.contextmanager
def web(**env: str) -> Iterator[int]:
    """soundforge.runtime.web serving tests/streaming_app.py; yields its port once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "soundforge.runtime.web", "-b", "127.0.0.1", "-p", str(port),
                             "tests.streaming_app:application"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sent", timeout=10):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def answer_to(port: int, head: str, body: bytes = b"", timeout: float = 10) -> tuple[bytes, float]:
    """Send a request's head and the start of its body, then read the answer: its bytes (till its declared
    length, or till the server closes), and how long it took to come."""
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.settimeout(timeout)
        started = time.monotonic()
        client.sendall((head + "Connection: close\n").replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = bytearray()
        with contextlib.suppress(ConnectionResetError):
            while not _whole(received) and (chunk := client.recv(65536)):
                received += chunk
        return bytes(received), time.monotonic() - started


def _whole(answer: bytearray) -> bool:
    head, sep, body = bytes(answer).partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                   if line.startswith(b"content-length:")), None)
    return bool(sep) and length is not None and len(body) >= length


def test_a_body_past_its_limit_is_refused_before_it_is_read() -> None:
    with web(SOUNDFORGE_MAX_UPLOAD_MB="5") as port:
        # Anonymous (no session cookie): a log-in form's worth at most, answered from the declared length.
        head = f"POST /login/ HTTP/1.1\nHost: x\nContent-Length: {64 << 20}\n"
        answer, seconds = answer_to(port, head, b"username=a&")
        assert answer.startswith(b"HTTP/1.1 413") and b"limit of 64 KB" in answer and seconds < 2
        # Signed in: the upload limit and the form around the file; a huge declared length with a small body.
        head = f"POST /pieces HTTP/1.1\nHost: x\nCookie: {SESSION}\nContent-Length: 10000000000\n"
        answer, seconds = answer_to(port, head, b"x" * 100)
        assert answer.startswith(b"HTTP/1.1 413") and b"limit of 6 MB" in answer and seconds < 2
        # A chunked body declares nothing: refused once it grows past the limit.
        chunk = b"%x\r\n%s\r\n" % (32 << 10, b"x" * (32 << 10))
        answer, _ = answer_to(port, "POST /pieces HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n", chunk * 3)
        assert answer.startswith(b"HTTP/1.1 413")
        # Within the limits, the application answers.
        answer, _ = answer_to(port, "POST /pieces HTTP/1.1\nHost: x\nContent-Length: 1000\n", bytes(1000))
        assert answer.startswith(b"HTTP/1.1 200")
        answer, _ = answer_to(port, f"POST /pieces HTTP/1.1\nHost: x\nCookie: {SESSION}\nContent-Length: {4 << 20}\n",
                              bytes(4 << 20))
        assert answer.startswith(b"HTTP/1.1 200")


def test_a_client_that_keeps_sending_reads_the_413() -> None:
    """curl, a tus client or a script sends the whole body whatever the server said: the refusal must still
    reach it. Closed at once, the unread body turned into a reset ("broken pipe") before the 413 was read."""
    with web(SOUNDFORGE_MAX_UPLOAD_MB="5") as port:
        body = bytes(24 << 20)
        for auth in (f"Cookie: {SESSION}", "Authorization: Bearer sf_x"):
            head = f"POST /pieces HTTP/1.1\nHost: x\n{auth}\nContent-Length: {len(body)}\nExpect: 100-continue\n"
            answer, seconds = answer_to(port, head, body)  # sendall: every byte is taken
            assert answer.startswith(b"HTTP/1.1 413") and b"limit of 6 MB" in answer, answer[:200]
            assert b"100 Continue" not in answer and seconds < 10
        # A token counts as signed in: a body under the upload limit is handed on.
        answer, _ = answer_to(port, f"POST /pieces HTTP/1.1\nHost: x\nAuthorization: Bearer sf_x\n"
                                    f"Content-Length: {1 << 20}\n", bytes(1 << 20))
        assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.slow
def test_a_body_that_stops_arriving_is_timed_out() -> None:
    with web(SOUNDFORGE_BODY_IDLE_S="1") as port:
        answer, seconds = answer_to(port, f"POST /pieces HTTP/1.1\nHost: x\nCookie: {SESSION}\nContent-Length: 1000\n",
                                    b"x" * 10)
        assert answer.startswith(b"HTTP/1.1 408") and 0.9 < seconds < 5


@pytest.mark.slow
def test_a_slow_reader_holds_the_application_back(tmp_path: Path) -> None:
    """Twisted buffers whatever it is given: without the pause, all 64 MB would sit in the web process while
    a client that reads nothing waits; with it, the app is held once the connection's buffers are full."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "soundforge.runtime.web", "-b", "127.0.0.1", "-p", str(port),
                             "tests.streaming_app:application"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    total = streaming_app.PIECE * streaming_app.PIECES

    def sent() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sent", timeout=10) as answer:
            return int(answer.read())

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert sent() == 0
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            client.connect(("127.0.0.1", port))
            client.sendall(f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            received = bytearray()
            while b"\r\n\r\n" not in received:
                received += client.recv(64 * 1024)
            time.sleep(1.5)  # reading nothing
            held_at = sent()
            head, _, first = bytes(received).partition(b"\r\n\r\n")
            body = bytearray(first)
            while len(body) < total:
                chunk = client.recv(1 << 20)
                assert chunk, "the connection closed early"
                body += chunk
        assert held_at < total // 4, f"{held_at / 2**20:.0f} MB taken from the app while nothing was read"
        assert head.startswith(b"HTTP/1.1 200") and len(body) == total
        assert all(body[i * streaming_app.PIECE] == i % 256 for i in range(streaming_app.PIECES))
        assert sent() == total  # and then it went on to the end

        # A request's body comes to the application a megabyte at a time (daphne's own pieces are 8 KB).
        three_mb = urllib.request.Request(f"http://127.0.0.1:{port}/pieces", data=bytes(3 << 20),
                                          headers={"Cookie": SESSION})
        with urllib.request.urlopen(three_mb, timeout=10) as answer:  # noqa: S310 (the http:// URL above)
            assert int(answer.read()) <= 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)
