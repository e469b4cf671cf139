"""Demucs a segment at a time: the file is read, separated and written in apply_model's own segments, with its
overlaps, cross-fade weights and shift trick, so the stems equal ``apply_model`` on the whole file while
memory stays flat whatever the length (tests/test_separate_port.py checks both). Imports no Django.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from .audio_stream import Resampler, StemWriter, Window, frames


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
