"""Media in an S3-compatible bucket (django-storages, against moto's S3 server over real HTTP): uploads go to
the bucket; a worker on "another machine" (another working directory, its own var folder, no access to the
web's media folder) analyses and separates from the bucket and stores the stems there; downloads are
redirects to short-lived signed URLs; deleting the track empties its prefix."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests
import soundfile as sf
from django.conf import settings as django_settings
from django.test import Client

from tests import audio
from tests.conftest import worker_env
from tests.test_jobs import upload
from tests.test_separation import FOUR, separate
from tracks.dev_redis import free_port
from tracks.models import Job, Stem

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "soundforge-media"


@pytest.fixture
def s3(settings, monkeypatch) -> Iterator[tuple[object, dict[str, str]]]:
    """A real S3 server on a free port with an empty bucket; this process's storage pointed at it; and the
    environment that points a worker process at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "SOUNDFORGE_S3_BUCKET": BUCKET,
           "SOUNDFORGE_S3_ENDPOINT_URL": endpoint, "SOUNDFORGE_S3_REGION": "us-east-1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage",
                    "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": endpoint, "region_name": "us-east-1",
                                "file_overwrite": False, "default_acl": None}},
    }
    try:
        yield client, env
    finally:
        server.stop()


def keys(client, prefix: str = "") -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.mark.django_db(transaction=True)
def test_a_worker_elsewhere_works_from_the_bucket(alice_client: Client, s3, tmp_path: Path) -> None:
    client, env = s3
    left = audio.song("E", "minor", 110.0, 6.0, sr=44100)
    song = audio.write_wav(tmp_path / "Bucket Song.wav", np.stack([left, 0.5 * left], axis=1), 44100)

    track = upload(alice_client, song)
    assert keys(client) == {f"tracks/{track.uuid}/original.wav"}
    assert not (Path(django_settings.MEDIA_ROOT) / "tracks" / str(track.uuid)).exists()
    assert separate(alice_client, track) == 200

    # "Another machine": its own working directory and var folder, and a media folder that does not exist.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    worker = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "rqworker", "analysis", "processing", "--burst"],
        cwd=elsewhere, capture_output=True, timeout=300,
        env={**worker_env(), **env, "SOUNDFORGE_VAR_DIR": str(elsewhere / "var"),
             "SOUNDFORGE_MEDIA_ROOT": str(elsewhere / "no-media-here"), "SOUNDFORGE_WARM_ANALYZER": "0"},
    )
    assert worker.returncode == 0, worker.stderr.decode()[-3000:]
    jobs = list(track.jobs.order_by("created", "pk"))
    assert [(j.kind, j.status) for j in jobs] == [
        (Job.Kind.ANALYSIS, Job.Status.SUCCEEDED),
        (Job.Kind.SEPARATION, Job.Status.SUCCEEDED),
        (Job.Kind.ANALYSIS, Job.Status.SUCCEEDED),  # again, with the stems (fetched from the bucket)
    ], [j.error for j in jobs]
    assert jobs[0].result.data["key"]["key"] == "E"
    assert set(jobs[2].result.data["stems"]) >= {"drums", "bass"}
    stems = list(Stem.objects.filter(track=track))
    assert {s.name for s in stems} == FOUR
    track.refresh_from_db()
    assert track.preview == f"tracks/{track.uuid}/original.preview.mp3" and track.preview in keys(client)
    # Each stem and its preview for listen-only links, stored in the bucket before the job was done.
    assert keys(client, f"tracks/{track.uuid}/stems/") == {s.file for s in stems} | {s.preview for s in stems}
    assert not (elsewhere / "no-media-here").exists()  # nothing was kept on the worker's disk

    # A stem: a redirect to a signed URL of the bucket, which serves the file, ranges included.
    vocals = next(s for s in stems if s.name == "vocals")
    response = alice_client.get(f"/tracks/{track.uuid}/stems/{vocals.uuid}/?download=1")
    assert response.status_code == 302
    fetched = requests.get(response["Location"], timeout=30)
    assert fetched.status_code == 200 and len(fetched.content) == vocals.size
    assert "attachment" in fetched.headers["Content-Disposition"]
    data, rate = sf.read(io.BytesIO(fetched.content))
    assert rate == 44100 and data.shape == (6 * 44100, 2)
    part = requests.get(response["Location"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and part.content == fetched.content[:100]
    assert "Signature=" in response["Location"] and "Expires=" in response["Location"]  # signed, short-lived

    # The zip and the mix read the stems from the bucket.
    job = jobs[1]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(
        alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/zip/").streaming_content)))
    assert len(archive.namelist()) == 4
    assert archive.read(next(n for n in archive.namelist() if "vocals" in n)) == fetched.content
    mix = b"".join(alice_client.get(f"/tracks/{track.uuid}/separations/{job.uuid}/mix/").streaming_content)
    mixed, _ = sf.read(io.BytesIO(mix))
    assert mixed.shape == (6 * 44100, 2)

    # Deleting the track empties its prefix.
    assert alice_client.post(f"/tracks/{track.uuid}/delete/").status_code == 302
    assert keys(client) == set()
