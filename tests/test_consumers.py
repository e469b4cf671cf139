"""Websockets with Channels' WebsocketCommunicator against the real ASGI app, session auth and Redis layer."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from soundforge.asgi import application
from tests.conftest import worker_env
from tests.helpers import track_row
from tracks.jobs import running
from tracks.live import events, panels
from tracks.models import Job, Track

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def headers(client: Client | None) -> list[tuple[bytes, bytes]]:
    h = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if client is not None:
        h.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return h


async def connect(path: str, client: Client | None) -> tuple[WebsocketCommunicator, bool, int | None]:
    ws = WebsocketCommunicator(application, path, headers=headers(client))
    connected, code = await ws.connect()
    return ws, connected, code


@sync_to_async
def make_track(client: Client, path: Path) -> Track:
    response = client.post("/tracks/upload/", {"file": SimpleUploadedFile(path.name, path.read_bytes())},
                           HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 201
    return Track.objects.select_related("owner").latest("created")


async def receive_until(ws: WebsocketCommunicator, predicate: Callable[[str], bool], timeout: float = 60) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            html = await ws.receive_from(timeout=timeout)
            seen.append(html)
            if predicate(html):
                return seen


async def open_track_page(track: Track, client: Client) -> WebsocketCommunicator:
    """A track page's socket, past the current state and the presence push its own arrival causes."""
    ws, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", client)
    assert connected
    assert f'id="job-panel-{track.uuid}"' in await ws.receive_from()
    await receive_until(ws, lambda html: f'id="presence-{track.uuid}"' in html, timeout=5)
    return ws


@pytest.mark.slow
async def test_it_rejects_anonymous_sockets() -> None:
    for path in ("/ws/library/", "/ws/tracks/00000000-0000-0000-0000-000000000000/"):
        ws, connected, _ = await connect(path, None)
        assert not connected
        await ws.disconnect(timeout=5)


@pytest.mark.parametrize(("origin", "host", "trusted", "opens"), [
    ("http://localhost", "localhost", "", True),
    ("http://localhost:8000", "localhost:8000", "", True),
    ("http://localhost:8081", "localhost:8000", "", False),  # another program on the same host
    ("https://localhost:8000", "localhost:8000", "", False),  # another scheme
    ("http://evil.example", "localhost", "", False),
    ("http://localhost", "evil.example", "", False),  # a host Django would not serve
    ("https://soundforge.example", "127.0.0.1:8000", "https://soundforge.example", True),  # behind a front server
    ("", "localhost", "", False),
])
async def test_it_opens_sockets_only_from_the_sites_own_origin(alice_client: Client, settings, origin: str,
                                                                host: str, trusted: str, opens: bool) -> None:
    settings.CSRF_TRUSTED_ORIGINS = [trusted] if trusted else []
    cookie = f"sessionid={alice_client.cookies['sessionid'].value}".encode()
    sent = [(b"host", host.encode()), (b"cookie", cookie)] + ([(b"origin", origin.encode())] if origin else [])
    ws = WebsocketCommunicator(application, "/ws/library/", headers=sent)
    connected, _ = await ws.connect()
    assert connected is opens
    # A refused socket's application has already returned: nothing lingers on the channel layer.
    assert ws.future.done() is not opens
    await ws.disconnect(timeout=5)


async def test_it_checks_ownership(alice_client: Client, charlie_client: Client, c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    ws, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", charlie_client)
    assert not connected
    await ws.disconnect(timeout=5)


async def test_it_sends_the_current_state_on_connect(alice_client: Client, c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    ws, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", alice_client)
    assert connected
    first = await ws.receive_from()
    assert f'id="job-panel-{track.uuid}"' in first
    assert f'id="analysis-panel-{track.uuid}"' in first
    assert "Queued" in first
    library, connected, _ = await connect("/ws/library/", alice_client)
    assert connected
    assert f'id="track-{track.uuid}"' in await library.receive_from()
    await ws.disconnect(timeout=5)
    await library.disconnect()


async def test_pushes_reach_the_owner_and_never_a_stranger(alice_client: Client, charlie_client: Client,
                                                            c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    alice_library, _, _ = await connect("/ws/library/", alice_client)
    charlie_library, _, _ = await connect("/ws/library/", charlie_client)
    await alice_library.receive_from()
    await charlie_library.receive_from()
    await sync_to_async(Job.objects.filter(track=track).update)(status="running", progress=0.42, stage="key")
    await sync_to_async(events.changed)(track, panels.JOB)
    pushed = await alice_library.receive_from()
    assert f'id="track-{track.uuid}"' in pushed and "42%" in pushed
    assert await charlie_library.receive_nothing(timeout=0.5)
    await alice_library.disconnect()
    await charlie_library.disconnect()


@pytest.mark.slow
async def test_the_sockets_of_a_page_share_one_subscription_per_process(alice_client: Client,
                                                                       c_major_wav: Path) -> None:
    """Every socket gets every push, in order; Redis holds one member for the group whatever the number of
    sockets (soundforge/runtime/hub.py); the last socket to go takes it away, and the next one subscribes again."""
    track = await make_track(alice_client, c_major_wav)
    group = events.track_group(track.uuid)
    layer = get_channel_layer()

    async def members() -> int:
        return await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))

    pages = [await open_track_page(track, alice_client) for _ in range(3)]
    assert await members() == 1
    await asyncio.sleep(0.3)  # every blocking read the sockets would make has begun
    clients = await layer.connection(layer.consistent_hash(group)).info("clients")
    assert clients["blocked_clients"] == 1  # the hub's read of its channel: no socket has a channel of its own
    for n in range(3):
        await sync_to_async(events._send)(group, f"<p>push {n}</p>")
    for page in pages:
        got = await receive_until(page, lambda html: "push 2" in html, timeout=5)
        assert [h for h in got if "<p>push" in h] == ["<p>push 0</p>", "<p>push 1</p>", "<p>push 2</p>"]
    for page in pages[:2]:
        await page.disconnect(timeout=5)
    await sync_to_async(events._send)(group, "<p>push 3</p>")
    assert "push 3" in (await receive_until(pages[2], lambda html: "push 3" in html, timeout=5))[-1]
    await pages[2].disconnect(timeout=5)
    await asyncio.sleep(0.2)  # the hub's task leaves the group as it ends
    assert await members() == 0
    again = await open_track_page(track, alice_client)
    assert await members() == 1
    await sync_to_async(events._send)(group, "<p>push 4</p>")
    assert "push 4" in (await receive_until(again, lambda html: "push 4" in html, timeout=5))[-1]
    await again.disconnect(timeout=5)


async def test_a_closed_socket_ends_its_application_at_once_refused_or_open(alice, alice_client: Client) -> None:
    """Nothing outlives a socket: neither a refused one (an anonymous visitor) nor one that was open."""
    track = await sync_to_async(track_row)(alice)
    refused, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", None)
    opened, accepted, _ = await connect(f"/ws/tracks/{track.uuid}/", alice_client)
    assert (connected, accepted) == (False, True)
    for ws in (refused, opened):
        await ws.send_input({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(asyncio.shield(ws.future), 1)  # the channel layer's blocking read lasts 5 s


@pytest.mark.slow
async def test_an_idle_socket_stays_open_and_still_receives(alice_client: Client, c_major_wav: Path) -> None:
    """Longer than the channel layer's 5 s blocking read: the consumer must not die of a Redis read timeout."""
    track = await make_track(alice_client, c_major_wav)
    ws = await open_track_page(track, alice_client)
    assert await ws.receive_nothing(timeout=11, interval=0.5)
    await sync_to_async(events.changed)(track, panels.JOB)
    assert f'id="job-panel-{track.uuid}"' in await ws.receive_from(timeout=5)
    await ws.disconnect(timeout=5)


@pytest.mark.slow
async def test_a_job_streams_progress_and_results_to_the_page(alice_client: Client, c_major_wav: Path) -> None:
    """Upload, then a real `manage.py rqworker --burst` process runs the port while the page's socket listens."""
    track = await make_track(alice_client, c_major_wav)
    ws = await open_track_page(track, alice_client)
    env = await sync_to_async(worker_env)()
    worker = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "manage.py"), "rqworker", "analysis", "--burst", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        seen = await receive_until(ws, lambda html: "C major" in html, timeout=120)
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    job = await sync_to_async(Job.objects.get)(track=track)
    assert job.status == "succeeded"
    assert any("Running" in html for html in seen)
    bars = [re.search(r'role="progressbar" aria-label="([^"]+)"[^>]*aria-valuenow="(\d+)"', html) for html in seen]
    percents = [int(bar.group(2)) for bar in bars if bar]
    assert percents == sorted(percents) and len(percents) >= 2
    assert {bar.group(1) for bar in bars if bar} == {"Analysis progress"}
    assert 'id="timeline-data"' in seen[-1] and "BPM" in seen[-1]
    await ws.disconnect(timeout=5)


async def test_a_jobs_end_pushes_what_it_changed(alice_client: Client, c_major_wav: Path) -> None:
    """A separation's end pushes the stems, not the analysis panel (the page's largest, which it cannot have
    changed); an analysis's, its panel; a failure, only the job panels. Each is to everyone on the page."""
    track = await make_track(alice_client, c_major_wav)
    page = await open_track_page(track, alice_client)
    analysis = await sync_to_async(Job.objects.get)(track=track)
    separation = await sync_to_async(Job.objects.create)(track=track, kind=Job.Kind.SEPARATION,
                                                         status=Job.Status.SUCCEEDED)

    async def pushed_at_end(job: Job) -> set[str]:
        await sync_to_async(running.ended)(job)
        html = (await receive_until(page, lambda h: f'id="job-panel-{track.uuid}"' in h, timeout=5))[-1]
        return {panel for panel in ("job-panel", "separation-job-panel", "analysis-panel", "stems-panel",
                                    "activity-panel", "comments-panel") if f'id="{panel}-{track.uuid}"' in html}

    assert await pushed_at_end(separation) == {"job-panel", "separation-job-panel", "stems-panel", "activity-panel"}
    analysis.status = Job.Status.SUCCEEDED
    assert await pushed_at_end(analysis) == {"job-panel", "separation-job-panel", "analysis-panel", "stems-panel",
                                             "activity-panel"}
    analysis.status = Job.Status.FAILED
    assert await pushed_at_end(analysis) == {"job-panel", "separation-job-panel"}
    await page.disconnect(timeout=5)
