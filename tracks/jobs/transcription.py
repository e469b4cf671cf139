"""The transcription job: the transcription port turns the asked-for stems of one separation into notes;
each stem keeps its notes (the piano roll, the .mid downloads)."""

from __future__ import annotations

import contextlib
from typing import Any

from ..files import storage
from ..models import Activity, Job, Stem
from .running import fail, run_and_record


def transcribe(job: Job) -> None:
    stems = {s.name: s for s in job.track.stems.filter(job__uuid=job.options["separation"],
                                                       name__in=job.options["stems"])}
    if not stems:
        fail(job, "the stems to transcribe are gone")
        return

    def record(data: dict[str, Any]) -> None:
        for name, notes in data["stems"].items():
            if name in stems:
                Stem.objects.filter(pk=stems[name].pk).update(notes=notes)
        Job.objects.filter(pk=job.pk).update(options={**job.options, "model": data.get("model", ""),
                                                      "notes": {k: len(v) for k, v in data["stems"].items()}})
        Activity.record(job.track, Activity.Verb.TRANSCRIBED, job.requested_by, detail=", ".join(data["stems"]))

    with contextlib.ExitStack() as files:
        args = [f"--stem={name}={files.enter_context(storage.local_file(stem.file))}"
                for name, stem in stems.items()]
        run_and_record(job, "transcribe", args, on_success=record)
