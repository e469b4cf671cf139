"""What /healthz/ reports: whether the database answers, Redis answers, and each queue has a worker that
said it was alive recently. For load balancers and monitors: counts and words, nothing about anyone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_rq
from django.db import connection
from django.utils import timezone
from rq import Worker

from .jobs import QUEUES

WORKER_SEEN_S = 60


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
        seen = timezone.now() - timedelta(seconds=WORKER_SEEN_S)
        for name in QUEUES.values():
            queue = django_rq.get_queue(name)
            queue.connection.ping()
            workers[name] = sum(1 for w in Worker.all(queue=queue)
                                if w.last_heartbeat and _aware(w.last_heartbeat) >= seen)
        report["redis"] = "ok"
    except Exception as exc:  # Redis away: connection refused, timeout, ...
        report["redis"] = f"error: {type(exc).__name__}"
    report["workers"] = workers
    healthy = (report["database"] == "ok" and report["redis"] == "ok"
               and all(workers.get(name, 0) > 0 for name in QUEUES.values()))
    report["status"] = "ok" if healthy else "unhealthy"
    return healthy, report


def _aware(moment: Any) -> Any:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.utc)
