"""/healthz/: the database, Redis, and a worker seen recently on each queue."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django_rq
import pytest
from django.test import Client
from rq import Worker
from rq.utils import utcformat
from rq.worker import WorkerStatus

from tests.conftest import worker_env

pytestmark = pytest.mark.slow  # every test here runs a port, a worker or a server

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db(transaction=True)
def test_it_is_healthy_only_while_workers_run() -> None:
    client = Client()  # nobody logged in: monitors have no account
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "ok", "workers": {"analysis": 0, "processing": 0},
                               "status": "unhealthy"}
    worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "rqworker", "analysis", "processing"],
                              env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and client.get("/healthz/").status_code != 200:
            time.sleep(0.2)
        response = client.get("/healthz/")
        assert response.status_code == 200
        assert response.json() == {"database": "ok", "redis": "ok", "workers": {"analysis": 1, "processing": 1},
                                   "status": "ok"}
        # Signal handlers are in place only once the worker waits for work (RQ registers it first): a SIGTERM
        # before that kills it without its goodbye.
        while time.monotonic() < deadline and not all(
                found.get_state() == WorkerStatus.IDLE for found in Worker.all(queue=django_rq.get_queue("analysis"))):
            time.sleep(0.05)
        # Idle for minutes: RQ renews an idle worker's heartbeat only every worker_ttl; its key lives on.
        queue = django_rq.get_queue("analysis")
        for found in Worker.all(queue=queue):
            queue.connection.hset(found.key, "last_heartbeat", utcformat(datetime.now(UTC) - timedelta(minutes=5)))
        assert client.get("/healthz/").status_code == 200
    finally:
        worker.send_signal(signal.SIGTERM)  # a worker stopping cleanly says goodbye
        worker.wait(timeout=30)
    assert client.get("/healthz/").status_code == 503
    assert client.post("/healthz/").status_code == 405
