"""The RQ worker class `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"])."""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import Worker as RQWorker
from rq import worker_registration

from .live import panels

logger = logging.getLogger(__name__)


class Worker(RQWorker):
    """RQ's worker, which also registers itself again when Redis has forgotten it (restarted without its
    data). RQ registers a worker once, at birth, so without this it would go on working, reconnected, but
    unseen by /healthz/ and the RQ dashboard. And it compiles the templates pushes render before it forks
    its first work-horse, so no job pays for that in its first progress line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        panels.load_templates()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)
        try:
            if self.connection.hexists(self.key, "birth"):
                return
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, again)
                again.expire(self.key, timeout or self.worker_ttl + 60)
                again.execute()
            logger.warning("worker %s: Redis had forgotten it; registered again", self.name)
        except (redis.ConnectionError, redis.TimeoutError) as exc:  # mid-job: never stop the job for this
            logger.info("worker %s: could not check its registration: %s", self.name, exc)
