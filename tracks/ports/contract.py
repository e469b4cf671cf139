"""The contract between the app and its ports: the names both sides use, and the shape of each port's answer.

The ports and the app (tracks/jobs/, forms.py, uploads.py, ...) import these rather than spelling them
again; a name added here is offered on both sides. The answers are typed for readers and type checkers: the
port prints such an object as JSON, the app reads it back (ADR-002, docs/ADR-002-python-integration.md).
Standard library only; imports no Django.
"""

from __future__ import annotations

import posixpath
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

# The RQ queues: analyses on one, the long jobs (separations, renders, transcriptions) on the other, so a
# separation never holds up an upload's analysis. Their jobs are in tracks/jobs/kinds.py.
ANALYSIS_QUEUE = "analysis"
PROCESSING_QUEUE = "processing"
QUEUES = (ANALYSIS_QUEUE, PROCESSING_QUEUE)


class ErrorKind(StrEnum):
    """What went wrong with a port, as its error JSON says (``{"error": kind, "message": ...}``) and the
    runner's ``PortError.kind`` carries it. Equal to its string, so either side may compare."""

    # The runner's, about any port.
    NOT_STARTED = "not_started"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    CRASHED = "crashed"
    EXITED = "exited"
    BAD_OUTPUT = "bad_output"
    CANCELLED = "cancelled"
    # A port's own.
    INVALID_ARGUMENTS = "invalid_arguments"  # the only one that exits 2
    FILE_NOT_FOUND = "file_not_found"
    DECODE_ERROR = "decode_error"
    DISK_FULL = "disk_full"
    REJECTED = "rejected"  # the probe's reason an upload is refused, for the uploader as it is
    MODEL_UNAVAILABLE = "model_unavailable"
    FETCH_FAILED = "fetch_failed"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    # Each port's catch-all: anything else it raised, with the exception's type and text.
    ANALYSIS_FAILED = "analysis_failed"
    SEPARATION_FAILED = "separation_failed"
    RENDER_FAILED = "render_failed"
    PREVIEW_FAILED = "preview_failed"
    TRANSCRIPTION_FAILED = "transcription_failed"
    PROBE_FAILED = "probe_failed"


# What the analyzer can measure, in the order it measures them (`--features a,b` or `all`).
FEATURES = ("tempo", "key", "energy", "spectral", "mfcc", "chroma", "waveform", "meter", "chords", "sections",
            "loudness")
# Features that stand on the beats: asking for one measures the tempo too.
BEAT_FEATURES = frozenset({"meter", "chords", "sections"})
# Every stem a separation model may give (htdemucs_6s adds guitar and piano); the analyzer takes any of them.
STEMS = ("vocals", "drums", "bass", "other", "guitar", "piano")
# The four every model gives, in the order the built-in engine writes them.
FOUR_STEMS = ("drums", "bass", "other", "vocals")
FORMATS = ("wav", "flac", "mp3")
# The stems audio-to-MIDI transcribes (tracks/ports/transcribe.py), each with the range its notes lie in (Hz).
MELODIC_STEMS = {"bass": (30.0, 420.0), "vocals": (75.0, 1100.0), "other": (None, None),
                 "guitar": (75.0, 1400.0), "piano": (None, None)}
MONOPHONIC_STEMS = frozenset({"bass", "vocals"})  # one note at a time
Format = Literal["wav", "flac", "mp3"]
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MODES = ("major", "minor")
# The separation models, each with how the page offers it; the first is the default.
MODEL_LABELS = {
    "htdemucs": "Hybrid Transformer Demucs, 4 stems (recommended)",
    "htdemucs_ft": "fine-tuned HT Demucs, best quality, about 4x slower",
    "htdemucs_6s": "6 stems: adds guitar and piano",
    "hdemucs_mmi": "Hybrid Demucs v3",
    "mdx_extra": "MDX challenge model bag",
}
DEMUCS_MODELS = tuple(MODEL_LABELS)
DEFAULT_MODEL = DEMUCS_MODELS[0]
BUILT_IN_MODEL = "dsp"  # needs no weights (dsp_engine.py)
MODEL_LABELS[BUILT_IN_MODEL] = "built in, needs no weights, lower quality"
MODELS = (*DEMUCS_MODELS, BUILT_IN_MODEL)
PREVIEW_SUFFIX = ".preview.mp3"  # an original's compressed copy for listening, beside it (MP3)
STEM_PREVIEW_SUFFIX = ".preview.opus"  # a stem's, which the mixer plays (Ogg Opus)


def preview_name(name: str, suffix: str = PREVIEW_SUFFIX) -> str:
    """Where a file's preview goes, a storage name or a path: beside it, ``<name>.preview.mp3`` (a stem's:
    ``suffix=STEM_PREVIEW_SUFFIX``)."""
    return posixpath.splitext(name)[0] + suffix



class Failure(TypedDict):
    """What any port prints, exiting non-zero, when it fails."""

    error: str  # an ErrorKind
    message: str


class FileTags(TypedDict):
    """What a file's tags say (ports/lib/file_tags.py): text ("" when absent) and a year."""

    title: str
    artist: str
    album: str
    genre: str
    year: int | None


class Probe(TypedDict):
    """``probe FILE --max-duration S``: what the upload is, decoded whole."""

    format: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    tags: FileTags
    cover: bool  # the embedded picture was written to --cover


class Key(TypedDict):
    key: str  # one of PITCH_CLASSES
    mode: str  # one of MODES
    confidence: float
    clear: bool
    candidates: list[dict[str, Any]]


class Section(TypedDict):
    start: float
    end: float
    label: str  # A, B, and a part heard again with a prime
    name: str | None  # intro, outro, or None
    key: str
    mode: str
    key_confidence: float


class Analysis(TypedDict, total=False):
    """``analyzer FILE --features ...``: the features asked for (and what they bring along)."""

    analyzer_version: str
    features: list[str]
    duration: float
    sample_rate: int
    source_sample_rate: int
    channels: int
    tempo: float | None
    beats: list[float]
    beat_tracker: str  # beatnet, or librosa (the fallback)
    key: Key
    energy: dict[str, Any]
    spectral: dict[str, Any]
    mfcc: dict[str, list[float]]
    chroma: dict[str, Any]
    waveform: list[list[float]]
    meter: dict[str, Any]  # beats_per_bar, confidence
    downbeats: list[float]
    chords: list[list[Any]]  # [start, end, "F#:min"]
    sections: list[Section]
    key_changes: list[dict[str, Any]]
    loudness: dict[str, Any]
    stems: dict[str, dict[str, Any]]  # per stem given with --stem: {"loudness": ...}
    seconds: float


class ModelInfo(TypedDict):
    name: str
    available: bool
    reason: str
    source: str


# The built-in engine as ``--list-models`` lists it: it loads everywhere.
BUILT_IN: ModelInfo = {"name": BUILT_IN_MODEL, "available": True, "reason": "", "source": "built in"}


class Separation(TypedDict):
    """``demucs_separate FILE --output-dir DIR --model M``: one file per stem."""

    stems: dict[str, str]
    previews: NotRequired[dict[str, str]]  # with --previews
    model: str
    sources: list[str]
    device: str
    format: str
    sample_rate: int
    channels: int
    frames: int
    duration: float
    stem_info: dict[str, dict[str, Any]]
    seconds: float


class Models(TypedDict):
    """``demucs_separate --list-models``."""

    models: list[ModelInfo]


class Preview(TypedDict):
    """``preview FILE --output OUT.mp3``."""

    path: str
    bytes: int
    duration: float


class Transcription(TypedDict):
    """What the transcription port prints: each stem's notes, ``[start s, end s, MIDI pitch, velocity]``."""

    stems: dict[str, list[list[float]]]
    model: str
