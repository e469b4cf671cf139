"""A job in a worker: RQ calls ``run`` with the row's primary key for every kind; it claims the row
(QUEUED -> RUNNING) atomically and hands it to its kind's body, which runs a port through ``run_and_record``:
the row and every open page kept up to date, the result or a clear error recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from soundforge import logs

from ..live import events, panels
from ..models import Job, Track
from ..ports.contract import ErrorKind
from ..ports.host import runner
from . import kinds, queueing

logger = logging.getLogger("tracks.jobs")

PUSH_INTERVAL_S = 0.1
HEARTBEAT_S = 5.0


def run(job_pk: int) -> None:
    """The RQ job function of every kind: the kind's body on the job's row once this worker has claimed it,
    logged as it."""
    job = Job.objects.select_related("track").filter(pk=job_pk).first()
    if job is None or not job.claim():
        logger.info("job %s is gone, cancelled or already taken", job_pk)
        return
    events.changed(job.track, panels.JOB)
    events.queue_changed(job.requested_by_id)
    events.job_event(job, "job.started")
    body: Callable[[Job], None] = import_string(kinds.of(job).body)
    with logs.job_context(job.uuid):
        body(job)


def ended(job: Job) -> None:
    """Push a job's end: its panels; when it succeeded, its kind's results and the activity. Its requester's
    next waiting job is queued."""
    if job.status == Job.Status.SUCCEEDED:
        events.changed(job.track, panels.JOB, kinds.of(job).results, panels.ACTIVITY)
    else:
        events.changed(job.track, panels.JOB)
    if job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):  # a cancel is announced by who cancelled
        events.job_event(job, f"job.{job.status}")
    queueing.ended(job)


def fail(job: Job, message: str) -> None:
    """Fail a claimed job before its port ran (what it needs is gone), and say so on the pages."""
    job.fail(message)
    ended(job)


def port_limits() -> dict[str, Any]:
    """What every job's port runs under: its memory, file size and nice limits, its interpreter and
    environment (runner.run_port's keyword arguments)."""
    return {"memory_limit_mb": settings.PORT_MEMORY_MB, "max_file_mb": settings.PORT_MAX_FILE_MB,
            "nice": settings.PORT_NICE, "python": settings.PORT_PYTHON or None, "env": port_env()}


def port_env() -> dict[str, str]:
    settings.NUMBA_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "NUMBA_CACHE_DIR": str(settings.NUMBA_CACHE_DIR),
        "PYTHONUNBUFFERED": "1",
        "SOUNDFORGE_MODELS_DIR": settings.MODELS_DIR,
    }


def run_and_record(job: Job, port: str, args: list[str],
                   on_success: Callable[[dict[str, Any]], None],
                   before_success: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run a claimed job's port under its kind's time limit, keep its row and every open page up to date,
    record the outcome.

    ``on_success`` records the port's output in the transaction that marks the job done; ``before_success``,
    slow work on it (storing files in a bucket), runs first, outside any transaction: a write transaction
    held open meanwhile would stop every other writer of a SQLite database."""
    track = job.track

    def on_progress(p: runner.Progress) -> None:
        # The runner hands over at most one line per PUSH_INTERVAL_S on average, the newest: recorded, then
        # pushed.
        eta, at = p.extra.get("eta"), p.extra.get("read_at")
        job.set_progress(p.fraction, p.stage, float(eta) if isinstance(eta, int | float) else None,
                         float(at) if isinstance(at, int | float) else None)
        events.progressed(track, job)

    last_beat = time.monotonic()

    def should_cancel() -> bool:
        # The track was deleted, the job cancelled, or (our heartbeat having stopped) retried elsewhere: stop
        # the port rather than finish for nobody. Asked twice a second; the heartbeat is written less often.
        nonlocal last_beat
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            return not job.beat()
        return not job.this_run().exists()

    try:
        result = runner.run_port(
            runner.port(port),
            args,
            timeout=kinds.of(job).timeout(track),
            progress_interval=PUSH_INTERVAL_S,
            on_progress=on_progress,
            should_cancel=should_cancel,
            warm_socket=str(settings.ANALYZER_SOCKET) if port == "analyzer" and settings.WARM_ANALYZER else None,
            **port_limits(),
        )
        if before_success:
            before_success(result.data)
        with transaction.atomic():
            # Recorded only if the job is still ours: a job cancelled or deleted at the last moment keeps
            # nothing, and a failure to record leaves it running for the except below to fail.
            if job.succeed():
                on_success(result.data)
    except runner.PortError as exc:
        if exc.kind == ErrorKind.CANCELLED:
            logger.info("job %s cancelled", job.uuid)
            return
        logger.warning("job %s failed: %s: %s\n%s", job.uuid, exc.kind, exc.message, exc.stderr_tail)
        job.fail(exc.message)
    except Exception as exc:
        logger.exception("job %s failed unexpectedly", job.uuid)
        job.fail(f"internal error: {type(exc).__name__}")
        raise
    else:
        logger.info("job %s finished as %s in %.1f s", job.uuid, job.status, result.seconds)
    finally:
        if Track.objects.filter(pk=track.pk).exists():
            ended(job)
