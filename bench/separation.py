"""Separation port against `python -m demucs.separate`, measured in the same run, and the dsp engine's SDR.

    .venv/bin/python bench/separation.py [--corpus /tmp/sfa-dev] [--parts ratio,memory,big-memory,dsp]
                                         [--device cpu|cuda] [--minutes 1,10,60]

- ratio: wall time of the port and of the CLI on a 30-second clip with the htdemucs-sized random model
  (the published architecture, ~42 M parameters, random weights: the same compute as the real thing).
- memory: peak RSS of port and CLI side by side for 1, 10 and 60 minute inputs with the tiny test model,
  so the figure measures audio buffers, not weights.
- big-memory: the same for 1 and 10 minutes with the htdemucs-sized model (slow on a CPU: ~1.7 s per
  second of audio on 2 cores).
- dsp: the dsp engine's SDR per stem on a labelled corpus folder (../shared/corpus), with fast_bss_eval
  (bss_eval SDR, 512-tap distortion filter, over the whole piece, each channel on its own).

Both programs are whole processes, start-up and model loading included; both use the default shift trick
(one random shift) and overlap. Inputs are synthesized (tests/audio.py), stereo 44.1 kHz WAV.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import measure  # noqa: E402
from tests import audio, demucs_models  # noqa: E402
from tracks.ports.host import runner  # noqa: E402

PORT = runner.port("demucs_separate").command()
os.environ["PYTHONPATH"] = runner.port_env()["PYTHONPATH"]  # for the port processes this starts
SR = 44100


def write_song(path: Path, seconds: float) -> Path:
    """A stereo song of any length, written ten seconds at a time."""
    left = audio.song("A", "minor", 100.0, 10.0, sr=SR)
    right = audio.song("C", "major", 100.0, 10.0, sr=SR)
    piece = np.stack([left, right], axis=1) * 0.8
    total = int(seconds * SR)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=2, subtype="PCM_16") as out:
        for start in range(0, total, piece.shape[0]):
            out.write(piece[: total - start])
    return path


def port_cmd(song: Path, repo: Path, out: Path, device: str) -> list[str]:
    return [*PORT, str(song), "--output-dir", str(out), "--models-dir", str(repo),
            "--device", device]


def cli_cmd(song: Path, repo: Path, out: Path, device: str) -> list[str]:
    return [sys.executable, "-m", "demucs.separate", "-n", "htdemucs", "--repo", str(repo), "-o", str(out),
            "-d", device, str(song)]


def ratio(work: Path, device: str) -> None:
    repo = work / "big"
    demucs_models.save_random_model(repo, "htdemucs", "htdemucs")
    song = write_song(work / "clip-30s.wav", 30)
    port_s, _ = measure(port_cmd(song, repo, work / "out-port", device))
    cli_s, _ = measure(cli_cmd(song, repo, work / "out-cli", device))
    print(f"ratio ({device}, htdemucs-sized, 30 s clip): port {port_s:.1f} s, demucs.separate {cli_s:.1f} s, "
          f"port/CLI {port_s / cli_s:.3f} (target <= 1.05); port {port_s / 30:.3f} s per second of audio")


def memory(work: Path, device: str, size: str, minutes: list[float]) -> None:
    repo = work / size
    if not repo.exists():
        demucs_models.save_random_model(repo, "htdemucs", size)
    print(f"peak RSS ({device}, {size} model)   port MB    CLI MB    port s     CLI s")
    rows = []
    for m in minutes:
        song = write_song(work / f"song-{m:g}min.wav", m * 60)
        port_s, port_mb = measure(port_cmd(song, repo, work / "out-port", device))
        cli_s, cli_mb = measure(cli_cmd(song, repo, work / "out-cli", device))
        rows.append((m, port_mb, cli_mb))
        print(f"  {m:5g} min {'':17} {port_mb:8.0f}  {cli_mb:8.0f}  {port_s:8.1f}  {cli_s:8.1f}", flush=True)
        song.unlink()
    if len(rows) > 1:
        print(f"  port growth from {rows[0][0]:g} to {rows[-1][0]:g} min: {rows[-1][1] - rows[0][1]:.0f} MB")


def dsp(corpus: Path) -> None:
    import fast_bss_eval

    sources = ("drums", "bass", "other", "vocals")
    scores: dict[str, list[float]] = {s: [] for s in sources}
    pieces = sorted(p for p in corpus.iterdir() if (p / "labels.json").is_file())
    for piece in pieces:
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run([*PORT, str(piece / "mix.wav"), "--output-dir", out,
                                   "--model", "dsp"], capture_output=True, text=True)
            result = json.loads(proc.stdout)
            if proc.returncode:
                raise SystemExit(f"dsp failed on {piece.name}: {result}")
            for s in sources:
                ref = sf.read(str(piece / f"{s}.wav"), always_2d=True, dtype="float64")[0].T
                est = sf.read(result["stems"][s], always_2d=True, dtype="float64")[0].T
                n = min(ref.shape[1], est.shape[1])
                sdr = [fast_bss_eval.sdr(ref[c : c + 1, :n], est[c : c + 1, :n])[0] for c in range(ref.shape[0])]
                scores[s].append(float(np.mean(sdr)))
    means = {s: float(np.mean(v)) for s, v in scores.items()}
    print(f"dsp engine SDR on {len(pieces)} corpus pieces (dB, mean over pieces; Demucs published: 9.0 average):")
    for s in sources:
        print(f"  {s:7} {means[s]:6.2f}")
    print(f"  average {np.mean(list(means.values())):6.2f}  (plain HPSS + REPET-SIM + low-pass: about -1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="ratio,memory,dsp")
    parser.add_argument("--corpus", type=Path, help="a folder made by ../shared/corpus/make_corpus.py")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--minutes", default="1,10,60", help="input lengths for the tiny-model memory part")
    parser.add_argument("--big-minutes", default="1,10", help="input lengths for the htdemucs-sized part")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    env_note = f"torch threads: {os.cpu_count()} cores"
    print(f"bench/separation.py ({env_note}, device {args.device})", flush=True)
    with tempfile.TemporaryDirectory(prefix="sf-bench-") as tmp:
        work = Path(tmp)
        if "ratio" in parts:
            ratio(work, args.device)
        if "memory" in parts:
            memory(work, args.device, "tiny", [float(m) for m in args.minutes.split(",")])
        if "big-memory" in parts:
            memory(work, args.device, "htdemucs", [float(m) for m in args.big_minutes.split(",")])
    if "dsp" in parts:
        if not args.corpus:
            raise SystemExit("the dsp part needs --corpus DIR")
        dsp(args.corpus)


if __name__ == "__main__":
    main()
