"""Run a port by hand, as ADR-002 says anyone can: a real subprocess, its JSON stdout and progress lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PORTS = Path(__file__).resolve().parent.parent / "tracks" / "ports"


def run(port: str, *args: str, env: dict[str, str], timeout: float = 300) -> tuple[int, dict, list[dict]]:
    proc = subprocess.run([sys.executable, str(PORTS / f"{port}.py"), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)
    progress = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{"progress"')]
    return proc.returncode, json.loads(proc.stdout), progress
