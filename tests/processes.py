"""Looking at live processes from /proc, for tests that kill workers and ports and check nothing is left."""

from __future__ import annotations

import os


def with_marker(marker: str) -> list[int]:
    """Processes whose command line contains ``marker`` (a file path a port was given, say)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except (OSError, ValueError):
            continue
    return found


def children(pid: int) -> list[int]:
    """Every process under ``pid``, deepest last."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == parent:
                found.append(int(entry))
                frontier.append(int(entry))
    return found
