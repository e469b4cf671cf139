"""Tagged copies for DJ software (tracks/music/tagging.py, the tagged download): the tempo, key, title and section
cues read back by another reader (tinytag), and the audio the same as the original's."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
from django.test import Client
from tinytag import TinyTag

from tests import audio
from tests.helpers import track_row
from tracks.files import storage
from tracks.models import AnalysisResult, Cue, Track
from tracks.music import cues, tagging

SHOWN = {"tempo": 123.4, "downbeats": [0.5, 2.45, 4.4], "sections": [{"start": 0.0, "label": "A"},
                                                                    {"start": 2.5, "label": "B", "name": "chorus"}]}


def test_what_goes_in_the_tags() -> None:
    found = tagging.tags("Night Drive", 123.4, "F# minor", "11A", [("Start", 0.5), ("B chorus", 62.45)])
    assert found == {"title": "Night Drive", "bpm": "123.4", "key": "F#m",
                     "comment": "11A (F# minor) · cues Start 0:00.5, B chorus 1:02.5"}
    assert tagging.tags("Raw", None, "", "", []) == {"title": "Raw", "comment": ""}
    assert [tagging.extension(f) for f in ("mp3", "flac", "wav", "m4a")] == ["mp3", "flac", "aiff", "aiff"]


def decoded(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])


def stored(alice, path: Path, fmt: str) -> Track:
    """A track row whose original is ``path``, with an analysis: 123.4 BPM, F# minor, two sections."""
    track = track_row(alice, title="Night Drive", format=fmt, file=f"tracks/{{}}/original.{fmt}", duration=12.0)
    track.file = f"tracks/{track.uuid}/original.{fmt}"
    track.save()
    storage.track_path(track).parent.mkdir(parents=True)
    shutil.copyfile(path, storage.track_path(track))
    AnalysisResult.objects.create(track=track, analyzer_version="3", data=SHOWN, tempo=123.4, key_label="F# minor")
    Cue.propose(track, cues.found(SHOWN, track.duration))  # as the analysis job does
    return track


@pytest.mark.django_db
@pytest.mark.parametrize(("fmt", "ext"), [("wav", "aiff"), ("mp3", "mp3"), ("flac", "flac")])
def test_the_tagged_copy_carries_tempo_key_and_cues_and_the_same_audio(alice, alice_client: Client, tmp_path: Path,
                                                                       fmt: str, ext: str) -> None:
    y = audio.song("F#", "minor", 123.4, 4.0)
    if fmt == "wav":
        path = audio.write_wav(tmp_path / "song.wav", np.stack([y, y], axis=1))
    else:
        path = audio.write_encoded(tmp_path / f"song.{fmt}", y, fmt=fmt, codec="libmp3lame" if fmt == "mp3" else "flac",
                                   channels=2)
    track = stored(alice, path, fmt)
    response = alice_client.get(f"/tracks/{track.uuid}/tagged/")
    assert response.status_code == 200 and f'filename="Night Drive (tagged).{ext}"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    copy = tmp_path / f"tagged.{ext}"
    copy.write_bytes(data)
    tag = TinyTag.get(copy)
    assert tag.title == "Night Drive"
    assert [float(b) for b in tag.other["bpm"]] == [123.4] and tag.other["initial_key"] == ["F#m"]
    comment = tag.comment or " ".join(tag.other.get("comment", []))
    assert "11A (F# minor)" in comment and "B chorus 0:02.5" in comment
    assert np.array_equal(decoded(data), decoded(path.read_bytes()))  # not a sample changed


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_is_refused_in_words(alice, alice_client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not an mp3 at all" * 100)
    track = stored(alice, broken, "mp3")
    response = alice_client.get(f"/tracks/{track.uuid}/tagged/")
    assert response.status_code == 400 and "could not be read" in response.content.decode()
