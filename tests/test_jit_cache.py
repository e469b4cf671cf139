"""numba's cache is filled by one process alone (tracks/ports/lib/jit_cache.py): ports started at once on an empty
cache used to write a gufunc's two cache files from different processes, and every later analysis died with
SIGSEGV (numba/numba#10128)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import audio, portcli
from tracks.ports.host import runner

FILLERS = 3


def _fill_at_once(tmp_path: Path, cache: Path, warm_up: str) -> list[subprocess.Popen[str]]:
    """FILLERS processes calling ensure_filled on ``cache`` at once, each with ``warm_up`` as its warm-up."""
    script = tmp_path / "fill.py"
    script.write_text(
        f"import os, sys, time\nsys.path.insert(0, {str(runner.ROOT)!r})\nfrom tracks.ports.lib import jit_cache\n\n"
        f"def warm_up():\n{textwrap.indent(textwrap.dedent(warm_up).strip(), '    ')}\n\n"
        "print(jit_cache.ensure_filled(warm_up))\n"
    )
    env = {"NUMBA_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    return [subprocess.Popen([sys.executable, str(script), str(i)], env=env, stdout=subprocess.PIPE, text=True)
            for i in range(FILLERS)]


@pytest.mark.slow
def test_one_process_fills_the_cache_and_the_others_wait_for_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "librosa_stale").mkdir()
    (cache / "librosa_stale" / "beat.__beat_tracker-1.py311.1.nbc").write_bytes(b"half of a gufunc")
    log = tmp_path / "warm.log"
    warm_up = f"""
        with open({str(log)!r}, "a") as f:
            f.write(f"start {{sys.argv[1]}}\\n")
        time.sleep(1.0)
        (jit_cache.Path(os.environ["NUMBA_CACHE_DIR"]) / "compiled.nbc").write_text(sys.argv[1])
        with open({str(log)!r}, "a") as f:
            f.write(f"end {{sys.argv[1]}}\\n")
    """
    fillers = _fill_at_once(tmp_path, cache, warm_up)
    answers = [p.communicate(timeout=60)[0].strip() for p in fillers]
    assert [p.returncode for p in fillers] == [0] * FILLERS
    assert sorted(answers) == ["False"] * (FILLERS - 1) + ["True"]  # one filled; the others waited, then used it
    lines = log.read_text().split()
    assert len(lines) == 4 and lines[0] == "start" and lines[2] == "end" and lines[1] == lines[3]
    assert not (cache / "librosa_stale").exists()  # what was there unlocked is gone, not loaded
    assert (cache / "compiled.nbc").read_text() == lines[1]
    marks = [p.name for p in cache.iterdir() if p.name.startswith(".filled-")]
    assert len(marks) == 1 and "numba" in marks[0] and "librosa" in marks[0]

    again = _fill_at_once(tmp_path, cache, warm_up)
    assert [p.communicate(timeout=60)[0].strip() for p in again] == ["False"] * FILLERS
    assert len(log.read_text().split()) == 4  # filled once is filled


def test_a_filler_that_dies_leaves_no_mark_and_the_next_one_fills(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    died = _fill_at_once(tmp_path, cache, "os._exit(3)")
    assert [p.wait(timeout=60) for p in died] == [3] * FILLERS  # each found it unfilled in turn, and died
    assert not [p for p in cache.iterdir() if p.name.startswith(".filled-")]
    filled = _fill_at_once(tmp_path, cache, "pass")
    assert sorted(p.communicate(timeout=60)[0].strip() for p in filled) == ["False"] * (FILLERS - 1) + ["True"]


@pytest.mark.slow
def test_analyses_started_at_once_on_an_empty_cache_all_succeed_and_so_does_the_next(tmp_path: Path,
                                                                                      port_env: dict[str, str]) -> None:
    wav = audio.write_wav(tmp_path / "song.wav", audio.song(bpm=120.0, seconds=12.0))
    env = {**port_env, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    analyses = [subprocess.Popen([*runner.port("analyzer").command(), str(wav)], env=runner.port_env(env),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(FILLERS)]
    results = [p.communicate(timeout=600) for p in analyses]
    assert [p.returncode for p in analyses] == [0] * FILLERS, [err[-2000:] for _, err in results]
    assert all(json.loads(out)["tempo"] > 0 for out, _ in results)
    stages = [[json.loads(line)["stage"] for line in err.splitlines() if line.startswith('{"progress"')]
              for _, err in results]
    assert all(s[0] == "compiling (first analysis only)" for s in stages)  # each said why it waited

    code, out, progress = portcli.run("analyzer", str(wav), env=env)
    assert code == 0, out  # this one crashed with SIGSEGV before the cache was filled alone
    assert out["tempo"] == json.loads(results[0][0])["tempo"]
    assert progress[0]["stage"] == "decoding"  # nothing to wait for now
