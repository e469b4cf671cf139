"""Run a port by hand, as ADR-002 says anyone can: a real subprocess, its JSON stdout and progress lines."""

from __future__ import annotations

import json
import subprocess

from tracks.ports.host import runner


def run(port: str, *args: str, env: dict[str, str], timeout: float = 300) -> tuple[int, dict, list[dict]]:
    """``python -m tracks.ports.<port> ARGS`` with ``env`` (and the repository importable)."""
    proc = subprocess.run([*runner.port(port).command(), *args], capture_output=True, text=True,
                          env=runner.port_env(env), timeout=timeout)
    progress = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{"progress"')]
    return proc.returncode, json.loads(proc.stdout), progress
