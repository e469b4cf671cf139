"""The render job: the render port mixes one separation's stems as the mixer plays them (levels, pans, speed,
pitch, the loop); the file is kept with the track, the track's older render removed."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from ..files import storage
from ..models import Job
from .running import fail, run_and_record


def render(job: Job) -> None:
    options = job.options
    stems = list(job.track.stems.filter(job__uuid=options["separation"]))
    if not stems:
        fail(job, "the stems of this mix are gone")
        return
    name = storage.render_name(job)
    with tempfile.TemporaryDirectory(prefix="soundforge-render-") as folder, contextlib.ExitStack() as files:
        out = Path(folder) / Path(name).name
        args = []
        for stem in stems:
            path = files.enter_context(storage.local_file(stem.file))
            gain, pan = options["gains"].get(stem.name, 1.0), options["pans"].get(stem.name, 0.0)
            args += ["--stem", f"{path}:{gain}:{pan}"]
        args += ["--rate", str(options["rate"]), "--semitones", str(options["semitones"]),
                 "--start", str(options["start"]), "--format", options["format"], "--output", os.fspath(out)]
        if options.get("end") is not None:
            args += ["--end", str(options["end"])]

        def store(data: dict[str, Any]) -> None:
            storage.store(name, out)

        def record(data: dict[str, Any]) -> None:
            older = list(Job.objects.filter(track=job.track, kind=Job.Kind.RENDER, status=Job.Status.SUCCEEDED)
                         .exclude(pk=job.pk))
            Job.objects.filter(pk=job.pk).update(options={**options, "file": name, "bytes": data["bytes"],
                                                          "duration": data["duration"]})
            for old in older:  # their files go: the quota stops counting them
                Job.objects.filter(pk=old.pk).update(options={**old.options, "bytes": 0})
            transaction.on_commit(lambda: [default_storage.delete(storage.render_name(old)) for old in older])

        run_and_record(job, "render_mix", args, on_success=record, before_success=store)
        if job.status != Job.Status.SUCCEEDED:
            default_storage.delete(name)  # nothing half-written stays behind
