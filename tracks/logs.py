"""Which job a log line is about: ``job_context`` marks the code running a job, and ``JobFilter`` puts that
job's id on every record logged meanwhile (``job``: its uuid, or "-"), for the plain and the JSON format."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_current_job: contextvars.ContextVar[str] = contextvars.ContextVar("soundforge_job", default="-")


@contextlib.contextmanager
def job_context(job_uuid: object) -> Iterator[None]:
    token = _current_job.set(str(job_uuid))
    try:
        yield
    finally:
        _current_job.reset(token)


class JobFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job = _current_job.get()
        return True
