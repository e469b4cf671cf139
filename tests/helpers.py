"""Factories for tests that are not about uploads: rows made directly, without a probe subprocess."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import soundfile as sf

from tracks.files import storage
from tracks.models import Job, Stem, Track


def track_row(owner: Any, **fields: Any) -> Track:
    """A track row as an upload would leave it (its file need not exist for pages and pushes)."""
    track_uuid = uuid.uuid4()
    values = {"uuid": track_uuid, "owner": owner, "title": "Song", "original_name": "song.wav",
              "file": storage.original_name(track_uuid, "wav"), "format": "wav", "codec": "pcm_s16le",
              "duration": 12.0, "sample_rate": 44100, "channels": 2, "size": 1000, "sha256": "0" * 64}
    return Track.objects.create(**{**values, **fields})


def separation(track: Track, stems: dict[str, np.ndarray], rate: int) -> Job:
    """A finished dsp separation of the track whose stems are ``stems`` (name: stereo float samples), written
    where the port would write them as 16-bit WAVs."""
    job = Job.objects.create(track=track, kind=Job.Kind.SEPARATION, status=Job.Status.SUCCEEDED,
                             options={"model": "dsp", "format": "wav"})
    folder = storage.stems_dir(job)
    folder.mkdir(parents=True)
    for name, samples in stems.items():
        path = folder / f"{name}.wav"
        sf.write(path, samples, rate, subtype="PCM_16")
        Stem.objects.create(track=track, job=job, name=name, model="dsp", format="wav",
                            duration=len(samples) / rate, size=path.stat().st_size,
                            file=str(path.relative_to(storage.track_dir(track.uuid).parent.parent)))
    return job
