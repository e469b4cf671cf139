"""Redis restarted (and, as these machines run it, without its data) while jobs are queued and running:
`manage.py serve`'s workers and web server reconnect by themselves, open pages keep hearing, no job is lost
(recovery enqueues again what Redis forgot)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.audio import variant
from tests.live import Page, Served, wait_for
from tracks.dev_redis import EmbeddedRedis
from tracks.models import Job, Track

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

DONE = '<span class="label">Tempo</span>'  # the analysis panel with its figures


@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_loses_no_job_and_everything_reconnects(alice, c_major_wav: Path, tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis")
    url = redis.start()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    served = Served(tmp_path / "serve", url, analysis_workers=1, processing_workers=0,
                    SOUNDFORGE_RECOVER_EVERY_S="1", SOUNDFORGE_JOB_ENQUEUE_GRACE_S="1")
    try:
        with served:
            http = served.session(alice)
            assert served.upload(http, variant(c_major_wav, 1, tmp_path)).status_code == 201
            assert served.upload(http, variant(c_major_wav, 2, tmp_path)).status_code == 201
            running, queued = (Job.objects.get(track=t) for t in Track.objects.order_by("created"))
            page = Page(served, http, f"/ws/tracks/{queued.track.uuid}/")
            page.receive_until(f"job-panel-{queued.track.uuid}", timeout=10)  # the state on connect

            # One worker: the first analysis runs while the second waits in Redis. Then Redis goes away
            # and comes back empty.
            wait_for(lambda: Job.objects.get(pk=running.pk).status == Job.Status.RUNNING, 60, "the first job")
            assert Job.objects.get(pk=queued.pk).status == Job.Status.QUEUED
            redis.stop()
            redis.start(port)

            # The job that was running finishes; the one Redis forgot is enqueued again and runs too; the
            # page open on it is asked to reconnect (its channel's Redis connection broke), does, and hears
            # the result.
            page.receive_until(DONE, timeout=120)
            assert page.reconnects >= 1
            for job in (running, queued):
                job.refresh_from_db()
                assert job.status == Job.Status.SUCCEEDED, (job.status, job.error, served.output())
            assert "enqueued again" in served.output()

            # New work goes through the restarted Redis, and the worker shows up in /healthz/ again.
            assert served.upload(http, variant(c_major_wav, 3, tmp_path)).status_code == 201
            latest = Job.objects.get(track=Track.objects.latest("created"))
            wait_for(lambda: Job.objects.get(pk=latest.pk).status == Job.Status.SUCCEEDED, 60, "a new job")
            wait_for(lambda: requests.get(f"{served.url}/healthz/", timeout=5).json()["workers"]["analysis"] == 1,
                     30, "the worker to be seen by /healthz/")
            page.close()
    finally:
        redis.stop()
