"""The Job state machine (tracks/models.py): QUEUED -> RUNNING -> SUCCEEDED | FAILED, CANCELLED from either
active state, RUNNING -> QUEUED on recovery; each move atomic, and a worker that lost its run changes nothing."""

from __future__ import annotations

import pytest

from tests.helpers import track_row
from tracks.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: object) -> Job:
    return Job.objects.create(track=track_row(alice), kind=Job.Kind.ANALYSIS)


def stored(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def test_a_queued_job_is_claimed_once(job: Job) -> None:
    other_worker = stored(job)
    assert job.claim()
    assert (job.status, job.attempts, job.stage, job.progress) == (Job.Status.RUNNING, 1, "starting", 0.0)
    assert job.started is not None and job.heartbeat is not None
    assert not other_worker.claim()  # the same row, read before: it is no longer queued
    assert stored(job).attempts == 1


def test_a_running_job_succeeds_or_fails_once_and_then_stays(job: Job) -> None:
    job.claim()
    assert job.succeed()
    row = stored(job)
    assert (row.status, row.progress, row.stage) == (Job.Status.SUCCEEDED, 1.0, "done")
    assert row.finished is not None
    assert not job.fail("too late") and not job.cancel()
    assert stored(job).status == Job.Status.SUCCEEDED and stored(job).error == ""


def test_a_failure_keeps_its_message_cut_to_the_column(job: Job) -> None:
    job.claim()
    assert job.fail("x" * 5000)
    row = stored(job)
    assert row.status == Job.Status.FAILED and row.stage == "failed" and len(row.error) == 2000


@pytest.mark.parametrize("claimed", [False, True])
def test_cancel_ends_a_queued_or_running_job_and_the_worker_can_record_nothing(job: Job, claimed: bool) -> None:
    if claimed:
        job.claim()
    worker = stored(job)
    assert job.cancel()
    assert stored(job).status == Job.Status.CANCELLED and stored(job).finished is not None
    assert not job.cancel()  # once
    assert not worker.claim() and not worker.beat() and not worker.succeed()
    worker.set_progress(0.9, "late")
    row = stored(job)
    assert (row.status, row.progress, row.stage) == (Job.Status.CANCELLED, 0.0, "cancelled")


def test_a_requeued_run_belongs_to_the_next_claim_not_the_old_worker(job: Job) -> None:
    job.claim()
    old_worker = stored(job)
    old_worker.set_progress(0.5, "key")
    assert job.requeue("rq-2", "worker stopped; trying again")
    row = stored(job)
    assert (row.status, row.rq_id, row.progress, row.heartbeat) == (Job.Status.QUEUED, "rq-2", 0.0, None)
    assert job.claim() and job.attempts == 2
    # The old worker's attempt is over: its heartbeat, progress and outcome no longer land.
    assert not old_worker.beat() and not old_worker.succeed()
    old_worker.set_progress(0.8, "old")
    assert stored(job).progress == 0.0 and stored(job).status == Job.Status.RUNNING
    assert job.succeed()


def test_progress_never_goes_back_and_is_clamped(job: Job) -> None:
    job.claim()
    job.set_progress(0.6, "chords", eta=12.0)
    job.set_progress(0.4, "a late line")
    assert (stored(job).progress, stored(job).stage) == (0.6, "a late line")
    job.set_progress(3.0, "over")
    assert stored(job).progress == 1.0

def test_only_a_running_job_is_requeued(job: Job) -> None:
    assert not job.requeue("rq-0", "not started yet")
    job.claim()
    assert stored(job).requeue("rq-1", "worker stopped")
    assert stored(job).status == Job.Status.QUEUED
    assert not job.requeue("rq-2", "again")  # this copy still says running; the row does not


def test_a_job_whose_track_is_gone_finishes_quietly(job: Job) -> None:
    job.claim()
    job.track.delete()
    assert not job.succeed() and not job.fail("gone") and not job.beat()
    assert not Job.objects.filter(pk=job.pk).exists()
