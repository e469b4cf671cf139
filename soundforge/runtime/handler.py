"""Django's ASGI handler, overridden: each request's middleware and view in one hop to a long-lived thread,
and sync streaming responses read a piece at a time. Fenced: see PATCHES.md beside this file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve


class _Threads:
    """A few long-lived single-thread executors; a request takes the least busy."""

    def __init__(self, name: str, count: int) -> None:
        self.executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-{i}") for i in range(count)]
        self.busy = [0] * count

    @contextlib.asynccontextmanager
    async def one(self) -> AsyncIterator[None]:
        i = self.busy.index(min(self.busy))
        self.busy[i] += 1
        try:
            # Every thread-sensitive call of the request (signals, middleware, view, closing) runs there.
            async with ThreadSensitiveContext(executor=self.executors[i]):
                yield
        finally:
            self.busy[i] -= 1


class SyncViewsASGIHandler(ASGIHandler):
    """Django's ASGI handler, running each request's middleware and view in one hop to a long-lived thread.

    Every view here is sync, and so are the database and the templates. Django's own handler runs each
    middleware's hooks in async mode, each a hop between the event loop and a sync thread (some thirty a
    request), and gives every request a new thread, so a new database connection too. Here a request goes to
    one of ``SOUNDFORGE_WEB_THREADS`` threads (one by default: pages queue rather than share the GIL, which
    under bench/load.py's fifty people cut the slowest page loads by half), or, for views marked
    ``long_running`` (uploads, files, zips, mixes), one of ``SOUNDFORGE_WEB_LONG_THREADS``, so the pages never
    wait behind them. The threads keep their database connections. Django keeps this class out of its public
    API (get_asgi_application): tests/test_asgi.py pins what we rely on.

    A streaming response from a sync view (a file, a range of one, a zip, a mix) is read a piece at a time in
    the request's thread as it is sent: Django's own handler reads such a response whole into memory before
    sending its first byte. With soundforge.runtime.web's daphne, the next piece is read only once the client has
    taken the last."""

    def __init__(self) -> None:
        super().__init__()
        self.threads = {False: _Threads("django", settings.WEB_THREADS),
                        True: _Threads("django-long", settings.WEB_LONG_THREADS)}
        # The URL configuration, and every view with it, imported now rather than by the first request's
        # long_running() on the event loop: ~150 ms of imports during which no socket of the process heard a
        # thing (bench/load.py's slowest events, in runs where a process's first request came in its burst).
        with contextlib.suppress(Resolver404):
            resolve("/")

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.threads[self.long_running(scope)].one():
            await self.handle(scope, receive, send)

    @staticmethod
    def long_running(scope: dict) -> bool:
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        try:
            return getattr(resolve(path).func, "long_running", False)
        except Resolver404:
            return False

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        if response.streaming and not response.is_async:
            response.streaming_content = _pieces(response.streaming_content)
        return response


STREAM_PIECE = 256 * 1024


async def _pieces(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A sync iterator's bytes, STREAM_PIECE or so at a time, each read in the request's thread."""
    take = sync_to_async(_take, thread_sensitive=True)
    while piece := await take(chunks):
        yield piece


def _take(chunks: Iterator[bytes]) -> bytes:
    piece: list[bytes] = []
    size = 0
    for chunk in chunks:
        piece.append(chunk)
        size += len(chunk)
        if size >= STREAM_PIECE:
            break
    return b"".join(piece)
