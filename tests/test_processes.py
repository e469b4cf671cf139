"""Process groups and stop signals (tracks/ports/host/processes.py), on real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tracks.ports.host import processes

# A leader that starts a grandchild in its group, then waits; with "stubborn" it ignores SIGTERM.
FAMILY = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def family(kind: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", FAMILY, kind], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, int(proc.stdout.readline())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_a_group_that_stops_on_term_goes_at_once_with_what_it_started() -> None:
    proc, grandchild = family("polite")
    started = time.monotonic()
    processes.stop_groups([proc], grace=60)
    assert time.monotonic() - started < 20  # long before the grace
    assert proc.returncode == -signal.SIGTERM
    deadline = time.monotonic() + 20
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_group_that_ignores_term_is_killed_after_the_grace() -> None:
    proc, grandchild = family("stubborn")
    started = time.monotonic()
    processes.stop_groups([proc], grace=0.5)
    assert 0.4 < time.monotonic() - started < 20
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.2)
    assert not alive(grandchild)


def test_a_group_already_gone_is_no_error() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    proc.wait()
    processes.stop_groups([proc], grace=0.1)
    assert not processes.signal_group(proc.pid, signal.SIGTERM)


def test_the_stop_flag_ends_a_sleep_when_signalled() -> None:
    flag = processes.StopFlag()
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        flag.install()
        assert not flag and not flag.sleep(0.01)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
        started = time.monotonic()
        assert flag.sleep(120)
        assert time.monotonic() - started < 30 and flag
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
