"""`manage.py cleanup`: media that no row points at goes; everything a row points at, or that is still being
written, stays."""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.test_jobs import upload
from tracks.files import storage
from tracks.models import Job


def make(path: Path, age_s: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF....")
    if age_s:
        old = time.time() - age_s
        for entry in [path, *path.parents]:
            if entry == Path(settings.MEDIA_ROOT):
                break
            os.utime(entry, (old, old))
    return path


def cleanup(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_it_removes_only_what_no_row_points_at(alice_client: Client, c_major_wav: Path) -> None:
    track = upload(alice_client, c_major_wav)
    kept_track = storage.track_path(track)
    hour = storage.ORPHAN_GRACE_S + 60
    gone_track = make(storage.track_dir(uuid.uuid4()) / "original.wav", hour).parent
    gone_stems = make(storage.track_dir(track.uuid) / "stems" / str(uuid.uuid4()) / "drums.wav", hour).parent
    running = Job.objects.create(track=track, kind=Job.Kind.SEPARATION)
    writing = make(storage.stems_dir(running) / "bass.wav", hour).parent  # its job is still active
    young = make(storage.track_dir(uuid.uuid4()) / "original.wav").parent  # an upload in progress, perhaps
    listed = cleanup("--dry-run")
    assert f"would remove {gone_track}" in listed and f"would remove {gone_stems}" in listed
    assert "2 orphan folder(s)" in listed
    assert gone_track.exists() and gone_stems.exists()
    cleanup()
    assert not gone_track.exists() and not gone_stems.exists()
    assert kept_track.exists() and writing.exists() and young.exists()
    assert "1 orphan folder(s)" in cleanup("--older-than", "0")  # the young one, when asked


def test_resumable_uploads_a_day_old_go(alice) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tracks.api import uploads
    from tracks.models import Upload

    old = Upload.objects.create(user=alice, length=100, offset=10, filename="old.wav",
                                created=timezone.now() - timedelta(hours=25))
    new = Upload.objects.create(user=alice, length=100, offset=10, filename="new.wav")
    for row in (old, new):
        uploads.part(row).write_bytes(b"x" * 10)
    assert "would remove the resumable upload old.wav (10 of 100 bytes)" in cleanup("--dry-run")
    assert uploads.part(old).exists()
    assert "1 resumable upload(s) a day old" in cleanup()
    assert not uploads.part(old).exists() and not Upload.objects.filter(pk=old.pk).exists()
    assert uploads.part(new).exists() and Upload.objects.filter(pk=new.pk).exists()
