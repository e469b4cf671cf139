"""The transcription port: each stem's notes, audio to MIDI (ADR-002's protocol).

    python -m tracks.ports.transcribe --stem bass=PATH [--stem vocals=PATH ...] [--as-it-comes]

Spotify's basic-pitch (Apache-2.0) listens to each stem: its model's ONNX weights ship inside the package and
run on ONNX Runtime, offline. The stem is read as mono at the model's 22 050 Hz and fed to it in its
two-second windows (a progress line each); its note tracker keeps notes within the stem's range
(``contract.MELODIC_STEMS``: a bass line has no notes above 420 Hz) with the melodia trick that follows one
line through a held note; a bass or a voice, which sings one note at a time, loses the overtones the model
also reports as quieter notes an octave or a twelfth up. Prints ``{"stems": {name: [[start s, end s, MIDI
pitch, velocity], ...]}, "model"}`` and exits 0, or the error object and a non-zero exit. The tempo map and
the grid are the app's (tracks/music/midi.py), so a tempo corrected later needs no new transcription. Imports no
Django.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .contract import MELODIC_STEMS, MONOPHONIC_STEMS, ErrorKind
from .port_protocol import Parser, PortFailure, progress, r, run

MODEL = "basic-pitch ICASSP 2022 (ONNX)"
ONSET_THRESHOLD = 0.5  # basic-pitch's defaults
FRAME_THRESHOLD = 0.3
MIN_NOTE_MS = 127.7
OVERLAP_FRAMES = 30


def stem_arg(text: str) -> tuple[str, str]:
    """``NAME=PATH``: a stem the port can transcribe, and its file."""
    name, _, path = text.partition("=")
    if name not in MELODIC_STEMS or not path:
        raise PortFailure(ErrorKind.INVALID_ARGUMENTS, f"not a stem to transcribe ({', '.join(MELODIC_STEMS)}) "
                          f"and its file: {text}")
    return name, path


def load_model() -> Any:
    # basic-pitch says on import which of its other runtimes (TensorFlow, CoreML, TFLite) are missing: we
    # need none of them, and stderr is for progress.
    logging.disable(logging.WARNING)
    try:
        from basic_pitch import ICASSP_2022_MODEL_PATH, ONNX_PRESENT
        from basic_pitch.inference import Model
    finally:
        logging.disable(logging.NOTSET)
    if not ONNX_PRESENT:
        raise PortFailure(ErrorKind.MODEL_UNAVAILABLE, "ONNX Runtime is not installed: pip install onnxruntime")
    return Model(ICASSP_2022_MODEL_PATH)


def read_mono(path: str) -> np.ndarray:
    """The file as mono float32 at the model's sample rate."""
    import librosa
    import soundfile as sf
    from basic_pitch.constants import AUDIO_SAMPLE_RATE

    try:
        y, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise PortFailure(ErrorKind.DECODE_ERROR, f"cannot read {path}: {error}") from None
    return librosa.resample(y.mean(axis=1), orig_sr=rate, target_sr=AUDIO_SAMPLE_RATE).astype(np.float32)


def notes_of(y: np.ndarray, low: float | None, high: float | None, model: Any,
             done: Callable[[float], None]) -> list[list[float]]:
    """The notes of mono audio at 22 050 Hz, sorted by start: basic-pitch's own inference
    (``inference.run_inference``) window by window, so that each window can say how far it got."""
    from basic_pitch import note_creation
    from basic_pitch.constants import AUDIO_N_SAMPLES, AUDIO_SAMPLE_RATE, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    overlap = OVERLAP_FRAMES * FFT_HOP
    hop = AUDIO_N_SAMPLES - overlap
    padded = np.concatenate([np.zeros(overlap // 2, dtype=np.float32), y])
    count = -(-len(padded) // hop)
    output: dict[str, list[np.ndarray]] = {"note": [], "onset": [], "contour": []}
    for n, (window, _) in enumerate(window_audio_file(padded, hop)):
        for key, value in model.predict(window[np.newaxis]).items():
            output[key].append(value)
        done((n + 1) / count)
    unwrapped = {key: unwrap_output(np.concatenate(value), len(y), OVERLAP_FRAMES) for key, value in output.items()}
    _, events = note_creation.model_output_to_notes(
        unwrapped, onset_thresh=ONSET_THRESHOLD, frame_thresh=FRAME_THRESHOLD,
        min_note_len=int(np.round(MIN_NOTE_MS / 1000 * AUDIO_SAMPLE_RATE / FFT_HOP)),
        min_freq=low, max_freq=high, include_pitch_bends=False, melodia_trick=True)
    notes = [[r(start, 3), r(end, 3), int(pitch), int(np.clip(round(127 * amplitude), 1, 127))]
             for start, end, pitch, amplitude, _ in events]
    return sorted(notes)


OVERTONES = (12, 19, 24)  # an octave, a twelfth, two octaves above the note played


def without_overtones(notes: list[list[float]]) -> list[list[float]]:
    """A line that plays one note at a time (a bass, a voice) without the overtones the model also hears as
    notes: a quieter note an octave, a twelfth or two octaves above one sounding through most of it."""
    def ghost(note: list[float]) -> bool:
        start, end, pitch, velocity = note
        for other in notes:
            overlap = min(end, other[1]) - max(start, other[0])
            if pitch - other[2] in OVERTONES and overlap >= 0.5 * (end - start) and other[3] >= velocity:
                return True
        return False

    return [note for note in notes if not ghost(note)]


def main(argv: list[str]) -> dict[str, Any]:
    parser = Parser(prog="python -m tracks.ports.transcribe")
    parser.add_argument("--stem", action="append", required=True, type=stem_arg, help="NAME=PATH")
    parser.add_argument("--as-it-comes", action="store_true",
                        help="basic-pitch's notes as they come: every pitch, overtones kept (bench/transcription.py)")
    args = parser.parse_args(argv)
    stems = dict(args.stem)
    for path in stems.values():
        if not os.path.isfile(path):
            raise PortFailure(ErrorKind.FILE_NOT_FOUND, f"no such file: {path}")
    progress(0.0, "loading the model")
    model = load_model()
    found: dict[str, list[list[float]]] = {}
    for n, (name, path) in enumerate(stems.items()):
        progress(n / len(stems), f"reading {name}")
        y = read_mono(path)
        low, high = (None, None) if args.as_it_comes else MELODIC_STEMS[name]
        notes = notes_of(y, low, high, model, lambda part, n=n, name=name: progress(
            (n + 0.98 * part) / len(stems), f"transcribing {name}"))
        found[name] = without_overtones(notes) if name in MONOPHONIC_STEMS and not args.as_it_comes else notes
    progress(1.0, "done")
    return {"stems": found, "model": MODEL}


if __name__ == "__main__":
    sys.exit(run(main, sys.argv[1:], ErrorKind.TRANSCRIPTION_FAILED))
