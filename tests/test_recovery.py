"""Jobs are never left queued or running for nobody: a worker killed mid-job, a Redis that lost its queue
(jobs.recover, which `manage.py serve` runs at start-up and every few seconds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests import processes
from tests.conftest import worker_env
from tests.test_jobs import upload
from tracks import jobs
from tracks.files import storage
from tracks.live import events
from tracks.models import Job

ROOT = Path(__file__).resolve().parent.parent


def pushes(track) -> Callable[[], str]:
    """Listen on the track page's group as a page would; returns a function giving what arrived."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.track_group(track.uuid), channel)

    def received() -> str:
        html = []
        while True:
            try:
                message = async_to_sync(_receive)(layer, channel)
            except TimeoutError:
                return "".join(html)
            html.append(message["html"])

    return received


async def _receive(layer, channel: str) -> dict:
    import asyncio

    return await asyncio.wait_for(layer.receive(channel), timeout=1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_is_retried_and_the_page_hears_of_it(
    alice_client: Client, c_major_wav: Path, run_worker: Callable[[str], bool], settings
) -> None:
    settings.JOB_STALE_S = 1
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    path = str(storage.track_path(track))
    worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "rqworker", "analysis", "--burst"],
                              env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == Job.Status.RUNNING and processes.with_marker(path):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the analysis never got going: {job.status} {job.stage}")
    finally:
        # SIGKILL the worker and its work-horse: nothing of theirs gets to clean up.
        for pid in [worker.pid, *processes.children(worker.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        worker.wait()
    deadline = time.monotonic() + 5
    while processes.with_marker(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes.with_marker(path)  # the port went with its worker
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.RUNNING, 1)  # as the dead worker left it
    heard = pushes(track)
    time.sleep(1.1)
    assert jobs.recover() == {"retried": 1, "failed": 0, "requeued": 0, "promoted": 0}
    job.refresh_from_db()
    assert (job.status, job.stage, job.rq_id) == (Job.Status.QUEUED, "retrying: the worker stopped", f"{job.uuid}-2")
    assert "retrying: the worker stopped" in heard()
    run_worker("analysis")
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 2)
    assert job.result.data["key"]["key"] == "C"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_out_of_attempts_fails_with_a_clear_message(alice_client: Client, c_major_wav: Path,
                                                          settings) -> None:
    settings.JOB_ATTEMPTS = 2
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    assert job.claim() and job.attempts == 1
    job.requeue(f"{job.uuid}-2", "retrying")
    assert job.claim() and job.attempts == 2
    # Its second worker stops too: no heartbeat for longer than JOB_STALE_S.
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=settings.JOB_STALE_S + 1))
    heard = pushes(track)
    assert jobs.recover()["failed"] == 1
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "the worker stopped while running this job (2 attempts)"
    assert "the worker stopped" in heard()


@pytest.mark.django_db(transaction=True)
def test_a_running_job_with_a_live_worker_is_left_alone(alice_client: Client, c_major_wav: Path) -> None:
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    assert job.claim()
    assert jobs.recover() == {"retried": 0, "failed": 0, "requeued": 0, "promoted": 0}
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_job_can_no_longer_touch_it(alice_client: Client, c_major_wav: Path) -> None:
    """A worker thought dead but only stuck wakes up after its job was retried elsewhere."""
    track = upload(alice_client, c_major_wav)
    stuck = Job.objects.get(track=track)
    assert stuck.claim()
    assert stuck.requeue(f"{stuck.uuid}-2", "retrying: the worker stopped")
    retry = Job.objects.get(pk=stuck.pk)
    assert retry.claim() and retry.attempts == 2
    assert not stuck.beat()
    stuck.set_progress(0.9, "late")
    assert not stuck.succeed()
    assert not stuck.fail("late")
    row = Job.objects.get(pk=stuck.pk)
    assert (row.status, row.progress, row.stage) == (Job.Status.RUNNING, 0.0, "starting")
    assert retry.succeed()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_queued_job_that_redis_lost_is_enqueued_again(alice_client: Client, c_major_wav: Path,
                                                        run_worker: Callable[[str], bool], settings) -> None:
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    queue = django_rq.get_queue("analysis")
    queue.empty()  # Redis restarted without its data
    assert queue.fetch_job(job.rq_id) is None
    # Too young to tell from a job whose transaction has not committed yet: left alone.
    assert jobs.recover()["requeued"] == 0
    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(seconds=settings.JOB_ENQUEUE_GRACE_S + 1))
    out = []
    call_command("recover", stdout=type("Out", (), {"write": lambda self, s: out.append(s)})())
    assert "1 enqueued again" in "".join(out)
    assert queue.fetch_job(job.rq_id) is not None
    run_worker("analysis")
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_recover_every_keeps_watching_until_stopped(alice_client: Client, c_major_wav: Path, settings) -> None:
    """What `manage.py serve` runs beside the workers."""
    track = upload(alice_client, c_major_wav)
    job = Job.objects.get(track=track)
    proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "recover", "--every", "0.2"],
                            env={**worker_env(), "SOUNDFORGE_JOB_STALE_S": "10"}, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        assert job.claim()  # claimed, then its worker goes quiet
        Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(seconds=11))
        deadline = time.monotonic() + 20
        while Job.objects.get(pk=job.pk).status == Job.Status.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
        assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "1 retried, 0 failed, 0 enqueued again" in out
