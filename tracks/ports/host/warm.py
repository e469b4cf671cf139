"""A warm start for ports: a process that has imported a port and its libraries once, and forks a fresh
child for every job.

    python -m tracks.ports.host.warm --socket /path/to/analyzer.sock --port analyzer

Importing librosa and loading numba's compiled functions costs seconds per process, more than analysing a
song. This server pays it once; each job is still its own process (ADR-002's crash isolation), forked from
the warm one, in its own session, with the caller's stdin, stdout and stderr. Imports no Django.

Protocol, one request per connection on a Unix socket: the client sends one JSON line
``{"argv": [...], "env": {...}}`` with three file descriptors (stdin, stdout, stderr) attached; the server
answers ``{"pid": n}`` once the child runs and ``{"exit": code, "maxrss_kb": n}`` when it ends (code < 0: the
signal that killed it). If the client goes away first (its worker died), the child's group is killed.
The client is here too (:func:`start`, :class:`WarmProcess`); ports/host/runner.py calls it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import processes

logger = logging.getLogger(__name__)
MAX_REQUEST = 1 << 20
WARM_PORTS = ("analyzer",)


def warm_up() -> None:
    """Fill numba's cache if nobody has (jit_cache.py), then pass through every compiled function once so
    all of them are loaded here, before any fork; read the beat network too."""
    from .. import analyzer
    from ..lib import jit_cache

    def warm_up() -> None:
        jit_cache.run_every_port(analyzer.main)

    if not jit_cache.ensure_filled(warm_up):
        warm_up()
    from ..lib import beats

    try:
        beats.load()  # the beat network's weights, read once
    except beats.Unavailable:
        pass  # each analysis falls back to librosa and says so


def child(port: Any, listener: socket.socket, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the port's own process, run it, exit with its code. Never returns."""
    code = 1
    try:
        listener.close()
        conn.close()
        signal.set_wakeup_fd(-1)
        os.setsid()  # its own process group: the runner kills the group
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
        sys.argv = [port.__file__, *request["argv"]]
        from ..port_protocol import run

        code = run(port.main, list(request["argv"]), port.FAILURE_KIND)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # whatever happens, the child must not return into the server
        code = 1
    finally:
        os._exit(code)


def serve(socket_path: str, name: str) -> None:
    port = importlib.import_module(f"..{name}", __package__)  # a program of tracks.ports
    os.makedirs(os.path.dirname(os.path.abspath(socket_path)), exist_ok=True)
    warm_up()
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector.register(wakeup_r, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"ready": socket_path, "pid": os.getpid()}), flush=True)
    while not stopping:
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is listener:
                accept(port, listener, selector, children)
            elif key.fileobj == wakeup_r:
                os.read(wakeup_r, 4096)
            else:
                # A client went away (or wrote more): its child goes too.
                conn = key.fileobj
                pid = next((p for p, c in children.items() if c is conn), None)
                if pid is not None and not conn.recv(1, socket.MSG_PEEK):
                    processes.signal_group(pid, signal.SIGKILL)
                    selector.unregister(conn)
        reap(children, selector)
    for pid in list(children):
        processes.signal_group(pid, signal.SIGKILL)
    listener.close()
    os.unlink(socket_path)


def accept(port: Any, listener: socket.socket, selector: selectors.BaseSelector,
           children: dict[int, socket.socket]) -> None:
    conn, _ = listener.accept()
    try:
        conn.settimeout(5)
        message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request = json.loads(message.decode("utf-8"))
        if len(fds) != 3 or not isinstance(request.get("argv"), list):
            raise ValueError("a request is one JSON object with argv and three file descriptors")
        name = port.__name__.rpartition(".")[2]
        if request.get("port", name) != name:
            raise ValueError(f"this server runs {name}, not {request['port']}")
    except (OSError, ValueError) as exc:
        for fd in locals().get("fds", []):
            os.close(fd)
        try:
            conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
        finally:
            conn.close()
        return
    pid = os.fork()
    if pid == 0:
        child(port, listener, conn, request, fds)
    for fd in fds:
        os.close(fd)
    children[pid] = conn
    print(json.dumps({"forked": pid, "argv": request["argv"]}), flush=True)
    try:
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:
        processes.signal_group(pid, signal.SIGKILL)
    selector.register(conn, selectors.EVENT_READ)


def reap(children: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    while children:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"exited": pid, "code": code, "maxrss_kb": usage.ru_maxrss}), flush=True)
        try:
            conn.sendall(json.dumps({"exit": code, "maxrss_kb": usage.ru_maxrss}).encode() + b"\n")
        except OSError:
            pass
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()


# The client: the runner asks a warm server for a port.


class WarmProcess:
    """A port forked by a warm server, with the little of Popen's face the runner uses:
    ``pid`` (also its process group), ``wait``, ``returncode`` and the ``stdout``/``stderr`` pipes."""

    def __init__(self, conn: socket.socket, pid: int, stdout: Any, stderr: Any, args: list[str]) -> None:
        self.conn, self.pid, self.stdout, self.stderr, self.args = conn, pid, stdout, stderr, args
        self.returncode: int | None = None
        self.maxrss_kb = 0
        self._buffer = b""

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
                if "exit" in message:
                    self.returncode = int(message["exit"])
                    self.maxrss_kb = int(message.get("maxrss_kb") or 0)
                    self.conn.close()
                continue
            # Past the deadline (or ``timeout=0``): one more look at what has already arrived, without waiting.
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.conn.settimeout(left)
            try:
                chunk = self.conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
            if not chunk:
                # The warm server is gone without a word: make sure the child is too, and say it was killed.
                processes.signal_group(self.pid, signal.SIGKILL)
                self.returncode = -signal.SIGKILL
                self.conn.close()
            self._buffer += chunk
        return self.returncode


def start(warm_socket: str, name: str, args: Sequence[str], env: dict[str, str] | None) -> WarmProcess | None:
    """Ask the warm server on ``warm_socket`` to fork the port ``name``; None when there is none or it says no
    (the caller then starts a cold process)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        conn.settimeout(5)
        conn.connect(warm_socket)
        request = {"port": name, "argv": list(args), "env": env or {}}
        socket.send_fds(conn, [json.dumps(request).encode("utf-8")], [devnull, out_w, err_w])
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                raise OSError("the warm server closed the connection")
            reply += chunk
        message = json.loads(reply)
        if "pid" not in message:
            raise OSError(message.get("error", "no pid in the reply"))
    except (OSError, ValueError) as exc:
        logger.info("no warm start from %s (%s); starting %s cold", warm_socket, exc, name)
        conn.close()
        for fd in (out_r, err_r):
            os.close(fd)
        return None
    finally:
        for fd in (out_w, err_w, devnull):
            os.close(fd)
    return WarmProcess(conn, int(message["pid"]), os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"), [name, *args])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Serve warm forks of a port on a Unix socket.")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--port", default="analyzer", choices=WARM_PORTS)
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    serve(args.socket, args.port)


if __name__ == "__main__":
    main(sys.argv[1:])
