"""RQ job functions: thin, keyed by primary key, sharing one run-and-record helper.

A job claims its row (QUEUED -> RUNNING) atomically, runs a port through ports/runner.py, records the
result or a clear error on the row, and pushes every change to the pages through events.py.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import django_rq
from django.conf import settings

from . import events, media
from .models import AnalysisResult, Job, Track
from .ports import runner

logger = logging.getLogger(__name__)

ANALYSIS_FEATURES = "tempo,key,energy,spectral,mfcc,chroma,waveform"
PUSH_INTERVAL_S = 0.25


def enqueue_analysis(track: Track) -> Job:
    """Queue an analysis of the track once the surrounding transaction commits. The caller says what to
    push to the pages (a new track changes the library list, a re-run only the track)."""
    job = Job.objects.create(track=track, kind=Job.Kind.ANALYSIS)
    django_rq.get_queue("analysis").enqueue(
        analyse_track, job.pk, job_id=job.rq_id, job_timeout=settings.ANALYSIS_TIMEOUT_S + 60
    )
    return job


def port_env() -> dict[str, str]:
    settings.NUMBA_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return {"NUMBA_CACHE_DIR": str(settings.NUMBA_CACHE_DIR), "PYTHONUNBUFFERED": "1"}


def run_and_record(job: Job, port: str, args: list[str], timeout: float,
                   on_success: Callable[[dict[str, Any]], None]) -> None:
    """Run a claimed job's port, keep its row and every open page up to date, record the outcome."""
    track = job.track
    last_push = 0.0

    def on_progress(p: runner.Progress) -> None:
        nonlocal last_push
        stage_changed = p.stage != job.stage
        job.set_progress(p.fraction, p.stage)
        now = time.monotonic()
        if stage_changed or now - last_push >= PUSH_INTERVAL_S:
            last_push = now
            events.track_changed(track)

    def should_cancel() -> bool:
        # The track was deleted or the job cancelled under us: stop the port rather than finish for nobody.
        return not Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).exists()

    try:
        result = runner.run_port(
            runner.port_path(port),
            args,
            timeout=timeout,
            memory_limit_mb=settings.PORT_MEMORY_MB,
            on_progress=on_progress,
            should_cancel=should_cancel,
            python=settings.PORT_PYTHON or None,
            env=port_env(),
        )
        on_success(result.data)
    except runner.PortError as exc:
        if exc.kind == "cancelled":
            logger.info("job %s cancelled", job.uuid)
            return
        logger.warning("job %s failed: %s: %s\n%s", job.uuid, exc.kind, exc.message, exc.stderr_tail)
        job.fail(exc.message)
    except Exception as exc:
        logger.exception("job %s failed unexpectedly", job.uuid)
        job.fail(f"internal error: {type(exc).__name__}")
        raise
    else:
        job.succeed()
        logger.info("job %s succeeded in %.1f s", job.uuid, result.seconds)
    finally:
        if Track.objects.filter(pk=track.pk).exists():
            events.track_changed(track)


def analyse_track(job_pk: int) -> None:
    job = Job.objects.select_related("track").filter(pk=job_pk).first()
    if job is None or not job.claim():
        logger.info("analysis job %s is gone or already taken", job_pk)
        return
    events.track_changed(job.track)
    path = media.track_path(job.track)

    run_and_record(
        job,
        "analyzer",
        [os.fspath(path), "--features", ANALYSIS_FEATURES, "--output", "json"],
        timeout=settings.ANALYSIS_TIMEOUT_S,
        on_success=lambda data: AnalysisResult.record(job, data),
    )
