"""Uploads: accepted formats are judged by content; bad input gets a clear message and leaves nothing."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from tests import audio, portcli
from tracks.models import Job, Track

XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def post(client: Client, name: str, data: bytes):
    return client.post("/tracks/upload/", {"file": SimpleUploadedFile(name, data)}, **XHR)


def wav_bytes(tmp_path: Path, seconds: float = 2.0) -> bytes:
    return audio.write_wav(tmp_path / "x.wav", audio.song(seconds=seconds)).read_bytes()


def riff(sample_rate: int = 22050, channels: int = 1, bits: int = 16, payload: bytes = b"",
         claimed: int | None = None) -> bytes:
    claimed = len(payload) if claimed is None else claimed
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, (sample_rate * align) % 2**32, align, bits)
    return (b"RIFF" + struct.pack("<I", min(36 + claimed, 2**32 - 1)) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", claimed) + payload)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fmt", "codec", "ext", "expected"),
    [
        ("wav", "pcm_s16le", "wav", "wav"),
        ("mp3", "libmp3lame", "mp3", "mp3"),
        ("flac", "flac", "flac", "flac"),
        ("ipod", "aac", "m4a", "m4a"),
        ("ipod", "alac", "m4a", "m4a"),
        ("ogg", "flac", "ogg", "ogg"),
        ("ogg", "vorbis", "ogg", "ogg"),
        ("ogg", "libopus", "opus", "opus"),
        ("adts", "aac", "aac", "aac"),
    ],
)
def test_it_accepts_each_format_by_content(alice_client: Client, tmp_path: Path, fmt: str, codec: str, ext: str,
                                           expected: str) -> None:
    path = tmp_path / f"song.{ext}"
    if codec == "vorbis":  # FFmpeg's own Vorbis encoder is experimental; libsndfile writes it properly
        sf.write(path, audio.song(seconds=2.0), 22050, format="OGG", subtype="VORBIS")
    else:
        sr = 48000 if codec == "libopus" else 22050  # Opus runs at 48 kHz only
        audio.write_encoded(path, audio.song(seconds=2.0, sr=sr), sr=sr, fmt=fmt, codec=codec)
    # A misleading extension changes nothing: the content decides.
    response = post(alice_client, "My Song.bin", path.read_bytes())
    assert response.status_code == 201, response.content
    track = Track.objects.get()
    assert track.format == expected
    assert track.title == "My Song"
    assert track.original_name == "My Song.bin"
    assert track.duration == pytest.approx(2.0, abs=0.1)
    assert track.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert track.size == path.stat().st_size
    assert track.file == f"tracks/{track.uuid}/original.{expected}"
    assert media_files() == [Path(settings.MEDIA_ROOT) / track.file]
    assert f'id="track-{track.uuid}"' in response.content.decode()
    job = Job.objects.get(track=track)
    assert (job.kind, job.status) == ("analysis", "queued")


@pytest.mark.django_db(transaction=True)
def test_it_queues_the_analysis_on_commit(alice_client: Client, tmp_path: Path) -> None:
    import django_rq

    post(alice_client, "a.wav", wav_bytes(tmp_path))
    job = Job.objects.get()
    queue = django_rq.get_queue("analysis")
    assert queue.job_ids == [job.rq_id] == [str(job.uuid)]


@pytest.mark.django_db(transaction=True)
def test_it_stores_the_file_under_a_server_chosen_name(alice_client: Client, tmp_path: Path) -> None:
    hostile = '../../etc/"quoted" naïve ünïcødé 曲 ' + "x" * 300 + ".wav"
    response = post(alice_client, hostile, wav_bytes(tmp_path))
    assert response.status_code == 201
    track = Track.objects.get()
    stored = media_files()
    assert stored == [Path(settings.MEDIA_ROOT) / "tracks" / str(track.uuid) / "original.wav"]
    assert ".." not in track.title and "/" not in track.title
    assert track.title.startswith('"quoted" naïve ünïcødé 曲 x')
    assert len(track.title) <= 200
    assert len(track.original_name) <= 255
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "&quot;quoted&quot;" in page  # escaped, not injected


def truncated_mp3(tmp_path: Path) -> bytes:
    data = audio.write_encoded(tmp_path / "t.mp3", audio.song(seconds=6.0)).read_bytes()
    return data[: len(data) // 2]


def truncated_flac(tmp_path: Path) -> bytes:
    data = audio.write_encoded(tmp_path / "t.flac", audio.song(seconds=6.0), fmt="flac", codec="flac").read_bytes()
    return data[: len(data) // 2]


def pcm(seconds: float) -> bytes:
    return (np.random.default_rng(0).normal(0, 3000, int(22050 * seconds))).astype("<i2").tobytes()


BAD_INPUTS = {
    "empty": (lambda tmp: b"", "The file is empty."),
    "text renamed .mp3": (lambda tmp: b"Verse 1: these are lyrics, not audio.\n" * 200, "not an audio file"),
    "truncated mp3": (truncated_mp3, "truncated"),
    "truncated flac": (truncated_flac, "truncated"),
    "wav claiming more data than it has": (lambda tmp: riff(payload=pcm(2.0), claimed=22050 * 2 * 60), "truncated"),
    "wav with a zero sample rate": (lambda tmp: riff(sample_rate=0, payload=pcm(2.0)), "not an audio file"),
    "wav with 200 channels": (lambda tmp: riff(channels=200, payload=pcm(2.0)), "impossible channel count"),
    "wav with a header and no samples": (lambda tmp: riff(payload=b""), "no audio"),
    "wav shorter than a second": (lambda tmp: riff(payload=pcm(0.2)), "too short"),
    "png image": (lambda tmp: b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000, "no audio in it"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_it_rejects_bad_audio_and_leaves_nothing(alice_client: Client, tmp_path: Path, case: str) -> None:
    make, message = BAD_INPUTS[case]
    response = post(alice_client, "song.mp3", make(tmp_path))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "Traceback" not in body
    assert Track.objects.count() == 0
    assert Job.objects.count() == 0
    assert media_files() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("decoder", "message"), [
    ("kill -SEGV $$", "the decoder crashed on it"),
    ("sleep 30", "it took over 1 s"),
])
def test_a_decoder_that_crashes_or_hangs_rejects_the_file_and_nothing_else(
        alice_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoder: str, message: str) -> None:
    """The probe decodes in a process of its own (tracks/ports/probe.py): a decoder crashing or hanging on a
    hostile file is that process's end, not the web server's. Here the ports' interpreter is one that does
    exactly that."""
    from tracks.files import uploads

    interpreter = tmp_path / "decoder.sh"
    interpreter.write_text(f"#!/bin/sh\n{decoder}\n")
    interpreter.chmod(0o755)
    monkeypatch.setattr(uploads, "PROBE_TIMEOUT_S", 1)
    with override_settings(PORT_PYTHON=str(interpreter)):
        response = post(alice_client, "song.wav", wav_bytes(tmp_path))
    assert response.status_code == 400 and message in response.content.decode()
    assert Track.objects.count() == 0 and media_files() == []
    assert not list((Path(settings.VAR_DIR) / "uploads").iterdir())  # the staged copy too
    monkeypatch.undo()  # the usual probe timeout: a loaded machine takes near a second to start a probe
    assert post(alice_client, "song.wav", wav_bytes(tmp_path)).status_code == 201  # and the next one is fine


@pytest.mark.django_db(transaction=True)
def test_it_rejects_a_file_over_the_size_limit(alice_client: Client, tmp_path: Path) -> None:
    with override_settings(MAX_UPLOAD_MB=1):
        response = post(alice_client, "big.wav", wav_bytes(tmp_path, seconds=30.0))  # ~1.3 MB
    assert response.status_code == 400
    assert "larger than the limit of 1 MB" in response.content.decode()
    assert Track.objects.count() == 0 and media_files() == []


def test_an_oversized_upload_is_dropped_while_it_streams(settings) -> None:
    from django.core.files.uploadhandler import SkipFile
    from django.test import RequestFactory

    from tracks.files.uploads import UploadLimitHandler

    settings.MAX_UPLOAD_MB = 1
    request = RequestFactory().post("/tracks/upload/")
    handler = UploadLimitHandler(request)
    chunk = b"x" * (512 * 1024)
    assert handler.receive_data_chunk(chunk, 0) == chunk
    assert handler.receive_data_chunk(chunk, len(chunk)) == chunk
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(chunk, 2 * len(chunk))
    assert request.upload_too_large


@pytest.mark.django_db(transaction=True)
def test_it_rejects_audio_over_the_duration_limit(alice_client: Client, tmp_path: Path) -> None:
    with override_settings(MAX_DURATION_S=60):
        response = post(alice_client, "long.wav", riff(payload=pcm(61.0)))
    assert response.status_code == 400
    assert "the limit is 1 minutes" in response.content.decode()
    assert Track.objects.count() == 0 and media_files() == []


@pytest.mark.django_db(transaction=True)
def test_a_plain_form_post_redirects_with_a_message(alice_client: Client) -> None:
    response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("e.mp3", b"")}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "The file is empty." in response.content.decode()


@pytest.mark.django_db
def test_it_needs_a_logged_in_user(client: Client, tmp_path: Path) -> None:
    response = post(client, "a.wav", wav_bytes(tmp_path))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Track.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_nothing_stays_when_queueing_the_analysis_fails(alice, tmp_path: Path) -> None:
    from tracks.files import uploads

    def broken_queue(track: Track) -> None:
        raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        uploads.store_upload(SimpleUploadedFile("a.wav", wav_bytes(tmp_path)), alice, then=broken_queue)
    assert Track.objects.count() == 0
    assert media_files() == []


def test_the_probe_port_speaks_adr_002(tmp_path: Path) -> None:
    """Standalone, as any port: what the file is on stdout and exit 0, or the reason and exit 1."""
    wav = audio.write_wav(tmp_path / "song.wav", audio.song(seconds=2.0))
    wav = wav.rename(tmp_path / "song.bin")  # content decides, not the name
    code, data, _ = portcli.run("probe", str(wav), "--max-duration", "60", env=dict(os.environ))
    assert code == 0 and data["format"] == "wav" and data["codec"] == "pcm_s16le"
    assert abs(data["duration"] - 2.0) < 0.01 and data["sample_rate"] == 22050 and data["channels"] == 1
    code, data, _ = portcli.run("probe", str(wav), "--max-duration", "1", env=dict(os.environ))
    assert code == 1 and data["error"] == "rejected" and "the limit is" in data["message"]
    code, data, _ = portcli.run("probe", str(wav), env=dict(os.environ))
    assert code == 2 and data["error"] == "invalid_arguments"


def test_the_probe_stops_decoding_once_a_file_passes_the_limit(tmp_path: Path) -> None:
    """A FLAC whose header declares 2 s and which holds ten minutes of constant frames: refused while decoding,
    not after decoding it all (whose message would give its whole length)."""
    rate = 8000
    path = audio.write_encoded(tmp_path / "bomb.flac", np.full(rate * 600, 0.1, dtype=np.float32), sr=rate,
                               fmt="flac", codec="flac")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    # STREAMINFO's 36-bit total sample count: the low 4 bits of byte 21, then bytes 22-25.
    packed = int.from_bytes(data[21:26], "big") & ~((1 << 36) - 1) | (2 * rate)
    data[21:26] = packed.to_bytes(5, "big")
    path.write_bytes(bytes(data))
    code, out, _ = portcli.run("probe", str(path), "--max-duration", "60", env=dict(os.environ))
    assert code == 1 and out["message"] == "The audio runs past the limit of 1 minutes."


def _without_length_header(mp3: bytes) -> bytes:
    """The MP3 with its Xing/Info frame (the length header) taken out, as many encoders write them."""
    tag = max(mp3.find(b"Xing"), mp3.find(b"Info"))
    start = mp3.rfind(b"\xff", 0, tag)
    while not (mp3[start + 1] & 0xE0 == 0xE0):
        start = mp3.rfind(b"\xff", 0, start)
    following = mp3.find(b"\xff" + bytes([mp3[start + 1]]), tag)
    return mp3[:start] + mp3[following:]


def test_an_mp3_cut_inside_its_last_frame_is_truncated_even_without_a_length_header(tmp_path: Path) -> None:
    whole = _without_length_header(audio.write_encoded(tmp_path / "a.mp3", audio.song(seconds=6.0)).read_bytes())
    (tmp_path / "whole.mp3").write_bytes(whole)
    code, out, _ = portcli.run("probe", str(tmp_path / "whole.mp3"), "--max-duration", "60", env=dict(os.environ))
    assert code == 0 and abs(out["duration"] - 6.0) < 0.1, out
    (tmp_path / "cut.mp3").write_bytes(whole[:20000])
    code, out, _ = portcli.run("probe", str(tmp_path / "cut.mp3"), "--max-duration", "60", env=dict(os.environ))
    assert code == 1 and out["message"] == "The file is truncated: its last MP3 frame is cut off.", out


@pytest.mark.django_db(transaction=True)
def test_a_file_uploaded_again_is_not_stored_twice(alice_client: Client, bob_client: Client, c_major_wav: Path,
                                                   settings) -> None:
    from tests.test_jobs import upload

    first = upload(alice_client, c_major_wav)
    folders = set((Path(settings.MEDIA_ROOT) / "tracks").iterdir())
    again = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("renamed.wav", c_major_wav.read_bytes())},
                              HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    page = again.content.decode()
    assert again.status_code == 409 and "You already have this file: “c-major-120”" in page
    assert f'href="/tracks/{first.uuid}/"' in page  # a link to the track it already is
    assert Track.objects.filter(owner=first.owner).count() == 1
    assert set((Path(settings.MEDIA_ROOT) / "tracks").iterdir()) == folders  # nothing more kept
    # Someone else's copy is theirs to have.
    assert upload(bob_client, c_major_wav).owner.username == "bob"
    # Without scripts: the library says so.
    plain = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("c.wav", c_major_wav.read_bytes())},
                              follow=True)
    assert "You already have this file" in plain.content.decode()
