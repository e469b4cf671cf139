"""Jobs in and out of the queues, for every kind alike (tracks/jobs/kinds.py): enqueue, cancel, recover."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import django_rq
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .. import access, limits
from ..live import events, panels
from ..models import Job, Track
from . import kinds

logger = logging.getLogger("tracks.jobs")


def enqueue(kind: str, track: Track, options: dict[str, Any] | None = None, by: Any = None,
            limited: bool = True) -> Job:
    """Queue a job of this kind on the track once the surrounding transaction commits. The caller has asked
    access.py and checked the options; ``by`` is checked once more here (the kind's ``may``): whatever door
    the request came through, only those allowed start work on a track. None has more than
    SOUNDFORGE_MAX_ACTIVE_JOBS queued or running at once unless not ``limited`` (an upload's own analysis:
    uploads have their rate and the storage quota): the rest wait their turn, in the order asked (``promote``;
    limits.Busy when too many wait already)."""
    entry = kinds.KINDS[kind]
    waits = False
    if by is not None:
        if not entry.may(access.Actor(by), track):
            raise PermissionDenied("You may not start jobs on this track.")
        waits = limited and limits.must_wait(by)
    job = Job.objects.create(track=track, kind=kind, options=options or {}, requested_by=by,
                             status=Job.Status.WAITING if waits else Job.Status.QUEUED)
    if not waits:
        _enqueue(job)
    if by is not None:
        events.queue_changed(by.pk)
    return job


def promote(user_id: int | None) -> int:
    """Queue the person's waiting jobs, oldest first, while they have fewer than SOUNDFORGE_MAX_ACTIVE_JOBS
    queued or running; each one's panels and row are told. Called whenever one of their jobs ends or is
    cancelled, and by ``recover``. Returns how many were queued."""
    if user_id is None:
        return 0
    with transaction.atomic():
        limits.lock_person(user_id)  # as limits.must_wait does
        free = settings.MAX_ACTIVE_JOBS - Job.objects.filter(requested_by_id=user_id,
                                                             status__in=Job.IN_REDIS).count()
        waiting = Job.objects.select_related("track").filter(requested_by_id=user_id, status=Job.Status.WAITING)
        promoted = 0
        for job in waiting.order_by("created", "id")[:max(free, 0)]:
            if job.promote():
                _enqueue(job)
                events.changed(job.track, panels.JOB)
                promoted += 1
        if promoted:
            events.queue_changed(user_id)
    return promoted


def ended(job: Job) -> None:
    """A job left the queue (it ended, failed or was cancelled): its requester's queue is told, and their
    next waiting job may go."""
    events.queue_changed(job.requested_by_id)
    promote(job.requested_by_id)


def _enqueue(job: Job) -> None:
    entry = kinds.of(job)
    django_rq.get_queue(entry.queue).enqueue("tracks.jobs.running.run", job.pk, job_id=job.rq_id,
                                             job_timeout=entry.timeout(job.track) + 60)


def cancel(job: Job) -> bool:
    """Cancel a queued or running job: a queued one never starts, a running one's port is killed by its
    worker (run_and_record's should_cancel), which also removes what it had written."""
    was = job.status
    if not job.cancel():
        return False
    ended(job)
    if was == Job.Status.WAITING:
        return True
    rq_job = django_rq.get_queue(kinds.of(job).queue).fetch_job(job.rq_id)
    if rq_job is not None and rq_job.get_status(refresh=False) == "queued":
        rq_job.cancel()
    return True


def recover(now: datetime | None = None) -> dict[str, int]:
    """Make sure no job stays queued or running for nobody; run at start-up and every little while.

    - Running, but its worker stopped (no heartbeat for ``JOB_STALE_S``, or RQ itself says the job failed,
      as when a work-horse is killed): queued again under a new RQ id while it has attempts left
      (``JOB_ATTEMPTS``), else failed with "the worker stopped"; what the stopped attempt left behind goes
      (its kind's ``abandoned``).
    - Waiting while its requester has a free place: queued (``promote``; a push lost on the way, say).
    - Queued in the database but not in Redis (Redis restarted without its data): enqueued again.

    Every change is pushed to the pages. Returns how many jobs were retried, failed, promoted and re-enqueued."""
    now = now or timezone.now()
    counts = {"retried": 0, "failed": 0, "requeued": 0, "promoted": 0}
    stale = now - timedelta(seconds=settings.JOB_STALE_S)
    for job in Job.objects.select_related("track").filter(status=Job.Status.RUNNING):
        entry = kinds.of(job)
        rq_job = django_rq.get_queue(entry.queue).fetch_job(job.rq_id)
        rq_failed = rq_job is not None and rq_job.get_status(refresh=False) in ("failed", "stopped", "canceled")
        if not rq_failed and (job.heartbeat or job.started or now) >= stale:
            continue
        if job.attempts < settings.JOB_ATTEMPTS:
            if job.requeue(f"{job.uuid}-{job.attempts + 1}", "retrying: the worker stopped"):
                _enqueue(job)
                counts["retried"] += 1
                logger.warning("job %s: its worker stopped; queued again (attempt %d)", job.uuid, job.attempts + 1)
        elif job.fail(f"the worker stopped while running this job ({job.attempts} attempts)"):
            counts["failed"] += 1
            logger.warning("job %s: its worker stopped; failed after %d attempts", job.uuid, job.attempts)
        if entry.abandoned and job.status != Job.Status.RUNNING:
            entry.abandoned(job)
        events.changed(job.track, panels.JOB)
    waiting = Job.objects.filter(status=Job.Status.WAITING).order_by()
    for user_id in waiting.values_list("requested_by", flat=True).distinct():
        counts["promoted"] += promote(user_id)
    grace = now - timedelta(seconds=settings.JOB_ENQUEUE_GRACE_S)
    for job in Job.objects.select_related("track").filter(status=Job.Status.QUEUED, created__lt=grace):
        rq_job = django_rq.get_queue(kinds.of(job).queue).fetch_job(job.rq_id)
        if rq_job is None or rq_job.get_status(refresh=False) not in ("queued", "started", "deferred", "scheduled"):
            _enqueue(job)
            counts["requeued"] += 1
            logger.warning("job %s was queued but not in Redis; enqueued again", job.uuid)
    return counts
