"""Sharing, live: shares appear in and vanish from the recipient's library, revoking closes the sockets that
lost access, and a track's pushes reach its viewers and link holders but never a stranger."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.helpers import track_row
from tests.test_consumers import connect, make_track, open_track_page, receive_until
from tests.test_sharing import ACTORS, client_for
from tracks.live import events, panels
from tracks.live.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from tracks.models import Job, Share, ShareLink

pytestmark = pytest.mark.django_db(transaction=True)


def version(html: str) -> str:
    found = re.search(r'id="library-changed"[^>]*data-version="([^"]+)"', html)
    assert found, html
    return found.group(1)


@pytest.mark.slow
async def test_a_share_appears_and_disappears_in_the_recipients_library(
    alice_client: Client, bob_client: Client, bob, c_major_wav: Path
) -> None:
    track = await make_track(alice_client, c_major_wav)
    library, connected, _ = await connect("/ws/library/", bob_client)
    assert connected
    opened = await library.receive_from()
    assert f"track-{track.uuid}" not in opened
    versions = [version(opened)]

    async def listed() -> str:
        """The list the page fetches when the version changes (static/js/library.js)."""
        return (await sync_to_async(bob_client.get)("/", HTTP_HX_REQUEST="true")).content.decode()

    share = sync_to_async(alice_client.post)
    response = await share(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    pushed = await receive_until(library, lambda html: 'id="library-changed"' in html, timeout=5)
    versions.append(version(pushed[-1]))
    assert "Shared with me" in await listed() and f'id="track-{track.uuid}"' in await listed()

    page = await open_track_page(track, bob_client)
    share_id = await sync_to_async(lambda: track.shares.get().pk)()
    await share(f"/tracks/{track.uuid}/shares/{share_id}/revoke/", HTTP_HX_REQUEST="true")
    dropped = await receive_until(library, lambda html: 'id="library-changed"' in html, timeout=5)
    versions.append(version(dropped[-1]))
    assert versions[0] != versions[1] != versions[2]  # each change a new version: the page fetches its list
    assert f"track-{track.uuid}" not in await listed()
    assert (await page.receive_output(timeout=5)) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    await page.disconnect(timeout=5)
    await library.disconnect(timeout=5)


@pytest.mark.slow
async def test_pushes_reach_viewers_and_link_holders_never_strangers(
    alice_client: Client, bob_client: Client, charlie_client: Client, bob, c_major_wav: Path
) -> None:
    track = await make_track(alice_client, c_major_wav)
    await sync_to_async(alice_client.post)(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    link = await sync_to_async(ShareLink.objects.create)(track=track)
    guest = Client()
    assert (await sync_to_async(guest.get)(f"/s/{link.token}/")).status_code == 302

    sockets = {name: await open_track_page(track, client) for name, client in (("bob", bob_client), ("guest", guest))}
    for client in (charlie_client, None):
        refused, connected, _ = await connect(f"/ws/tracks/{track.uuid}/", client)
        assert not connected
        await refused.disconnect(timeout=5)

    await sync_to_async(Job.objects.filter(track=track).update)(status="running", progress=0.37, stage="key")
    await sync_to_async(events.changed)(track, panels.JOB)
    for ws in sockets.values():
        await receive_until(ws, lambda html: "37%" in html, timeout=5)

    await sync_to_async(link.revoke)()
    await sync_to_async(events.access_changed)(track)
    assert (await sockets["guest"].receive_output(timeout=5))["type"] == "websocket.close"
    # Bob stays, and sees the guest go.
    await receive_until(sockets["bob"], lambda html: "presence" in html and 'title="a guest' not in html, timeout=5)
    for ws in sockets.values():
        await ws.disconnect(timeout=5)


@pytest.mark.slow
async def test_a_comment_reaches_everyone_on_the_page(alice_client: Client, bob_client: Client, bob,
                                                      c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    await sync_to_async(alice_client.post)(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    owner_page = await open_track_page(track, alice_client)
    await sync_to_async(bob_client.post)(f"/tracks/{track.uuid}/comments/", {"at": "3", "text": "louder here"})
    pushed = await receive_until(owner_page, lambda html: "louder here" in html, timeout=5)
    assert f'id="comments-panel-{track.uuid}"' in pushed[-1] and "0:03" in pushed[-1]
    assert "bob</b> commented" in pushed[-1]  # the activity list came with it
    await owner_page.disconnect(timeout=5)


@pytest.mark.slow
async def test_everyone_on_the_page_sees_who_else_is_there(alice_client: Client, bob_client: Client, bob,
                                                           c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    await sync_to_async(alice_client.post)(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    alice, _, _ = await connect(f"/ws/tracks/{track.uuid}/", alice_client)
    presence_id = f'id="presence-{track.uuid}"'
    alone = await receive_until(alice, lambda html: presence_id in html, timeout=5)
    assert 'title="alice">AL<' in alone[-1] and "BO" not in alone[-1]
    bob_page, _, _ = await connect(f"/ws/tracks/{track.uuid}/", bob_client)
    both = await receive_until(alice, lambda html: presence_id in html, timeout=5)
    assert 'title="alice">AL<' in both[-1] and 'title="bob">BO<' in both[-1]
    second_tab, _, _ = await connect(f"/ws/tracks/{track.uuid}/", bob_client)
    still_two = await receive_until(alice, lambda html: presence_id in html, timeout=5)
    assert still_two[-1].count('class="avatar"') == 2  # a person once, however many tabs
    await bob_page.disconnect(timeout=5)
    await second_tab.disconnect(timeout=5)
    after = await receive_until(alice, lambda html: presence_id in html and "BO" not in html, timeout=5)
    assert 'title="alice">AL<' in after[-1]
    await alice.disconnect(timeout=5)


@pytest.mark.slow
async def test_a_role_change_reaches_the_persons_open_page(alice_client: Client, bob_client: Client, bob,
                                                          c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    post = sync_to_async(alice_client.post)
    await post(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    share_id = await sync_to_async(lambda: track.shares.get().pk)()
    page = await open_track_page(track, bob_client)
    controls = sync_to_async(lambda: bob_client.get(f"/tracks/{track.uuid}/controls/").content.decode())
    assert "Re-run analysis" not in await controls()

    notice = f'id="access-{track.uuid}"'
    await post(f"/tracks/{track.uuid}/shares/{share_id}/", {"role": "editor"}, HTTP_HX_REQUEST="true")
    await receive_until(page, lambda html: notice in html, timeout=5)
    # What the page then fetches: the editor's buttons, the separation form, the comment box, by id.
    upgraded = await controls()
    assert "Re-run analysis" in upgraded and 'data-can-edit="1"' in upgraded
    for part in ("controls", "separate-panel", "comment-box"):
        assert f'id="{part}-{track.uuid}"' in upgraded
    assert "Separate into stems" in upgraded

    await post(f"/tracks/{track.uuid}/shares/{share_id}/", {"role": "viewer"}, HTTP_HX_REQUEST="true")
    await receive_until(page, lambda html: notice in html, timeout=5)
    downgraded = await controls()
    assert "Re-run analysis" not in downgraded and "Separate into stems" not in downgraded
    assert 'data-can-edit="0"' in downgraded and 'class="comment-form"' in downgraded
    await page.disconnect(timeout=5)


@pytest.mark.slow
async def test_a_link_closes_its_pages_when_it_expires(alice_client: Client, c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    expires = timezone.now() + timedelta(seconds=2)
    link = await sync_to_async(ShareLink.objects.create)(track=track, expires=expires)
    guest = Client()
    assert (await sync_to_async(guest.get)(f"/s/{link.token}/")).status_code == 302
    page = await open_track_page(track, guest)
    closed = await receive_until_closed(page, timeout=10)
    assert closed == CLOSE_NOT_FOUND and timezone.now() >= expires
    await page.disconnect(timeout=5)


@pytest.mark.slow
async def test_a_shared_crate_opens_and_closes_its_songs_live(alice, alice_client: Client, bob_client: Client,
                                                               c_major_wav: Path) -> None:
    """Sharing a setlist tells the recipient's library; taking the owner's song out of it closes their open
    page on that song and tells their library again. A page opened through the setlist's link closes when the
    link is revoked."""
    from tracks import crates
    from tracks.models import Crate

    track = await make_track(alice_client, c_major_wav)
    crate = await sync_to_async(Crate.objects.create)(owner=alice, name="Gig", kind="setlist")
    await sync_to_async(crates.add)(crate, [track])
    library, connected, _ = await connect("/ws/library/", bob_client)
    assert connected
    versions = [version(await library.receive_from())]
    post = sync_to_async(alice_client.post)
    assert (await post(f"/crates/{crate.uuid}/shares/", {"who": "bob", "role": "viewer"})).status_code == 302
    pushed = await receive_until(library, lambda html: 'id="library-changed"' in html, timeout=5)
    versions.append(version(pushed[-1]))
    link = await sync_to_async(crates.add_link)(crate)
    guest = Client()
    assert (await sync_to_async(guest.get)(f"/c/{link.token}/")).status_code == 302
    held = await open_track_page(track, guest)
    assert (await post(f"/crates/{crate.uuid}/links/{link.pk}/revoke/")).status_code == 302
    assert await receive_until_closed(held, timeout=5) == CLOSE_NOT_FOUND
    page = await open_track_page(track, bob_client)
    entry = await sync_to_async(lambda: crate.entries.get().pk)()
    assert (await post(f"/crates/{crate.uuid}/entries/{entry}/remove/")).status_code == 302
    assert await receive_until_closed(page, timeout=5) == CLOSE_NOT_FOUND
    dropped = await receive_until(library, lambda html: 'id="library-changed"' in html, timeout=5)
    versions.append(version(dropped[-1]))
    assert versions[0] != versions[1] != versions[2]
    await library.disconnect(timeout=5)


async def receive_until_closed(ws: object, timeout: float) -> int:
    """The close code the socket ends with, after whatever fragments come first."""
    while True:
        output = await ws.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.mark.slow
async def test_logging_out_closes_that_sessions_pages_only(alice_client: Client, bob_client: Client, bob,
                                                           c_major_wav: Path) -> None:
    track = await make_track(alice_client, c_major_wav)
    await sync_to_async(alice_client.post)(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    other_session = Client()
    await sync_to_async(other_session.force_login)(bob)
    page = await open_track_page(track, bob_client)
    library, _, _ = await connect("/ws/library/", bob_client)
    elsewhere = await open_track_page(track, other_session)
    await sync_to_async(bob_client.post)("/logout/")
    assert await receive_until_closed(page, timeout=5) == CLOSE_UNAUTHENTICATED
    assert await receive_until_closed(library, timeout=5) == CLOSE_UNAUTHENTICATED
    # Bob's other browser stays logged in, and its page stays open.
    await sync_to_async(events.changed)(track, panels.JOB)
    await receive_until(elsewhere, lambda html: f'id="job-panel-{track.uuid}"' in html, timeout=5)
    for ws in (page, library, elsewhere):
        await ws.disconnect(timeout=5)


WS_TABLE = {
    "ws/library/": {"owner", "editor", "viewer", "stranger"},
    # The API's event stream: any account's own jobs (a link gives no account); a token is tested in
    # tests/test_api_live.py.
    "ws/api/": {"owner", "editor", "viewer", "stranger"},
    "ws/tracks/<uuid:track_uuid>/": {"owner", "editor", "viewer", "link", "link_downloads"},
}


def test_every_websocket_route_has_a_rule() -> None:
    from tracks.live.routing import websocket_urlpatterns

    assert {str(p.pattern) for p in websocket_urlpatterns} == set(WS_TABLE)


@pytest.mark.slow
@pytest.mark.parametrize("actor", ACTORS)
async def test_the_websocket_access_table(actor: str, alice, charlie) -> None:
    @sync_to_async
    def setup() -> tuple[object, Client | None]:
        make = get_user_model().objects.create_user
        users = {"owner": alice, "editor": make("erin", "erin@example.com", PASSWORD),
                 "viewer": make("vic", "vic@example.com", PASSWORD), "stranger": charlie}
        track = track_row(alice)
        Share.objects.create(track=track, user=users["editor"], role="editor")
        Share.objects.create(track=track, user=users["viewer"], role="viewer")
        client = client_for(actor, track, users)
        return track, client if client.cookies.get("sessionid") else None

    track, client = await setup()
    for route, allowed in WS_TABLE.items():
        path = "/" + route.replace("<uuid:track_uuid>", str(track.uuid))
        ws, connected, _ = await connect(path, client)
        assert connected == (actor in allowed), (route, actor)
        await ws.disconnect(timeout=5)
