"""`manage.py recover [--every S]`: retry or fail jobs whose worker stopped, and enqueue again those Redis
lost; once, or at once and then every S seconds until stopped (and then also check which separation models
can load here whenever the last answer is old, and queue the webhook deliveries due again).

`manage.py serve` runs it with --every SOUNDFORGE_RECOVER_EVERY_S; deployments that run workers some other
way run it the same way (or once at start-up and from a timer).
"""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand

from tracks import jobs
from tracks.live import webhooks
from tracks.ports.host import processes

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Retry or fail jobs whose worker stopped; enqueue again queued jobs that Redis no longer has."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="keep going, once every this many seconds")

    def handle(self, *args, **options) -> None:
        if not options["every"]:
            self.report(jobs.recover())
            return
        stop = processes.StopFlag().install()
        while not stop:
            try:
                counts = jobs.recover()
                webhooks.due()  # webhook deliveries whose next try has come
                if jobs.models_stale():  # which separation models can load here (jobs.check_models)
                    jobs.check_models()
            except Exception:  # Redis or the database away for a moment: try again next time
                logger.exception("job recovery failed this time")
            else:
                if any(counts.values()):
                    self.report(counts)
            stop.sleep(options["every"])

    def report(self, counts: dict[str, int]) -> None:
        self.stdout.write(
            f"{counts['retried']} retried, {counts['failed']} failed, {counts['requeued']} enqueued again, "
            f"{counts['promoted']} waiting queued"
        )
