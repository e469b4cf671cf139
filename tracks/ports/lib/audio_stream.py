"""Audio in and out a block at a time, so a port's memory does not grow with the length of the song.

Reading is PyAV (FFmpeg bundled in its wheel), resampled on the fly; writing is soundfile for WAV and FLAC
and lameenc for MP3, both streaming. Imports no Django.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract import STEM_PREVIEW_SUFFIX, ErrorKind, preview_name
from ..port_protocol import PortFailure, disk_full, out_of_space

MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# The original's preview: what a listen-only link's player plays instead of the original (MP3 plays in every
# browser's <audio>).
PREVIEW_KBPS = 128
# The stems' listening copies, which the mixer plays (and a listen-only link gets instead of the lossless
# stems): Ogg Opus at a bitrate listening tests call transparent, about a tenth of 16-bit WAV. Its header
# says how many samples of encoder delay to skip, so the decoded stems start on the original's sample 0 and
# stay on the analysis's beat grid (an MP3 without a gapless header starts 25 ms late).
STEM_PREVIEW_KBPS = 128
OPUS_RATE = 48000


@dataclass
class Scan:
    """What one pass over the file tells: its native rate and length, and the mix statistics at ``rate``."""

    sample_rate: int
    channels: int
    frames: int  # at the native rate
    rate: int
    rate_frames: int  # at ``rate``
    mean: float  # of the channel-averaged signal at ``rate``
    std: float  # unbiased, as torch computes it

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _open(path: str) -> Any:
    import av

    if not os.path.isfile(path):
        raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {path}")
    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise PortFailure(ErrorKind.DECODE_ERROR, f"could not open the audio: {exc}") from exc
    if not container.streams.audio:
        container.close()
        raise PortFailure(ErrorKind.DECODE_ERROR, "the file has no audio stream")
    return container


def _stereo(block: np.ndarray) -> np.ndarray:
    """Mono is copied to both sides (not mixed down 3 dB as FFmpeg's matrix would); extra channels dropped."""
    if block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    return block[:2]


def frames(path: str, rate: int | None = None) -> Iterator[np.ndarray]:
    """Decoded audio as stereo float32 arrays (2, n) of whatever size the decoder hands out."""
    import av

    container = _open(path)
    try:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", rate=rate or stream.rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield _stereo(out.to_ndarray())
            for out in resampler.resample(None):
                yield _stereo(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise PortFailure(ErrorKind.DECODE_ERROR, f"could not decode the audio: {exc}") from exc
    finally:
        container.close()


def header(path: str) -> tuple[int, float]:
    """The file's native sample rate and the length its header declares (0 when it declares none), read
    without decoding."""
    import av

    with _open(path) as container:
        stream = container.streams.audio[0]
        if stream.duration and stream.time_base:
            return stream.rate, float(stream.duration * stream.time_base)
        return stream.rate, (container.duration or 0) / av.time_base


def scan(path: str, rate: int | None = None) -> Scan:
    """Native length, and mean/std of the mix at ``rate`` (default native; Demucs normalises by them).

    One decode pass when ``rate`` is the native rate, a second one only to count native frames otherwise.
    """
    container = _open(path)
    with container:
        stream = container.streams.audio[0]
        sample_rate, channels = stream.rate, stream.channels
    rate = rate or sample_rate
    count, total, squares = 0, 0.0, 0.0
    for block in frames(path, rate):
        ref = block.mean(axis=0, dtype=np.float64)
        count += ref.size
        total += float(ref.sum())
        squares += float(np.dot(ref, ref))
    native = count if rate == sample_rate else sum(block.shape[1] for block in frames(path))
    if native < sample_rate // 10 or count < 2:
        raise PortFailure(ErrorKind.DECODE_ERROR, "the file holds no decodable audio")
    mean = total / count
    std = float(np.sqrt(max(0.0, (squares - count * mean * mean) / (count - 1))))
    return Scan(sample_rate, channels, native, rate, count, mean, std)


class Window:
    """A sliding view of the decoded signal: ask for any range at or after the last trim point."""

    def __init__(self, blocks: Iterator[np.ndarray], total: int) -> None:
        self._blocks = blocks
        self.total = total  # frames the file holds; reads past it are zeros
        self._start = 0
        self._data = np.zeros((2, 0), dtype=np.float32)

    def _fill(self, end: int) -> None:
        end = min(end, self.total)
        parts = [self._data]
        have = self._start + self._data.shape[1]
        while have < end:
            block = next(self._blocks, None)
            if block is None:
                # The decoder gave fewer frames than the scan counted: pad, the writer trims to length.
                block = np.zeros((2, end - have), dtype=np.float32)
            parts.append(block.astype(np.float32, copy=False))
            have += block.shape[1]
        if len(parts) > 1:
            self._data = np.concatenate(parts, axis=1)

    def get(self, start: int, end: int) -> np.ndarray:
        """Frames [start, end), zeros where that lies outside the file."""
        self._fill(end)
        out = np.zeros((2, end - start), dtype=np.float32)
        lo, hi = max(start, self._start, 0), min(end, self.total)
        if hi > lo:
            out[:, lo - start : hi - start] = self._data[:, lo - self._start : hi - self._start]
        return out

    def trim(self, before: int) -> None:
        """Forget frames before ``before``: they will not be asked for again."""
        drop = min(max(0, before - self._start), self._data.shape[1])
        if drop:
            self._data = self._data[:, drop:].copy()
            self._start += drop


class Resampler:
    """Streaming rate conversion of stereo float blocks (PyAV); identity when the rates match."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        import av

        self._same = from_rate == to_rate
        self._rate = from_rate
        if not self._same:
            self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=to_rate)

    def push(self, block: np.ndarray | None) -> np.ndarray:
        import av

        if self._same:
            return block if block is not None else np.zeros((2, 0), dtype=np.float32)
        frame = None
        if block is not None:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32), format="fltp",
                                               layout="stereo")
            frame.sample_rate = self._rate
        outs = [o.to_ndarray() for o in self._resampler.resample(frame)]
        return np.concatenate(outs, axis=1) if outs else np.zeros((2, 0), dtype=np.float32)


def mp3_encoder(sample_rate: int, kbps: int, quality: int) -> Any:
    """A stereo lameenc encoder (``quality`` 2 is near-best, 5 good and quick)."""
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(2)
    encoder.set_quality(quality)
    return encoder


def pcm16(block: np.ndarray) -> bytes:
    """Interleaved 16-bit PCM of a stereo float block in [-1, 1]."""
    return (block.T * 32767.0).round().astype("<i2").tobytes()


@contextlib.contextmanager
def space_for(path: str) -> Iterator[None]:
    """A write to ``path`` that failed for want of space says so (libsndfile hides the OSError behind its
    own)."""
    try:
        yield
    except Exception as exc:
        if why := out_of_space(path):
            raise disk_full(why) from exc
        raise


class PreviewWriter:
    """A compressed copy for listening, a block at a time: MP3 at ``kbps``, resampled to 44.1 kHz when MP3
    cannot hold the source's rate."""

    def __init__(self, path: str, sample_rate: int, kbps: int = PREVIEW_KBPS) -> None:
        self.path = path
        rate = sample_rate if sample_rate in MP3_RATES else 44100
        self._resampler = Resampler(sample_rate, rate)
        self._encoder = mp3_encoder(rate, kbps, quality=5)
        self._file: Any = open(path, "wb")  # closed in close()

    def write(self, block: np.ndarray | None) -> None:
        block = self._resampler.push(block)
        if block.shape[1]:
            with space_for(self.path):
                self._file.write(self._encoder.encode(pcm16(np.clip(block, -1.0, 1.0))))

    def close(self) -> str:
        self.write(None)
        with space_for(self.path):
            self._file.write(self._encoder.flush())
            self._file.close()
        return self.path


class OpusWriter:
    """A stem's listening copy, a block at a time: Ogg Opus at ``kbps``, resampled to 48 kHz (PyAV's libopus)."""

    def __init__(self, path: str, sample_rate: int, kbps: int = STEM_PREVIEW_KBPS) -> None:
        import av

        self.path = path
        self._rate = sample_rate
        self._container = av.open(path, "w", format="ogg")
        self._stream = self._container.add_stream("libopus", rate=OPUS_RATE)
        self._stream.bit_rate = kbps * 1000
        self._stream.layout = "stereo"
        self._resampler = av.AudioResampler(format="flt", layout="stereo", rate=OPUS_RATE)

    def _encode(self, frame: Any) -> None:
        with space_for(self.path):
            for resampled in self._resampler.resample(frame):
                for packet in self._stream.encode(resampled):
                    self._container.mux(packet)

    def write(self, block: np.ndarray) -> None:
        import av

        if block.shape[1]:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(block, -1.0, 1.0), dtype=np.float32),
                                               format="fltp", layout="stereo")
            frame.sample_rate = self._rate
            self._encode(frame)

    def close(self) -> str:
        self._encode(None)
        with space_for(self.path):
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        return self.path


class StemWriter:
    """Writes one stem a block at a time, cut or padded to exactly ``frames`` frames at ``sample_rate``.

    WAV and FLAC are PCM at ``bit_depth`` (16 or 24; WAV also 32 = float); MP3 is CBR at ``bitrate`` kbps.
    Samples are clamped to [-1, 1] — a streaming writer cannot rescale by a peak it has not seen yet.
    Keeps a running min/max per slice of the mono signal for the stem's waveform. With ``preview``, also
    writes a compressed copy for listening beside it (OpusWriter).
    """

    def __init__(self, path: str, fmt: str, sample_rate: int, frames: int, bit_depth: int, bitrate: int,
                 peaks: int, preview: bool = False) -> None:
        self.path = path
        self.preview = OpusWriter(preview_name(path, STEM_PREVIEW_SUFFIX), sample_rate) if preview else None
        self.frames = frames
        self.written = 0
        self._fmt = fmt
        self._edges = np.linspace(0, frames, max(1, min(peaks, frames)) + 1).astype(np.int64)
        self._lo = np.full(self._edges.size - 1, np.inf, dtype=np.float32)
        self._hi = np.full(self._edges.size - 1, -np.inf, dtype=np.float32)
        self._square = 0.0
        if fmt == "mp3":
            if sample_rate not in MP3_RATES:
                raise PortFailure(ErrorKind.INVALID_ARGUMENTS, f"MP3 cannot hold {sample_rate} Hz; choose wav or flac")
            self._encoder = mp3_encoder(sample_rate, bitrate, quality=2)
            self._file: Any = open(path, "wb")  # closed in close()
        else:
            import soundfile

            subtype = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}[bit_depth]
            if fmt == "flac" and bit_depth == 32:
                raise PortFailure(ErrorKind.INVALID_ARGUMENTS, "FLAC holds 16 or 24 bit; use wav for 32-bit float")
            self._file = soundfile.SoundFile(path, "w", samplerate=sample_rate, channels=2, subtype=subtype,
                                             format=fmt.upper())

    def write(self, block: np.ndarray) -> None:
        block = block[:, : self.frames - self.written]
        if not block.shape[1]:
            return
        block = np.clip(block, -1.0, 1.0).astype(np.float32, copy=False)
        self._track(block)
        with space_for(self.path):
            if self._fmt == "mp3":
                self._file.write(self._encoder.encode(pcm16(block)))
            else:
                self._file.write(block.T)
        if self.preview is not None:
            self.preview.write(block)
        self.written += block.shape[1]

    def _track(self, block: np.ndarray) -> None:
        mono = block.mean(axis=0)
        self._square += float(np.dot(mono, mono))
        start, end = self.written, self.written + mono.size
        first = max(0, int(np.searchsorted(self._edges, start, side="right")) - 1)
        last = min(self._lo.size, int(np.searchsorted(self._edges, end, side="left")))
        for i in range(first, last):
            lo, hi = max(self._edges[i], start) - start, min(self._edges[i + 1], end) - start
            if hi > lo:
                piece = mono[lo:hi]
                self._lo[i] = min(self._lo[i], piece.min())
                self._hi[i] = max(self._hi[i], piece.max())

    def close(self) -> dict[str, Any]:
        if self.written < self.frames:
            self.write(np.zeros((2, self.frames - self.written), dtype=np.float32))
        with space_for(self.path):
            if self._fmt == "mp3":
                self._file.write(self._encoder.flush())
            self._file.close()
        rms = float(np.sqrt(self._square / max(1, self.written)))
        return {
            "path": self.path,
            "preview": self.preview.close() if self.preview is not None else None,
            "frames": self.written,
            "rms": round(rms, 6),
            "peaks": {
                "points": int(self._lo.size),
                "min": [round(float(v), 4) for v in np.nan_to_num(self._lo, posinf=0.0)],
                "max": [round(float(v), 4) for v in np.nan_to_num(self._hi, neginf=0.0)],
            },
        }


def pan_gains(pan: float) -> tuple[float, float, float, float]:
    """Web Audio's StereoPannerNode on a stereo input (equal power), as (ll, rl, lr, rr): left out =
    ll*L + rl*R, right out = lr*L + rr*R. The download then sounds like the mixer."""
    if pan <= 0:
        x = (pan + 1) * math.pi / 2
        return 1.0, math.cos(x), 0.0, math.sin(x)
    x = pan * math.pi / 2
    return math.cos(x), 0.0, math.sin(x), 1.0
