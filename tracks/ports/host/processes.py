"""Process groups and stop signals, for everything here that runs children: ``manage.py serve``, the
recovery loop, the port runner and the warm analyzer. Each child runs in a session of its own (so a
terminal's Ctrl-C reaches only its supervisor) and is stopped as a whole group, with whatever it started.

Stdlib only: the ports and the application both import it as ``tracks.ports.host.processes``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol


class Waitable(Protocol):
    """What stop_groups needs of a child: Popen, or the runner's WarmProcess."""

    pid: int

    def wait(self, timeout: float | None = None) -> Any: ...


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False when it is gone (or not ours)."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_groups(children: Iterable[Waitable], grace: float) -> None:
    """TERM each child's process group, give them ``grace`` seconds in all to exit, then KILL each group
    (again even when its leader is gone: what it left behind in the group goes too) and reap the leaders."""
    children = list(children)
    for child in children:
        signal_group(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        signal_group(child.pid, signal.SIGKILL)
        child.wait()


class StopFlag:
    """Set by SIGINT or SIGTERM once ``install``ed: a supervisor's loop runs while it is not, and sleeps on it
    (a signal ends the sleep at once)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> StopFlag:
        signal.signal(signal.SIGINT, self.set)
        signal.signal(signal.SIGTERM, self.set)
        return self

    def set(self, *_: object) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if told to stop meanwhile."""
        return self._event.wait(max(0.0, seconds))
