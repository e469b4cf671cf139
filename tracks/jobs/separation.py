"""The separation job: the separation port writes the stems (and their listening copies); the new stems
replace an older separation's with the same model, and the track is analysed again with them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from ..files import storage
from ..models import Activity, Job, Stem
from .queueing import enqueue
from .running import run_and_record


def separate(job: Job) -> None:
    # The port writes the stems into their own folder of a local storage, else into a scratch folder from
    # which they are stored in the bucket before the job is recorded as done.
    local = storage.is_local()
    folder = storage.stems_dir(job) if local else Path(tempfile.mkdtemp(prefix="soundforge-stems-"))
    prefix = storage.stems_prefix(job)
    model, fmt = job.options.get("model", settings.DEFAULT_SEPARATION_MODEL), job.options.get("format", "wav")

    def store(data: dict[str, Any]) -> None:
        for path in [*data["stems"].values(), *(data.get("previews") or {}).values()]:
            storage.store(f"{prefix}/{Path(path).name}", Path(path))

    def record(data: dict[str, Any]) -> None:
        replaced = Stem.record(job, data, folder, prefix)
        Activity.record(job.track, Activity.Verb.SEPARATED, job.requested_by, detail=f"with {data['model']}")
        transaction.on_commit(lambda: [storage.delete_stem_files(old) for old in replaced])
        # The new stems make the analysis steadier and give each its loudness: analyse again with them.
        enqueue(Job.Kind.ANALYSIS, job.track)

    try:
        with storage.local_file(job.track.file) as original:
            run_and_record(
                job,
                "demucs_separate",
                [os.fspath(original), "--output-dir", os.fspath(folder), "--model", model, "--format", fmt,
                 "--previews"],
                on_success=record,
                before_success=None if local else store,
            )
    finally:
        if job.status != Job.Status.SUCCEEDED:
            # Failed, timed out, killed or cancelled: nothing half-written stays behind.
            storage.delete_prefix(prefix)
        if not local:
            shutil.rmtree(folder, ignore_errors=True)
