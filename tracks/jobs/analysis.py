"""The analysis job: the analyzer port over the track (and its stems, once it has them); the track's preview
for listen-only links is made first, once."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage

from ..files import storage
from ..live import events
from ..models import Activity, AnalysisResult, Cue, Job, Track
from ..music import cues
from ..ports import contract
from ..ports.host import runner
from .running import PUSH_INTERVAL_S, port_limits, run_and_record

logger = logging.getLogger("tracks.jobs")

FEATURES = ",".join(contract.FEATURES)
PREVIEW_TIMEOUT_S = 300


def analyse(job: Job) -> None:
    def record(data: dict[str, Any]) -> None:
        AnalysisResult.record(job, data)
        Cue.propose(job.track, cues.found(data, job.track.duration))
        Activity.record(job.track, Activity.Verb.ANALYSED, job.requested_by)

    # Once the track has stems, the analysis listens to them too: drums for the beats, bass for the chord
    # roots, and a loudness for each. The port reads local files: copies, when the storage is a bucket.
    with contextlib.ExitStack() as files:
        path = files.enter_context(storage.local_file(job.track.file))
        if not job.track.preview:
            _make_preview(job, path)
        stems = [f"--stem={name}={files.enter_context(storage.local_file(file))}"
                 for name, file in job.track.newest_stems().items()
                 if name in contract.STEMS and default_storage.exists(file)]
        run_and_record(job, "analyzer", [os.fspath(path), "--features", FEATURES, "--output", "json", *stems],
                       on_success=record)


def _make_preview(job: Job, path: Path) -> None:
    """The track's preview for listen-only links (tracks/ports/preview.py), made once, as the first stage of
    its first analysis. Without one such a link plays nothing: a failure is logged, not the job's."""
    track = job.track
    name = storage.preview_name(track.file)

    def on_progress(p: runner.Progress) -> None:
        job.set_progress(0.0, p.stage)
        events.progressed(track)

    with tempfile.TemporaryDirectory(prefix="soundforge-preview-") as folder:
        out = Path(folder) / Path(name).name
        try:
            runner.run_port(runner.port("preview"), [os.fspath(path), "--output", os.fspath(out)],
                            timeout=PREVIEW_TIMEOUT_S, progress_interval=PUSH_INTERVAL_S, on_progress=on_progress,
                            should_cancel=lambda: not job.this_run().exists(), **port_limits())
        except runner.PortError as exc:
            logger.warning("job %s: no preview for track %s: %s: %s", job.uuid, track.uuid, exc.kind, exc.message)
            return
        default_storage.delete(name)  # a preview stored by an attempt that stopped before recording it
        storage.store(name, out)
    if not Track.objects.filter(pk=track.pk).update(preview=name):
        default_storage.delete(name)  # the track was deleted meanwhile
    track.preview = name
