"""Where files live: server-chosen names in Django's default storage (the media folder, or an S3 bucket),
local copies for the ports, deleting a track's or a separation's files, and the orphan scan."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from ..models import Job, Stem, Track
from ..ports import contract


def is_local() -> bool:
    """Whether the storage is a folder here (its files have paths), rather than a remote bucket."""
    try:
        default_storage.path("x")
    except NotImplementedError:
        return False
    return True


# The storage layout, here only: everything of a track under tracks/<uuid>/ (so it goes with the track):
# original.<format>, cover.jpg (the file's embedded picture), stems/<separation job uuid>/<stem>.<format>,
# renders/<render job uuid>.<format>, and each one's preview beside it (preview_name).
def track_prefix(track_uuid: uuid.UUID | str) -> str:
    return f"tracks/{track_uuid}"


def original_name(track_uuid: uuid.UUID | str, fmt: str) -> str:
    return f"{track_prefix(track_uuid)}/original.{fmt}"


def cover_name(track_uuid: uuid.UUID | str) -> str:
    return f"{track_prefix(track_uuid)}/cover.jpg"


def track_dir(track_uuid: uuid.UUID) -> Path:
    return Path(settings.MEDIA_ROOT) / track_prefix(track_uuid)


def track_path(track: Track) -> Path:
    """The original's path in a local storage."""
    return Path(settings.MEDIA_ROOT) / track.file


@contextlib.contextmanager
def local_file(name: str) -> Iterator[Path]:
    """A stored file as a local path for a port to read: the file itself in a local storage, else a copy
    fetched into a temporary file (same extension) that is removed afterwards."""
    if is_local():
        yield Path(default_storage.path(name))
        return
    with tempfile.TemporaryDirectory(prefix="soundforge-") as folder:
        copy = Path(folder) / Path(name).name
        with default_storage.open(name, "rb") as src, open(copy, "wb") as dst:
            for chunk in src.chunks():
                dst.write(chunk)
        yield copy


class _Staged(File):
    """A finished local file handed to the storage: a local storage moves it into place (no copy)."""

    def temporary_file_path(self) -> str:
        return self.name


def store(name: str, path: Path) -> None:
    """Put the local file ``path`` into the storage under exactly ``name``."""
    with open(path, "rb") as f:
        saved = default_storage.save(name, _Staged(f, name=os.fspath(path)))
    if saved != name:  # names are new uuids: a clash means something is badly wrong
        default_storage.delete(saved)
        raise RuntimeError(f"the storage named {name} {saved}")


def delete_prefix(prefix: str) -> None:
    """Every stored file under ``prefix`` (a folder in a local storage, a key prefix in a bucket)."""
    if is_local():
        shutil.rmtree(Path(settings.MEDIA_ROOT) / prefix, ignore_errors=True)
        return
    folders, files = default_storage.listdir(prefix)
    for file in files:
        default_storage.delete(f"{prefix}/{file}")
    for folder in folders:
        delete_prefix(f"{prefix}/{folder}")


def stems_prefix(job: Job) -> str:
    return f"{track_prefix(job.track.uuid)}/stems/{job.uuid}"


def stems_dir(job: Job) -> Path:
    """Where a separation's port writes: the stems' own folder in a local storage."""
    return Path(settings.MEDIA_ROOT) / stems_prefix(job)


def render_name(job: Job) -> str:
    return f"{track_prefix(job.track.uuid)}/renders/{job.uuid}.{job.options.get('format', 'wav')}"


def stem_path(stem: Stem) -> Path:
    return Path(settings.MEDIA_ROOT) / stem.file


def delete_stem_files(job: Job) -> None:
    delete_prefix(stems_prefix(job))


def delete_files(track: Track) -> None:
    delete_prefix(track_prefix(track.uuid))


ORPHAN_GRACE_S = 3600


def orphans(older_than_s: float = ORPHAN_GRACE_S) -> list[Path]:
    """Media no row points at: a track folder without its Track (a crash between delete and file removal,
    a restore of an older database), a separation folder without stems whose job is over (a worker killed
    while writing). Only what has not changed for ``older_than_s``, so work in progress is never taken."""
    root = Path(settings.MEDIA_ROOT) / "tracks"
    if not is_local() or not root.is_dir():  # a bucket: its own lifecycle rules, see docs/operations.md
        return []
    cutoff = time.time() - older_than_s
    tracks = {str(u) for u in Track.objects.values_list("uuid", flat=True)}
    kept_jobs = {str(u) for u in Stem.objects.values_list("job__uuid", flat=True)}
    kept_jobs |= {str(u) for u in Job.objects.filter(status__in=Job.ACTIVE).values_list("uuid", flat=True)}
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name not in tracks:
            if _untouched_since(folder, cutoff):
                found.append(folder)
            continue
        stems = folder / "stems"
        for job_folder in sorted(stems.iterdir()) if stems.is_dir() else []:
            if job_folder.name not in kept_jobs and _untouched_since(job_folder, cutoff):
                found.append(job_folder)
    return found


def _untouched_since(path: Path, cutoff: float) -> bool:
    """Nothing in the tree under ``path`` (itself included) changed after ``cutoff``."""
    for entry in [path, *path.rglob("*")]:
        try:
            if entry.lstat().st_mtime > cutoff:
                return False
        except FileNotFoundError:
            continue
    return True


preview_name = contract.preview_name  # the ports write them there too
