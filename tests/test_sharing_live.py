"""Sharing, live: shares appear in and vanish from the recipient's library, revoking closes the sockets that
lost access, and a track's pushes reach its viewers and link holders but never a stranger."""

from __future__ import annotations

from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from tests.test_consumers import connect, make_track, receive_until
from tracks import events
from tracks.consumers import CLOSE_NOT_FOUND
from tracks.models import Job, ShareLink

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_share_appears_and_disappears_in_the_recipients_library(
    alice_client: Client, bob_client: Client, bob, c_major_wav: Path
) -> None:
    track = await make_track(alice_client, c_major_wav)
    library, connected, _ = await connect("/ws/library/", bob_client)
    assert connected
    assert f"track-{track.uuid}" not in await library.receive_from()
    share = sync_to_async(alice_client.post)
    response = await share(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    pushed = await receive_until(library, lambda html: f'id="track-{track.uuid}"' in html, timeout=5)
    assert "Shared with me" in pushed[-1]

    page, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", bob_client)
    assert connected
    await page.receive_from()
    share_id = await sync_to_async(lambda: track.shares.get().pk)()
    await share(f"/tracks/{track.uuid}/shares/{share_id}/revoke/", HTTP_HX_REQUEST="true")
    dropped = await receive_until(library, lambda html: 'id="track-list"' in html, timeout=5)
    assert f"track-{track.uuid}" not in dropped[-1]
    assert (await page.receive_output(timeout=5)) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    await library.disconnect()


async def test_pushes_reach_viewers_and_link_holders_never_strangers(
    alice_client: Client, bob_client: Client, charlie_client: Client, bob, c_major_wav: Path
) -> None:
    track = await make_track(alice_client, c_major_wav)
    await sync_to_async(alice_client.post)(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    link = await sync_to_async(ShareLink.objects.create)(track=track)
    guest = Client()
    assert (await sync_to_async(guest.get)(f"/s/{link.token}/")).status_code == 302

    sockets = {}
    for name, client in (("bob", bob_client), ("guest", guest)):
        ws, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", client)
        assert connected, name
        await ws.receive_from()
        sockets[name] = ws
    for client in (charlie_client, None):
        _, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", client)
        assert not connected

    await sync_to_async(Job.objects.filter(track=track).update)(status="running", progress=0.37, stage="key")
    await sync_to_async(events.jobs_changed)(track)
    for name, ws in sockets.items():
        assert "37%" in await ws.receive_from(timeout=5), name

    await sync_to_async(link.revoke)()
    await sync_to_async(events.access_changed)(track)
    assert (await sockets["guest"].receive_output(timeout=5))["type"] == "websocket.close"
    assert await sockets["bob"].receive_nothing(timeout=0.5)
    await sockets["bob"].disconnect()
