"""Pages through soundforge.asgi's handler (what daphne runs): Django's middleware and views in one hop to
one of a few long-lived threads, long requests (uploads, files) to threads of their own."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_started
from django.db import connection
from django.db.backends.signals import connection_created
from django.http import HttpRequest, StreamingHttpResponse
from django.test import Client
from django.urls import path

from soundforge.asgi import application, django_asgi_app
from soundforge.runtime.handler import STREAM_PIECE
from tests import audio
from tracks.models import Track

pytestmark = pytest.mark.django_db(transaction=True)


def scope(path: str, client: Client | None = None, headers: tuple[tuple[bytes, bytes], ...] = ()) -> dict:
    cookie = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())] if client else []
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"localhost"), *cookie, *headers], "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80)}


async def get(path: str, client: Client | None = None, *headers: tuple[bytes, bytes]) -> tuple[int, dict, bytes]:
    app = ApplicationCommunicator(application, scope(path, client, headers))
    await app.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await app.receive_output(30)
    body = b""
    while True:
        message = await app.receive_output(30)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def threads_seen():
    """The names of the threads that started each request, and the database connections opened."""
    seen: dict[str, list] = {"requests": [], "connections": []}

    def started(**_: object) -> None:
        seen["requests"].append(threading.current_thread().name)

    def opened(**_: object) -> None:
        seen["connections"].append(threading.current_thread().name)

    request_started.connect(started)
    connection_created.connect(opened)
    yield seen
    request_started.disconnect(started)
    connection_created.disconnect(opened)


def test_pages_go_through_the_middleware_and_stream_files(alice_client: Client, tmp_path) -> None:
    wav = audio.write_wav(tmp_path / "song.wav", audio.song(seconds=2.0))
    response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("song.wav", wav.read_bytes())},
                                 HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 201
    track = Track.objects.get()

    async def pages() -> None:
        status, headers, body = await get("/", alice_client)
        assert status == 200 and f'id="track-{track.uuid}"' in body.decode()
        assert "script-src" in headers["content-security-policy"]  # django-csp's middleware ran
        assert headers["x-frame-options"] == "DENY"
        status, headers, _ = await get("/")  # nobody logged in: LoginRequiredMiddleware
        assert status == 302 and headers["location"].startswith(settings.LOGIN_URL)
        status, _, _ = await get("/tracks/00000000-0000-0000-0000-000000000000/", alice_client)
        assert status == 404
        status, headers, body = await get(f"/tracks/{track.uuid}/audio/", alice_client, (b"range", b"bytes=100-199"))
        assert status == 206 and headers["content-range"].startswith("bytes 100-199/")
        assert body == wav.read_bytes()[100:200]
        status, headers, body = await get(f"/tracks/{track.uuid}/audio/", alice_client)  # whole, in pieces
        assert status == 200 and body == wav.read_bytes() and headers["accept-ranges"] == "bytes"

    asyncio.run(pages())


def test_requests_reuse_a_few_threads_and_their_connections(alice_client: Client, threads_seen) -> None:
    async def pages() -> None:
        for _ in range(3 * settings.WEB_THREADS):
            assert (await get("/", alice_client))[0] == 200

    asyncio.run(pages())
    names = set(threads_seen["requests"])
    assert len(threads_seen["requests"]) == 3 * settings.WEB_THREADS
    assert names <= {f"django-{i}_0" for i in range(settings.WEB_THREADS)}, names  # pages' threads only
    if connection.vendor == "sqlite":  # kept open (PostgreSQL's come from its pool)
        assert len(threads_seen["connections"]) <= len(names)


def test_pages_do_not_wait_behind_a_long_request(alice_client: Client, threads_seen) -> None:
    """An upload (a long_running view) still arriving holds one of the long requests' threads; pages go on
    being served by theirs meanwhile."""
    long_threads = django_asgi_app.threads[True]

    async def pages() -> None:
        token = "c" * 32
        upload = ApplicationCommunicator(application, {
            **scope("/tracks/upload/", None, (
                (b"cookie", f"sessionid={alice_client.cookies['sessionid'].value}; csrftoken={token}".encode()),
                (b"x-csrftoken", token.encode()), (b"x-requested-with", b"XMLHttpRequest"),
                (b"content-type", b"multipart/form-data; boundary=XX"))),
            "method": "POST"})
        await upload.send_input({"type": "http.request", "body": b"--XX\r\n", "more_body": True})
        await asyncio.sleep(0.2)
        assert sum(long_threads.busy) == 1  # the upload holds a long request's turn
        assert (await get("/", alice_client))[0] == 200  # served meanwhile, by a page thread
        await upload.send_input({"type": "http.request", "body": b"--XX--\r\n", "more_body": False})
        assert (await upload.receive_output(30))["status"] == 400  # it did finish (with no file in it)
        await upload.wait(5)
        assert sum(long_threads.busy) == 0

    asyncio.run(pages())
    assert threads_seen["requests"][0].startswith("django-0_")  # the page, first: the upload was still arriving
    assert threads_seen["requests"][1].startswith("django-long-")


released = threading.Event()


def _held_back() -> Iterator[bytes]:
    yield b"a" * STREAM_PIECE
    if not released.wait(10):
        raise AssertionError("the rest was read before the first piece went out")
    yield b"b" * 10


@login_not_required
def held_back(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_held_back())


urlpatterns = [path("held-back/", held_back)]


@pytest.mark.urls("tests.test_asgi")
def test_a_streaming_response_goes_out_as_it_is_read(recwarn: pytest.WarningsRecorder) -> None:
    """Django's own handler reads a sync iterator whole (into a list) before sending a byte: a 40 MB stem
    sat in the web process per request. Here the first piece is out while the rest is not yet read."""
    released.clear()

    async def fetch() -> bytes:
        app = ApplicationCommunicator(application, scope("/held-back/"))
        await app.send_input({"type": "http.request", "body": b"", "more_body": False})
        assert (await app.receive_output(5))["status"] == 200
        body = b""
        while len(body) < STREAM_PIECE:
            body += (await app.receive_output(5))["body"]
        released.set()
        while (message := await app.receive_output(5)).get("more_body"):
            body += message["body"]
        return body + message.get("body", b"")

    assert asyncio.run(fetch()) == b"a" * STREAM_PIECE + b"b" * 10
    assert not [w for w in recwarn if "synchronous iterators" in str(w.message)]


@pytest.mark.slow
def test_a_web_process_imports_the_views_as_it_starts() -> None:
    """Not on the first request's way through the event loop, where every socket of the process waited."""
    code = ("import sys, soundforge.asgi; "
            "print('tracks.views.files' in sys.modules, 'tracks.views.sharing' in sys.modules, "
            "'tracks.files.downloads' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split()
    assert out == ["True", "True", "True"]
