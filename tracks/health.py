"""What /healthz/ reports: whether the database answers, Redis answers, and each queue has a live worker. For
load balancers and monitors: counts and words, nothing about anyone.

A worker is alive while RQ keeps its key: a working worker renews it with every heartbeat, an idle one every
``worker_ttl`` (its blocking wait for a job lasts that long), and the key expires a minute after that.
Judging by the last heartbeat instead would call every idle worker dead after a minute or so."""

from __future__ import annotations

from typing import Any

import django_rq
from django.db import connection
from rq import Worker

from .ports.contract import QUEUES


def check() -> tuple[bool, dict[str, Any]]:
    report: dict[str, Any] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except Exception as exc:  # any driver's error means the same thing here
        report["database"] = f"error: {type(exc).__name__}"
    workers: dict[str, int] = {}
    try:
        for name in QUEUES:
            queue = django_rq.get_queue(name)
            queue.connection.ping()
            # Worker.all drops the workers whose key has expired.
            workers[name] = len(Worker.all(queue=queue))
        report["redis"] = "ok"
    except Exception as exc:  # Redis away: connection refused, timeout, ...
        report["redis"] = f"error: {type(exc).__name__}"
    report["workers"] = workers
    healthy = (report["database"] == "ok" and report["redis"] == "ok"
               and all(workers.get(name, 0) > 0 for name in QUEUES))
    report["status"] = "ok" if healthy else "unhealthy"
    return healthy, report
