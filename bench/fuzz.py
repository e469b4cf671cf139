"""The fuzz tests (tests/test_fuzz.py) run for longer: many more mutated and random files through the upload
path and the analyzer port, with how each run ended counted and printed.

    .venv/bin/python bench/fuzz.py [--examples 1000]

The CI run uses SOUNDFORGE_FUZZ_EXAMPLES=25 per test; this sets it higher. Any 500, half-stored upload,
crashing port or untyped port error fails with the smallest input hypothesis can shrink it to.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    env = {**os.environ, "SOUNDFORGE_FUZZ_EXAMPLES": str(args.examples)}
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "0",
                           "-s", "tests/test_fuzz.py"], cwd=ROOT, env=env)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
