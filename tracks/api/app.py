"""``/api/v1/``: the routers of each area under one NinjaAPI, its ways in (auth.py), and every refusal as
problem JSON. The schema is served at ``/api/v1/openapi.json``, interactive docs at ``/api/v1/docs``
(django-ninja's Swagger UI files, served from this site: the CSP holds)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from ..views.common import Refused
from . import crates, hooks, jobs, library, notes, sharing, stems, uploads
from .auth import AUTH
from .problems import Problem, problem
from .schemas import url

api = NinjaAPI(
    title="SoundForge API", version="1", urls_namespace="api", auth=AUTH,
    description="Upload songs, read their analysis, separate them into stems and download what is made of them, "
                "with the rules of the pages. Authenticate with `Authorization: Bearer <token>` (a personal "
                "access token from your account page), or with `X-Share-Link: <token>` as a link's holder. "
                "Errors are RFC 9457 problem JSON.")
for area in (library, jobs, stems, notes, sharing, crates, uploads, hooks):
    api.add_router("", area.router)


@api.exception_handler(Problem)
def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem(exc.status, exc.detail, exc.headers, **exc.extra)


@api.exception_handler(Refused)
def _refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """What the pages refuse (an upload, a job), in their words; a file the caller has already names its track."""
    named = {} if exc.track is None else {"track": url(request, "track", exc.track.uuid),
                                          "existing": str(exc.track.uuid)}
    return problem(exc.status, str(exc), **named)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, str(exc) or "Not found")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "You may not do that.")


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, "Authenticate with a token (Authorization: Bearer sf_…), the session, or a share link.",
                   {"WWW-Authenticate": "Bearer"})


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    said = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                     for e in exc.errors)
    return problem(422, said, errors=exc.errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(exc.status_code, str(exc))


def head_as_get(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """HEAD answered wherever GET is (uptime checkers, download managers): a path with no HEAD operation of its
    own runs its GET; the server sends the head alone."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if request.method == "HEAD" and response.status_code == 405 and "GET" in response.get("Allow", ""):
            request.method = "GET"
            try:
                response = view(request, *args, **kwargs)
            finally:
                request.method = "HEAD"  # what the server (and Django's test client) sends the head alone for
        return response

    return wrapper


def urls() -> tuple[list[Any], str, str]:
    """The API's URL patterns, each open past the site's log-in requirement (the API's own ways in decide),
    each answering HEAD where it answers GET."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = login_not_required(head_as_get(pattern.callback))
    return patterns, app_name, namespace
