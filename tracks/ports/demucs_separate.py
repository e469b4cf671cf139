"""The separation port: split one audio file into stems and print one JSON object (ADR-002).

    python -m tracks.ports.demucs_separate song.mp3 --output-dir out/ --model htdemucs

Prints ``{"stems": {"vocals": "out/vocals.wav", ...}, "previews": {...} (with ``--previews``), "model": ...,
"device": ..., "sample_rate": ..., "duration": ..., "seconds": ...}`` and exits 0, or prints ``{"error": type,
"message": text}`` and exits non-zero, where type is one of ``invalid_arguments``, ``file_not_found``,
``decode_error``, ``model_unavailable``, ``separation_failed``. Progress goes to stderr as JSON lines
``{"progress": 0..1, "stage": name, "eta": seconds}``, at every chunk and at least every 2 seconds.

Models are demucs 4.1's own (``demucs.pretrained.get_model``, ``demucs.apply.apply_model``): weights from
``--models-dir`` (a local demucs repo of ``<sig>-<sha8>.th`` files and bag ``.yaml`` files) or, without it,
demucs's normal download. ``--model dsp`` needs no weights at all (see dsp_engine.py).

Memory stays flat whatever the length: the file is read, separated and written a segment at a time. The
segments, their overlaps and their cross-fade weights are exactly those ``apply_model`` uses on the whole
file (same ``--segment``, ``--overlap`` and shift trick), so the result matches ``python -m demucs.separate``
and no audio is separated twice. Stems keep the input's sample rate and length. Imports no Django.

This file is the command line and the run; demucs_models.py loads the model, demucs_stream.py separates.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from .contract import BUILT_IN_MODEL, DEFAULT_MODEL, FORMATS, MODELS, STEM_PREVIEW_SUFFIX, ErrorKind
from .lib.audio_stream import StemWriter, scan
from .lib.demucs_models import list_models, load_model, pick_device
from .lib.demucs_stream import count_chunks, separate_demucs
from .port_protocol import Parser, PortFailure, progress, r, run

PEAKS = 800
HEARTBEAT_S = 1.0


def parse_args(argv: list[str]) -> Any:
    parser = Parser(prog="python -m tracks.ports.demucs_separate", description="Separate an audio file into stems.")
    parser.add_argument("audio_path", nargs="?")
    parser.add_argument("--output-dir")
    parser.add_argument("--list-models", action="store_true",
                        help="print which models can be loaded here (and why not), then exit")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"one of {', '.join(MODELS)}, or a local signature")
    parser.add_argument("--models-dir", help="local demucs repo; default: $SOUNDFORGE_MODELS_DIR or download")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--format", default="wav", choices=FORMATS)
    parser.add_argument("--bit-depth", type=int, default=16, choices=[16, 24, 32])
    parser.add_argument("--bitrate", type=int, default=320, help="MP3 kbps")
    parser.add_argument("--previews", action="store_true",
                        help=f"also write <stem>{STEM_PREVIEW_SUFFIX} beside each stem, for listening")
    parser.add_argument("--segment", type=float, help="seconds per segment (default: the model's)")
    parser.add_argument("--shifts", type=int, default=1, help="random shifts averaged (demucs's shift trick)")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--seed", type=int, help="seed the shift trick, for repeatable output")
    args = parser.parse_args(argv)
    args.models_dir = args.models_dir or os.environ.get("SOUNDFORGE_MODELS_DIR") or None
    if args.list_models:
        return args
    if args.audio_path is None or args.output_dir is None:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "give an audio path and --output-dir (or --list-models)")
    if not 0 <= args.shifts <= 20:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--shifts must be between 0 and 20")
    if not 0 <= args.overlap < 1:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--overlap must be at least 0 and under 1")
    if args.segment is not None and not 0.5 <= args.segment <= 600:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--segment must be between 0.5 and 600 seconds")
    if not 32 <= args.bitrate <= 320:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "--bitrate must be between 32 and 320 kbps")
    return args


class Heartbeat:
    """Progress lines: exact ones at each finished chunk, estimated ones in between at least every second.

    The estimate moves through the current chunk at the pace the earlier chunks went, never reaching the
    chunk's end before it is done, so what is reported only ever rises. No time left is given until a chunk
    is done: before there is a pace, an estimate would only climb with every second the first chunk takes.
    """

    def __init__(self, total: int, stage: str) -> None:
        self.total = max(1, total)
        self.stage = stage
        self._done = 0
        self._began = self._last_done_at = time.monotonic()
        self._reported = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._emit(0.0)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def step(self) -> None:
        with self._lock:
            self._done += 1
            self._last_done_at = time.monotonic()
        self._emit(self._done / self.total)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                done, elapsed = self._done, time.monotonic() - self._began
                since = time.monotonic() - self._last_done_at
            per_chunk = elapsed / done if done else max(elapsed * 2, 1.0)
            within = min(0.95, since / per_chunk)
            self._emit((done + within) / self.total)

    def _emit(self, fraction: float) -> None:
        with self._lock:
            fraction = max(self._reported, min(1.0, fraction))
            self._reported = fraction
            elapsed = time.monotonic() - self._began
            paced = self._done > 0
        eta = elapsed * (1 - fraction) / fraction if paced and fraction > 0.01 else None
        progress(fraction, self.stage, eta=None if eta is None else round(eta, 1))


def main(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    args = parse_args(argv)
    if args.list_models:
        return list_models(args.models_dir)
    if not os.path.isfile(args.audio_path):
        raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {args.audio_path}")
    os.makedirs(args.output_dir, exist_ok=True)
    progress(0.0, "loading model")
    if args.model == BUILT_IN_MODEL:
        from . import analyzer
        from .lib import dsp_engine, jit_cache

        jit_cache.ensure_filled(lambda: jit_cache.run_every_port(analyzer.main),
                                on_wait=lambda: progress(0.0, "compiling (first separation only)"))

        sources, rate, device, model = list(dsp_engine.SOURCES), None, "cpu", None
    else:
        model = load_model(args.model, args.models_dir)
        device = pick_device(args.device)
        sources, rate = list(model.sources), model.samplerate
    progress(0.0, "reading")
    info = scan(args.audio_path, rate)
    writers = {
        name: StemWriter(os.path.join(args.output_dir, f"{name}.{args.format}"), args.format, info.sample_rate,
                         info.frames, args.bit_depth, args.bitrate, PEAKS, preview=args.previews)
        for name in sources
    }
    try:
        if model is None:
            with Heartbeat(dsp_engine.count_blocks(info), "separating") as beat:
                dsp_engine.separate(args.audio_path, info, writers, beat.step)
        else:
            with Heartbeat(count_chunks(args, info, model), "separating") as beat:
                separate_demucs(args, info, model, device, writers, beat.step)
        progress(1.0, "writing")
        written = {name: writer.close() for name, writer in writers.items()}
    except BaseException:
        for writer in writers.values():
            _remove(writer.path)
            if writer.preview is not None:
                _remove(writer.preview.path)
        raise
    return {
        "stems": {name: w["path"] for name, w in written.items()},
        "previews": {name: w["preview"] for name, w in written.items() if w["preview"]},
        "model": args.model,
        "sources": sources,
        "device": device,
        "format": args.format,
        "sample_rate": info.sample_rate,
        "channels": 2,
        "frames": info.frames,
        "duration": r(info.duration, 3),
        "stem_info": {name: {"rms": w["rms"], "peaks": w["peaks"]} for name, w in written.items()},
        "seconds": r(time.monotonic() - started, 3),
    }


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.SEPARATION_FAILED))
