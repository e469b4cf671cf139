"""Analyzer port speed and memory on a 3-minute MP3, against a plain librosa script measured in the same run.

    .venv/bin/python bench/analysis_speed.py [song.mp3] [--runs 3]

Without a file it synthesizes a 3-minute stereo 44.1 kHz MP3. Each figure is a whole process, start-up
included (what a user waits for), with peak RSS from the kernel's rusage. The plain script is the original
system's approach: `librosa.load` at the native rate, then each feature computed on its own from the signal.
Both run once untimed first so numba's cache is warm for both.

Three ways of running the port are measured: cold (`python analyzer.py ...`, a new interpreter that imports
librosa and loads numba's cache), warm (what `manage.py serve`'s workers do: the runner asks a warm server,
tracks/ports/host/warm.py, started once beforehand and not timed, to fork the job's process; wall time is the
runner's, from request to parsed result) and, for the warm child, its own peak RSS from the server's wait4.
A forked child's RSS counts the pages it shares with the warm server, so the warm server's own resident
size is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import measure  # noqa: E402
from tracks.ports.host import runner, warm  # noqa: E402


def warm_run(socket_path: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """One analysis forked by the warm server through the runner: wall seconds and the child's peak RSS."""
    started = time.perf_counter()
    proc = warm.start(socket_path, "analyzer", args, env)
    if proc is None:
        raise SystemExit("the warm server did not answer")
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read()
    proc.stderr.read()
    if proc.wait() != 0:
        raise SystemExit(f"the warm analysis failed with status {proc.returncode}")
    return time.perf_counter() - started, proc.maxrss_kb / 1024


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

PLAIN = """
import sys, json, librosa, numpy as np
y, sr = librosa.load(sys.argv[1], sr=None)
tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
out = {
    "tempo": float(np.atleast_1d(tempo)[0]),
    "beats": librosa.frames_to_time(beats, sr=sr).tolist(),
    "chroma": chroma.mean(axis=1).tolist(),
    "rms": float(librosa.feature.rms(y=y).mean()),
    "centroid": float(librosa.feature.spectral_centroid(y=y, sr=sr).mean()),
    "rolloff": float(librosa.feature.spectral_rolloff(y=y, sr=sr).mean()),
    "bandwidth": float(librosa.feature.spectral_bandwidth(y=y, sr=sr).mean()),
    "flatness": float(librosa.feature.spectral_flatness(y=y).mean()),
    "contrast": librosa.feature.spectral_contrast(y=y, sr=sr).mean(axis=1).tolist(),
    "mfcc": librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13).mean(axis=1).tolist(),
}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", nargs="?", help="an audio file (default: a synthesized 3-minute MP3)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    env = runner.port_env({"NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))})
    with tempfile.TemporaryDirectory() as tmp:
        if args.audio:
            path = Path(args.audio)
        else:
            from tests import audio

            path = audio.write_encoded(Path(tmp) / "song.mp3", audio.song("D", "minor", 97.0, 180.0, sr=44100),
                                       sr=44100, channels=2)
        plain = Path(tmp) / "plain_librosa.py"
        plain.write_text(PLAIN)
        port = [*runner.port("analyzer").command(), str(path),
                "--features", "tempo,key,energy,spectral,mfcc,chroma", "--output", "json"]
        baseline = [sys.executable, str(plain), str(path)]
        results: dict[str, list[tuple[float, float]]] = {"port": [], "plain": [], "warm": []}
        for cmd in (port, baseline):
            measure(cmd, env)  # warm-up: numba cache, page cache
        socket_path = str(Path(tmp) / "analyzer.sock")
        server = subprocess.Popen([*runner.warm_server().command(), "--socket", socket_path],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert server.stdout is not None
        server.stdout.readline()  # {"ready": ...}: imported and warmed up
        server_rss = _rss_mb(server.pid)
        try:
            for _ in range(args.runs):
                for name, cmd in (("port", port), ("plain", baseline)):
                    results[name].append(measure(cmd, env))
                results["warm"].append(warm_run(socket_path, port[2:], env))
        finally:
            server.terminate()
            server.wait()

    size_mb = path.stat().st_size / 2**20 if args.audio else None
    print(f"input: {args.audio or 'synthesized 180 s stereo 44.1 kHz MP3'}"
          + (f" ({size_mb:.1f} MB)" if size_mb else ""))
    print(f"runs: {args.runs} each, interleaved, after one warm-up; cpus: {os.cpu_count()}")
    print(f"{'':24}{'wall s (median)':>16}{'wall s (min)':>14}{'peak RSS MB':>13}")
    labels = (("plain", "plain librosa script"), ("port", "port, cold start"), ("warm", "port, warm fork"))
    for name, label in labels:
        walls = [w for w, _ in results[name]]
        rss = max(r for _, r in results[name])
        print(f"{label:24}{statistics.median(walls):>16.2f}{min(walls):>14.2f}{rss:>13.0f}")
    print(f"warm server's own RSS before the runs: {server_rss:.0f} MB (shared with each forked child)")
    plain = statistics.median(w for w, _ in results["plain"])
    targets = {"port": "<= 0.5, and peak RSS <= 400 MiB", "warm": "<= 0.25"}
    for name, label in labels[1:]:
        print(f"{label} / plain wall-time ratio: {statistics.median(w for w, _ in results[name]) / plain:.2f}"
              f"   (target {targets[name]})")


if __name__ == "__main__":
    main()
