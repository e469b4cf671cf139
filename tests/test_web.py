"""soundforge.web, the daphne a web process runs: a response's body is taken from the application only as
fast as the client reads it, and a request's body is handed over in large pieces."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests import streaming_app
from tracks.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_a_slow_reader_holds_the_application_back(tmp_path: Path) -> None:
    """Twisted buffers whatever it is given: without the pause, all 64 MB would sit in the web process while
    a client that reads nothing waits; with it, the app is held once the connection's buffers are full."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "soundforge.web", "-b", "127.0.0.1", "-p", str(port),
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
        three_mb = urllib.request.Request(f"http://127.0.0.1:{port}/pieces", data=bytes(3 << 20))
        with urllib.request.urlopen(three_mb, timeout=10) as answer:  # noqa: S310 (the http:// URL above)
            assert int(answer.read()) <= 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)
