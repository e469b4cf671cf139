"""Factories for tests that are not about uploads: rows made directly, without a probe subprocess."""

from __future__ import annotations

import uuid
from typing import Any

from tracks.models import Track


def track_row(owner: Any, **fields: Any) -> Track:
    """A track row as an upload would leave it (its file need not exist for pages and pushes)."""
    track_uuid = uuid.uuid4()
    values = {"uuid": track_uuid, "owner": owner, "title": "Song", "original_name": "song.wav",
              "file": f"tracks/{track_uuid}/original.wav", "format": "wav", "codec": "pcm_s16le",
              "duration": 12.0, "sample_rate": 44100, "channels": 2, "size": 1000, "sha256": "0" * 64}
    return Track.objects.create(**{**values, **fields})
