"""What a log line says: ``job_context`` marks the code running a job, and ``JobFilter`` puts that job's id on
every record logged meanwhile (``job``: its uuid, or "-"), for the plain and the JSON format. ``redact``
cuts share-link tokens, API tokens and webhook secrets out of a line (a token in a log is a key to a track or
an account); ``JobFilter`` applies it to every record, and keeps a refused request (a 4xx) to its one line,
without the traceback Django attaches."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator

_current_job: contextvars.ContextVar[str] = contextvars.ContextVar("soundforge_job", default="-")


@contextlib.contextmanager
def job_context(job_uuid: object) -> Iterator[None]:
    token = _current_job.set(str(job_uuid))
    try:
        yield
    finally:
        _current_job.reset(token)


LINK_PATH = re.compile(r"/s/[^/\s?\"']+")
# API tokens and webhook secrets, should one ever be written into a message (the API reads tokens from a
# header, never from a URL, so the access log has none to begin with).
SECRETS = re.compile(r"\b(sf|whsec)_[A-Za-z0-9_+/=-]{16,}")


def redact(text: str) -> str:
    return SECRETS.sub(lambda m: f"{m.group(1)}_[token]", LINK_PATH.sub("/s/[token]", text))


class JobFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job = _current_job.get()
        message = record.getMessage()
        if LINK_PATH.search(message) or SECRETS.search(message):
            record.msg, record.args = redact(message), None
        if record.name == "django.request" and getattr(record, "status_code", 500) < 500:
            record.exc_info = record.exc_text = None
        return True
