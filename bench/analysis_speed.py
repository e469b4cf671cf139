"""Analyzer port speed and memory on a 3-minute MP3, against a plain librosa script measured in the same run.

    .venv/bin/python bench/analysis_speed.py [song.mp3] [--runs 3]

Without a file it synthesizes a 3-minute stereo 44.1 kHz MP3. Each figure is a whole process, start-up
included (what a user waits for), with peak RSS from the kernel's rusage. The plain script is the original
system's approach: `librosa.load` at the native rate, then each feature computed on its own from the signal.
Both run once untimed first so numba's cache is warm for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import measure  # noqa: E402

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

    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))}
    with tempfile.TemporaryDirectory() as tmp:
        if args.audio:
            path = Path(args.audio)
        else:
            from tests import audio

            path = audio.write_encoded(Path(tmp) / "song.mp3", audio.song("D", "minor", 97.0, 180.0, sr=44100),
                                       sr=44100, channels=2)
        plain = Path(tmp) / "plain_librosa.py"
        plain.write_text(PLAIN)
        port = [sys.executable, str(ROOT / "tracks" / "ports" / "analyzer.py"), str(path),
                "--features", "tempo,key,energy,spectral,mfcc,chroma", "--output", "json"]
        baseline = [sys.executable, str(plain), str(path)]
        results: dict[str, list[tuple[float, float]]] = {"port": [], "plain": []}
        for cmd in (port, baseline):
            measure(cmd, env)  # warm-up: numba cache, page cache
        for _ in range(args.runs):
            for name, cmd in (("port", port), ("plain", baseline)):
                results[name].append(measure(cmd, env))

    size_mb = path.stat().st_size / 2**20 if args.audio else None
    print(f"input: {args.audio or 'synthesized 180 s stereo 44.1 kHz MP3'}"
          + (f" ({size_mb:.1f} MB)" if size_mb else ""))
    print(f"runs: {args.runs} each, interleaved, after one warm-up; cpus: {os.cpu_count()}")
    print(f"{'':24}{'wall s (median)':>16}{'wall s (min)':>14}{'peak RSS MB':>13}")
    for name, label in (("port", "analyzer port"), ("plain", "plain librosa script")):
        walls = [w for w, _ in results[name]]
        rss = max(r for _, r in results[name])
        print(f"{label:24}{statistics.median(walls):>16.2f}{min(walls):>14.2f}{rss:>13.0f}")
    ratio = statistics.median(w for w, _ in results["port"]) / statistics.median(w for w, _ in results["plain"])
    print(f"port / plain wall-time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
