"""Small audio with known answers, synthesized by the tests themselves (never committed)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _tone(freq: float, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    # A few harmonics with falling weights: piano-ish, so chroma sees the pitch class, not just a sine.
    return sum(np.sin(2 * np.pi * freq * k * t) / k**1.5 for k in range(1, 5))


def song(tonic: str = "C", mode: str = "major", bpm: float = 120.0, seconds: float = 8.0,
         sr: int = 22050, click: float = 1.0) -> np.ndarray:
    """A drum kit (``click`` times as loud: kick, snare on the backbeat, hi-hat eighths) over a I-IV-V-I
    progression (one chord a bar) in the given key."""
    n = int(seconds * sr)
    y = np.zeros(n)
    root = 48 + PITCH_CLASSES.index(tonic)  # MIDI note in octave 3
    third = 3 if mode == "minor" else 4
    bar = round(4 * 60 / bpm * sr)
    degrees = [0, 5, 7, 0]
    for i, start in enumerate(range(0, n, bar)):
        d = degrees[i % 4]
        chord_third = 4 if (mode == "minor" and d == 7) else third  # harmonic minor: major V
        seg = min(bar, n - start)
        env = np.exp(-np.arange(seg) / (sr * 1.5))
        for interval in (0, chord_third, 7, 12):
            midi = root + d + interval
            y[start:start + seg] += 0.08 * env * _tone(440 * 2 ** ((midi - 69) / 12), seg, sr)
        # The tonic in the bass under every chord.
        y[start:start + seg] += 0.05 * env * _tone(440 * 2 ** ((root - 12 - 69) / 12), seg, sr)
    y += click * kit(bpm, seconds, sr)
    return (y / max(1e-9, np.abs(y).max()) * 0.8).astype(np.float32)


def clicks(bpm: float, seconds: float, sr: int = 22050) -> np.ndarray:
    """A click on every beat, the first of every four louder."""
    n = int(seconds * sr)
    y = np.zeros(n)
    click = np.sin(2 * np.pi * 1500 * np.arange(int(0.02 * sr)) / sr) * np.hanning(int(0.02 * sr))
    beat = 60 / bpm
    for k in range(int(seconds / beat) + 1):
        start = round(k * beat * sr)
        if start + click.size <= n:
            y[start:start + click.size] += (0.9 if k % 4 == 0 else 0.6) * click
    return y


def kit(bpm: float, seconds: float, sr: int = 22050, pattern: str = "KhShKhSh", per_beat: int = 2) -> np.ndarray:
    """A drum kit playing ``pattern`` over and over, ``per_beat`` letters a beat: K kick, S snare, h hi-hat,
    "." rest."""
    n = int(seconds * sr)
    y = np.zeros(n)
    length = int(0.25 * sr)
    t = np.arange(length) / sr
    noise = np.random.default_rng(1).standard_normal(length)
    sounds = {
        "K": np.sin(2 * np.pi * (50 + 80 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.1),
        "S": 0.5 * noise * np.exp(-t / 0.05) + 0.4 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04),
        "h": 0.15 * noise * np.exp(-t / 0.008),
    }
    step = 60 / bpm / per_beat
    for k in range(int(seconds / step) + 1):
        sound = sounds.get(pattern[k % len(pattern)])
        start = round(k * step * sr)
        if sound is not None and start < n:
            piece = sound[: n - start]
            y[start:start + piece.size] += piece
    return y


def pad(chords: list[str], seconds: float = 12.0, sr: int = 22050) -> np.ndarray:
    """Held chords that swell in and fade out, one after another: harmony without a pulse."""
    n = int(seconds * sr)
    y = np.zeros(n)
    each = n // len(chords)
    t = np.arange(each) / sr
    swell = np.sin(np.pi * np.arange(each) / each) ** 2
    for i, name in enumerate(chords):
        root_name, _, quality = name.partition(":")
        root = PITCH_CLASSES.index(root_name)
        for interval in QUALITY_INTERVALS[quality]:
            f = 440 * 2 ** ((60 + root + interval - 69) / 12)
            y[i * each:(i + 1) * each] += swell * np.sin(2 * np.pi * f * t)
    return (y / max(1e-9, np.abs(y).max()) * 0.5).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = 22050) -> Path:
    sf.write(str(path), y, sr, subtype="PCM_16")
    return path


def write_encoded(path: Path, y: np.ndarray, sr: int = 22050, fmt: str = "mp3", codec: str = "libmp3lame",
                  channels: int = 1, tags: dict[str, str] | None = None, cover: bytes = b"") -> Path:
    """Encode with PyAV's bundled FFmpeg (mp3, flac, m4a/aac, ...), with ``tags`` (FFmpeg's names: title,
    artist, album, date, genre) and ``cover`` (a JPEG) as its embedded picture when given."""
    layout = "stereo" if channels == 2 else "mono"
    data = np.tile(y, (channels, 1)).astype(np.float32)
    options = {"id3v2_version": "4"} if fmt == "mp3" else {}
    with av.open(str(path), "w", format=fmt, options=options) as container:
        container.metadata.update(tags or {})
        stream = container.add_stream(codec, rate=sr, layout=layout)
        if cover:
            try:
                size = av.CodecContext.create("mjpeg", "r").decode(av.Packet(cover))[0]
                width, height = size.width, size.height
            except av.error.InvalidDataError:  # a broken picture, on purpose: stored as it is
                width, height = 64, 48
            picture = container.add_stream("mjpeg")
            picture.width, picture.height, picture.pix_fmt = width, height, "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            packet = av.Packet(cover)
            packet.stream, packet.pts, packet.dts = picture, 0, 0
            container.mux(packet)
        frame_size = stream.codec_context.frame_size or 1152
        for start in range(0, data.shape[1], frame_size):
            chunk = np.ascontiguousarray(data[:, start:start + frame_size])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "sus4": (0, 5, 7), "sus2": (0, 2, 7),
                     "5": (0, 7)}


def progression(chords: list[str], bpm: float = 120.0, beats_per_bar: int = 4, bars_per_chord: int = 1,
                brightness: float = 1.5, sr: int = 22050) -> np.ndarray:
    """A band playing ``chords`` ("F#:min", "C#:7" ...), one every ``bars_per_chord`` bars: the root in the bass
    and a kick on each downbeat, the chord on every beat (louder off the downbeat: oom-pah-pah in 3/4), a
    hi-hat on every beat.
    ``brightness`` sets how fast the upper partials fall (lower: brighter), to make sections sound apart."""
    beat = round(60 / bpm * sr)
    bar = beat * beats_per_bar
    n = bar * bars_per_chord * len(chords)
    y = np.zeros(n)
    t = np.arange(beat) / sr
    env = np.exp(-t / 0.35)
    kick = np.sin(2 * np.pi * (50 + 60 * np.exp(-t / 0.03)) * t) * np.exp(-t / 0.08)
    rng = np.random.default_rng(0)
    hat = rng.standard_normal(beat) * np.exp(-t / 0.01)

    def tone(midi: int) -> np.ndarray:
        f = 440 * 2 ** ((midi - 69) / 12)
        return sum(np.sin(2 * np.pi * f * k * t) / k**brightness for k in range(1, 6))

    for i, name in enumerate(chords):
        root_name, _, quality = name.partition(":")
        root = PITCH_CLASSES.index(root_name)
        for b in range(beats_per_bar * bars_per_chord):
            start = (i * bars_per_chord * beats_per_bar + b) * beat
            if b % beats_per_bar == 0:
                y[start:start + beat] += 0.5 * env * tone(36 + root) + 0.6 * kick
            level = 0.12 if b % beats_per_bar == 0 else 0.18
            for interval in QUALITY_INTERVALS[quality]:
                y[start:start + beat] += level * env * tone(60 + (root + interval) % 12)
            y[start:start + beat] += 0.05 * hat
    return (y / max(1e-9, np.abs(y).max()) * 0.8).astype(np.float32)


def sine(freq: float = 997.0, amplitude: float = 0.5, seconds: float = 6.0, sr: int = 48000) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def decode(path: Path, sr: int) -> np.ndarray:
    """A file's audio as mono float32 at ``sr`` (PyAV), as a browser would decode it."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
        pieces = [out.to_ndarray().reshape(-1) for frame in container.decode(audio=0)
                  for out in resampler.resample(frame)]
        pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def lag(a: np.ndarray, b: np.ndarray, most: int = 2048) -> int:
    """How many samples ``a`` is late against ``b`` (their cross-correlation's peak within ``most``)."""
    n = min(a.size, b.size, 4 * 48000)
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    scores = [float(np.dot(a[max(0, k):n + min(0, k)], b[max(0, -k):n - max(0, k)])) for k in range(-most, most + 1)]
    return int(np.argmax(scores)) - most


def rock(riff: list[str], bpm: float = 180.0, bars_per_chord: int = 1, repeats: int = 4, pickup_beats: int = 0,
         offbeat_guitar: bool = False, double_kick: bool = False, drive: float = 8.0, sr: int = 22050,
         seed: int = 0) -> tuple[np.ndarray, dict]:
    """A rock band playing ``riff`` ("E:5", "G:5", "A:maj" ...; a ":5" is a power chord: root, fifth, octave)
    ``repeats`` times, one chord every ``bars_per_chord`` bars of 4/4: distorted guitars (eighth-note chugs, or
    only the off-beat eighths with ``offbeat_guitar``), a bass on the root, a kick on 1 and 3 (sixteenths
    with ``double_kick``), a snare on 2 and 4 and hi-hat eighths. ``pickup_beats`` beats of snare and guitar
    come before bar 1. Returns the audio and its labels: beats, downbeats, chords ([start, end, label]) and
    the first downbeat, in seconds."""
    rng = np.random.default_rng(seed)
    beat = 60 / bpm
    bar = 4 * beat
    lead = pickup_beats * beat
    bars = len(riff) * bars_per_chord * repeats
    seconds = lead + bars * bar + 1.0
    n = int(seconds * sr)
    y = np.zeros(n)

    def at(t: float, sound: np.ndarray, gain: float = 1.0) -> None:
        start = round(t * sr)
        if start < n:
            piece = sound[: n - start]
            y[start:start + piece.size] += gain * piece

    t = np.arange(int(0.3 * sr)) / sr
    noise = rng.standard_normal(t.size)
    kick = np.sin(2 * np.pi * (55 + 90 * np.exp(-t / 0.02)) * t) * np.exp(-t / 0.09)
    snare = 0.6 * noise * np.exp(-t / 0.07) + 0.5 * np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
    hat = 0.12 * np.diff(noise, prepend=0.0) * np.exp(-t / 0.015)
    eighth = int(beat / 2 * sr)
    te = np.arange(eighth) / sr

    def saw(midi: float, length: np.ndarray) -> np.ndarray:
        f = 440 * 2 ** ((midi - 69) / 12) * (1 + 0.002 * rng.standard_normal())
        return sum(np.sin(2 * np.pi * f * k * length + rng.uniform(0, 6.3)) / k for k in range(1, 12))

    def guitar(name: str) -> np.ndarray:
        root_name, _, quality = name.partition(":")
        root = 40 + (PITCH_CLASSES.index(root_name) - 4) % 12  # E2 and up
        intervals = (*QUALITY_INTERVALS[quality], 12)
        dry = sum(saw(root + i, te) for i in intervals) / len(intervals)
        return np.tanh(drive * dry * np.exp(-te / 0.12)) * np.minimum(1, (eighth - np.arange(eighth)) / 200)

    def bass(name: str) -> np.ndarray:
        root = 28 + (PITCH_CLASSES.index(name.partition(":")[0]) - 4) % 12  # E1 and up
        f = 440 * 2 ** ((root - 69) / 12)
        return sum(np.sin(2 * np.pi * f * k * te) / k**2 for k in range(1, 6)) * np.exp(-te / 0.2)

    for k in range(pickup_beats):  # the pickup: snare hits and the first chord's guitar
        at(k * beat, snare, 0.7)
        at(k * beat + beat / 2, guitar(riff[0]), 0.25)
    chords: list[list] = []
    for b in range(bars):
        start = lead + b * bar
        name = riff[(b // bars_per_chord) % len(riff)]
        if b % bars_per_chord == 0:
            chords.append([round(start, 4), round(start + bars_per_chord * bar, 4), name])
        g, low = guitar(name), bass(name)
        for e in range(8):
            if not offbeat_guitar or e % 2:
                at(start + e * beat / 2, g, 0.3)
            at(start + e * beat / 2, low, 0.35)
            at(start + e * beat / 2, hat)
        for q in range(4):
            at(start + q * beat, snare if q % 2 else kick, 0.9 if q % 2 else 1.0)
            if double_kick:
                for s in range(1, 4):
                    at(start + q * beat + s * beat / 4, kick, 0.6)
    beats = [round(lead + k * beat - pickup_beats * beat, 4) for k in range(pickup_beats + bars * 4)]
    labels = {"tempo": bpm, "meter": 4, "beats": beats, "downbeats": [round(lead + b * bar, 4) for b in range(bars)],
              "chords": chords, "first_downbeat": round(lead, 4), "duration": round(seconds, 3)}
    return (y / max(1e-9, np.abs(y).max()) * 0.8).astype(np.float32), labels


def variant(path: Path, n: int, folder: Path) -> Path:
    """A copy of a WAV file differing in its last sample's lowest bits: the same song to the ear, another file
    to the upload's duplicate check (SHA-256)."""
    data = bytearray(path.read_bytes())
    data[-1] = (data[-1] + n) % 256
    copy = folder / f"{path.stem} {n}{path.suffix}"
    copy.write_bytes(bytes(data))
    return copy


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small JPEG (two colours, top and bottom), as a cover embedded in a file would be, made by FFmpeg."""
    import fractions

    import av

    picture = np.zeros((height, width, 3), np.uint8)
    picture[:, :, 0] = 200
    picture[: height // 2, :, 1] = 120
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = fractions.Fraction(1, 25)
    return b"".join(bytes(p) for p in encoder.encode(frame)) + b"".join(bytes(p) for p in encoder.encode(None))
