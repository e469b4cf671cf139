"""The separation port: split one audio file into stems and print one JSON object (ADR-002).

    python tracks/ports/demucs_separate.py song.mp3 --output-dir out/ --model htdemucs

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
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from typing import Any

import demucs_repo
import numpy as np
from audio_stream import FORMATS, Resampler, StemWriter, Window, frames, scan
from port_protocol import Parser, PortFailure, progress, r, run

DEMUCS_MODELS = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx_extra")
MODELS = (*DEMUCS_MODELS, "dsp")
PEAKS = 800
HEARTBEAT_S = 1.0


def parse_args(argv: list[str]) -> Any:
    parser = Parser(prog="demucs_separate.py", description="Separate an audio file into stems.")
    parser.add_argument("audio_path", nargs="?")
    parser.add_argument("--output-dir")
    parser.add_argument("--list-models", action="store_true",
                        help="print which models can be loaded here (and why not), then exit")
    parser.add_argument("--model", default="htdemucs", help=f"one of {', '.join(MODELS)}, or a local signature")
    parser.add_argument("--models-dir", help="local demucs repo; default: $SOUNDFORGE_MODELS_DIR or download")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--format", default="wav", choices=FORMATS)
    parser.add_argument("--bit-depth", type=int, default=16, choices=[16, 24, 32])
    parser.add_argument("--bitrate", type=int, default=320, help="MP3 kbps")
    parser.add_argument("--previews", action="store_true",
                        help="also write <stem>.preview.mp3 beside each stem, for listening (listen-only links)")
    parser.add_argument("--segment", type=float, help="seconds per segment (default: the model's)")
    parser.add_argument("--shifts", type=int, default=1, help="random shifts averaged (demucs's shift trick)")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--seed", type=int, help="seed the shift trick, for repeatable output")
    args = parser.parse_args(argv)
    args.models_dir = args.models_dir or os.environ.get("SOUNDFORGE_MODELS_DIR") or None
    if args.list_models:
        return args
    if args.audio_path is None or args.output_dir is None:
        raise PortFailure("invalid_arguments", "give an audio path and --output-dir (or --list-models)")
    if not 0 <= args.shifts <= 20:
        raise PortFailure("invalid_arguments", "--shifts must be between 0 and 20")
    if not 0 <= args.overlap < 1:
        raise PortFailure("invalid_arguments", "--overlap must be at least 0 and under 1")
    if args.segment is not None and not 0.5 <= args.segment <= 600:
        raise PortFailure("invalid_arguments", "--segment must be between 0.5 and 600 seconds")
    if not 32 <= args.bitrate <= 320:
        raise PortFailure("invalid_arguments", "--bitrate must be between 32 and 320 kbps")
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


# -- models ------------------------------------------------------------------------------------------------


def list_models(models_dir: str | None) -> dict[str, Any]:
    """Every model this port knows, whether it can load here now (demucs_repo.where), and if not why and
    what to do; ``dsp`` always can."""
    found = [{"name": "dsp", "available": True, "reason": "", "source": "built in"}]
    for name in DEMUCS_MODELS:
        try:
            source, reason = demucs_repo.where(name, models_dir)
        except PortFailure as exc:
            source, reason = "", exc.message
        found.append({"name": name, "available": not reason, "reason": reason, "source": source})
    return {"models": found, "models_dir": models_dir}


def load_model(name: str, models_dir: str | None) -> Any:
    """The demucs model or bag, from the local repo when given, else by demucs's normal download."""
    from pathlib import Path

    source, reason = demucs_repo.where(name, models_dir)  # in well under 3 s, whatever the network
    if reason:
        raise PortFailure("model_unavailable", f"model {name!r} cannot be loaded here: {reason}")
    if source == "download on first use":
        progress(0.0, f"downloading {name} (first use)")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from demucs.pretrained import get_model
    from demucs.repo import ModelLoadingError

    repo = Path(models_dir) if source == "models folder" else None
    try:
        return get_model(name, repo=repo)
    except ModelLoadingError as exc:
        where = f"in {models_dir}" if repo else "online (no SOUNDFORGE_MODELS_DIR is set)"
        raise PortFailure(
            "model_unavailable",
            f"model {name!r} is not available {where}: {exc.args[0] if exc.args else exc}. Put its weights "
            f"({name}.yaml and the <signature>-<sha8>.th files it lists, from demucs's remote repo) into "
            "the folder SOUNDFORGE_MODELS_DIR names.",
        ) from exc
    except SystemExit as exc:  # demucs calls fatal() (sys.exit) for some bad repos
        raise PortFailure("model_unavailable", f"model {name!r} could not be loaded: {exc}") from exc
    except Exception as exc:
        if repo is None and _is_network_error(exc):
            raise PortFailure(
                "model_unavailable",
                f"model {name!r} could not be downloaded ({type(exc).__name__}). On a machine without "
                "internet, put its weights in a folder and point SOUNDFORGE_MODELS_DIR at it.",
            ) from exc
        raise PortFailure("model_unavailable", f"the weights of {name!r} are unreadable: "
                                               f"{type(exc).__name__}: {exc}") from exc


def _is_network_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"LocalEntryNotFoundError", "ConnectionError", "URLError", "OfflineModeIsEnabled",
                         "MaxRetryError", "HTTPError", "gaierror", "TimeoutError"})


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def pick_device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise PortFailure("invalid_arguments", "--device cuda was asked for but torch sees no CUDA device")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


# -- the streaming separation ---------------------------------------------------------------------------


class Lane:
    """One pass of the shift trick: the mix delayed by ``-delay`` frames, cut into apply_model's segments.

    In this lane's coordinates ``s = t - delay`` (``delay`` <= 0), the signal is ``x[t]`` with zeros outside
    the file, and its length is ``length - delay``: exactly the shifted TensorChunk apply_model builds.
    """

    def __init__(self, delay: int, length: int, stride: int, weight: Any, sources: int) -> None:
        self.delay = delay
        self.length = length - delay
        self.offsets = list(range(0, self.length, stride))
        self.next = 0  # index into offsets
        self._weight = weight
        self._base = 0  # lane position of _out[..., 0]
        self._out = np.zeros((sources, 2, 0), dtype=np.float32)
        self._sum = np.zeros(0, dtype=np.float32)
        self.ready = np.zeros((sources, 2, 0), dtype=np.float32)  # finished output not yet written

    @property
    def done(self) -> bool:
        return self.next >= len(self.offsets)

    def add(self, offset: int, chunk_out: np.ndarray) -> None:
        n = chunk_out.shape[-1]
        end = offset + n
        grow = end - (self._base + self._sum.size)
        if grow > 0:
            self._out = np.concatenate([self._out, np.zeros((*self._out.shape[:2], grow), np.float32)], axis=-1)
            self._sum = np.concatenate([self._sum, np.zeros(grow, np.float32)])
        w = self._weight[:n]
        self._out[..., offset - self._base : end - self._base] += w * chunk_out
        self._sum[offset - self._base : end - self._base] += w
        self.next += 1
        # No later segment starts before the next offset, so everything up to there is final.
        final = self.offsets[self.next] if not self.done else self.length
        keep = final - self._base
        if keep > 0:
            finished = self._out[..., :keep] / self._sum[:keep]
            self._out, self._sum = self._out[..., keep:], self._sum[keep:]
            lo = self._base + self.delay  # file frame of finished[..., 0]
            self._base = final
            cut = max(0, -lo)
            self.ready = np.concatenate([self.ready, finished[..., cut:]], axis=-1)


def separate_demucs(args: Any, info: Any, model: Any, device: str, writers: dict[str, StemWriter],
                    on_chunk: Any) -> None:
    import torch
    from demucs.apply import TensorChunk

    if args.seed is not None:
        random.seed(args.seed)
        torch.manual_seed(args.seed)
    sub_models, weights, segment, stride = plan(args, model)
    for sub_model in sub_models:
        sub_model.to(device).eval()
    rate = model.samplerate
    weight = torch.cat([torch.arange(1, segment // 2 + 1), torch.arange(segment - segment // 2, 0, -1)])
    weight = (weight / weight.max()).numpy().astype(np.float32)
    length = info.rate_frames
    max_shift = int(0.5 * rate)
    delays = [random.randint(0, max_shift) - max_shift for _ in range(args.shifts)] if args.shifts else [0]
    lanes = [Lane(d, length, stride, weight, len(model.sources)) for d in delays]
    # Context either side of a segment: apply_model pads a short segment from its neighbours.
    context = segment + max((m.valid_length(segment) - segment if hasattr(m, "valid_length") and
                             not _is_htdemucs(m) else 0) for m in sub_models) + 1024
    scale = info.std + 1e-8
    window = Window(_normalised(frames(args.audio_path, rate), info.mean, scale), length)
    back = {name: Resampler(rate, info.sample_rate) for name in writers}

    def flush(final: bool) -> None:
        n = min(lane.ready.shape[-1] for lane in lanes)
        if not n and not final:
            return
        mixed = sum(lane.ready[..., :n] for lane in lanes) / len(lanes)
        for lane in lanes:
            lane.ready = lane.ready[..., n:]
        mixed = mixed * scale + info.mean
        for k, name in enumerate(model.sources):
            block = back[name].push(mixed[k] if n else None)
            if final and n:
                block = np.concatenate([block, back[name].push(None)], axis=1)
            writers[name].write(block)

    while active := [lane for lane in lanes if not lane.done]:
        lane = min(active, key=lambda lane: lane.offsets[lane.next])
        offset = lane.offsets[lane.next]
        chunk_len = min(segment, lane.length - offset)
        lo = offset + lane.delay - context
        local = torch.from_numpy(window.get(lo, offset + lane.delay + chunk_len + context))
        out = run_bag(sub_models, weights, TensorChunk(local[None], context, chunk_len), args.segment, device,
                      on_chunk)
        lane.add(offset, out[0].cpu().numpy())
        window.trim(min((ln.offsets[ln.next] + ln.delay - context for ln in lanes if not ln.done), default=length))
        flush(final=False)
    flush(final=True)


def run_bag(models: list[Any], weights: list[list[float]], chunk: Any, segment: float | None, device: str,
            on_model: Any) -> Any:
    """One segment through every model of the bag, weighted per source: ``apply_model(split=False)``'s work
    without moving each model to the device again for every segment (a tenth of a second each on a big one).
    """
    import torch
    from demucs.utils import center_trim

    total: Any = 0.0
    for model, model_weights in zip(models, weights, strict=True):
        if _is_htdemucs(model) and segment is not None:
            valid = int(segment * model.samplerate)
        elif hasattr(model, "valid_length"):
            valid = model.valid_length(chunk.length)
        else:
            valid = chunk.length
        with torch.no_grad():
            out = center_trim(model(chunk.padded(valid).to(device)), chunk.length)
        total = total + out * torch.tensor(model_weights, device=out.device)[None, :, None, None]
        on_model()
    sums = torch.tensor(weights).sum(dim=0).to(total.device)
    return total / sums[None, :, None, None]


def _is_htdemucs(model: Any) -> bool:
    from demucs.htdemucs import HTDemucs

    return isinstance(model, HTDemucs)


def _normalised(blocks: Any, mean: float, scale: float) -> Any:
    for block in blocks:
        yield (block - mean) / scale


def plan(args: Any, model: Any) -> tuple[list[Any], list[list[float]], int, int]:
    """The bag's models and per-source weights, and the segment and stride in frames."""
    from demucs.apply import BagOfModels

    sub_models = list(model.models) if isinstance(model, BagOfModels) else [model]
    weights = model.weights if isinstance(model, BagOfModels) else [[1.0] * len(model.sources)]
    segment_s = args.segment if args.segment is not None else min(float(m.segment) for m in sub_models)
    segment = int(model.samplerate * segment_s)
    return sub_models, weights, segment, int((1 - args.overlap) * segment)


def count_chunks(args: Any, info: Any, model: Any) -> int:
    sub_models, _, _, stride = plan(args, model)
    lanes = max(1, args.shifts)
    # Each lane is up to half a second longer than the file; count its segments from its longest case.
    longest = info.rate_frames + (int(0.5 * model.samplerate) if args.shifts else 0)
    return lanes * len(sub_models) * len(range(0, longest, stride))


# -- the port ------------------------------------------------------------------------------------------------


def main(argv: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    args = parse_args(argv)
    if args.list_models:
        return list_models(args.models_dir)
    if not os.path.isfile(args.audio_path):
        raise PortFailure("file_not_found", f"no such file: {args.audio_path}")
    os.makedirs(args.output_dir, exist_ok=True)
    progress(0.0, "loading model")
    if args.model == "dsp":
        import dsp_engine
        import jit_cache

        jit_cache.ensure_filled(on_wait=lambda: progress(0.0, "compiling (first separation only)"))

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
    sys.exit(run(main, sys.argv[1:], "separation_failed"))
