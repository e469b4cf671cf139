"""Every refusal as RFC 9457 problem JSON (``application/problem+json``) with the words the pages use: 404 for
what the caller may not know exists, 403 for what it may see but not do, 401 for no or a dead token, 400 or
422 for input, 413 for size and quota, 429 with ``Retry-After``."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """Raised anywhere in the API: answered as problem JSON with this status and detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra


def problem(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> HttpResponse:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE, headers=headers)


def as_problem(response: HttpResponse) -> HttpResponse:
    """A page view's answer for the API: its refusals (plain words, 4xx) as problem JSON; anything else as
    it is (a file, a stream, a redirect)."""
    if 400 <= response.status_code < 500 and response.get("Content-Type", "").startswith(("text/plain", "text/html")):
        text = b"" if response.streaming else response.content
        return problem(response.status_code, text.decode(errors="replace").strip()
                       or HTTPStatus(response.status_code).phrase)
    return response
