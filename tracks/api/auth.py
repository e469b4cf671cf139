"""Who an API request is: a personal access token (``Authorization: Bearer sf_…``, its owner with its scope),
the page's own session (CSRF checked on changes, as a form is), or a share link (``X-Share-Link: <token>``,
a link holder with no account). Each sets ``request.api_actor``, which ``access.actor`` answers with, so
every rule below the API is the pages' own. Tokens are looked up by their SHA-256 and never logged; each
token (or person, for the session) has its own request rate (SOUNDFORGE_API_RATE)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from ninja.security import APIKeyCookie, APIKeyHeader, HttpBearer

from .. import access
from ..models import ApiToken, ShareLink
from .problems import Problem

LINK_HEADER = "X-Share-Link"


def _rate(request: HttpRequest, key: str) -> None:
    usage = get_usage(request, group="api", key=lambda group, req: key, rate=settings.API_RATE, increment=True)
    if usage and usage["should_limit"]:
        raise Problem(429, f"Too many requests: {settings.API_RATE.replace('/', ' per ')} at most.",
                      headers={"Retry-After": str(max(1, int(usage["time_left"])))})


class TokenAuth(HttpBearer):
    """A personal access token. An unknown or revoked one is a 401 at once (not a try of the next way in)."""

    def authenticate(self, request: HttpRequest, token: str) -> access.Actor:
        found = ApiToken.find(token.strip())
        if found is None:
            raise Problem(401, "This token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
        _rate(request, f"token:{found.pk}")
        found.used()
        request.user, request.api_token = found.user, found
        request.api_actor = access.Actor(user=found.user)
        return request.api_actor


class SessionAuth(APIKeyCookie):
    """The signed-in page's own scripts: the session cookie, with Django's CSRF check on every change."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> access.Actor | None:
        if not request.user.is_authenticated:
            return None
        _rate(request, f"user:{request.user.pk}")
        request.api_actor = access.actor(request)
        return request.api_actor


class LinkAuth(APIKeyHeader):
    """A share link's token: what the link lets its holder see and (if it allows) download."""

    param_name = LINK_HEADER

    def authenticate(self, request: HttpRequest, key: str | None) -> access.Actor | None:
        if not key or not ShareLink.usable().filter(token=key).exists():
            return None
        _rate(request, f"link:{key[:12]}")
        request.user = AnonymousUser()
        request.api_actor = access.Actor(user=request.user, link_tokens=(key,))
        return request.api_actor


AUTH = [TokenAuth(), SessionAuth(), LinkAuth()]


def who(request: HttpRequest) -> access.Actor:
    return request.api_actor


def writer(request: HttpRequest) -> access.Actor:
    """The actor, for an operation that changes something: a read-only token may not (403); a link holder
    has no account to change anything as (403 where it may see the thing, as on the pages)."""
    token: ApiToken | None = getattr(request, "api_token", None)
    if token is not None and not token.may_write:
        raise Problem(403, "This token may only read: make one with the write scope to change things.")
    return request.api_actor


def signed_in(request: HttpRequest) -> Any:
    """The account behind the request, for what only accounts have (a library, uploads, webhooks)."""
    if not request.user.is_authenticated:
        raise Problem(403, "A share link opens its track only: sign in or use a token for this.")
    return request.user
