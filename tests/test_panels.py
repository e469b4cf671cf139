"""What each fact about a track pushes (panels.py, events.changed), heard on the real channel layer, and the
actions that announce them: every change a person makes records its activity and tells open pages."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client

from tests.helpers import track_row
from tracks.live import events, panels
from tracks.models import Activity, Share, ShareLink

# Pushes go out when the transaction commits: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


class Listener:
    """A channel in a track's group and in a person's library group, as an open page's socket is."""

    def __init__(self, *groups: str) -> None:
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        for group in groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def messages(self, wait: float = 0.5) -> list[dict]:
        async def drain() -> list[dict]:
            got = []
            while True:
                try:
                    got.append(await asyncio.wait_for(self.layer.receive(self.channel), wait))
                except TimeoutError:
                    return got

        return async_to_sync(drain)()


def ids(messages: list[dict]) -> list[str]:
    """The stable ids of every element pushed, in order (without the track's uuid)."""
    found = []
    for message in messages:
        if message["type"] == "fragment":
            tops = re.findall(r'^<\w+ id="([^"]+)"', message["html"], re.M)
            found += [re.sub(r"-[0-9a-f-]{36}$", "", i) for i in tops]
    return found


def test_every_panel_has_its_template_and_its_stable_id(alice) -> None:
    track = track_row(alice)
    for name in panels.LIVE:
        html = panels.render(track, [name])
        assert f'id="{name}-{track.uuid}" hx-swap-oob="true"' in html, name
        assert not re.search(r"\{[#%]|[#%]\}", html), name  # a comment or tag left in the page as text


def test_a_panels_answer_swaps_itself_in_by_id_and_the_page_says_nowhere_where(alice, alice_client: Client) -> None:
    """The server decides what swaps: an htmx reply is the panel, its root marked hx-swap-oob as a push's is,
    with HX-Reswap: none for the element that asked; no template names a target."""
    track = track_row(alice)
    response = alice_client.post(f"/tracks/{track.uuid}/cues/", {"at": "1", "name": "Here", "colour": "green"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Reswap"] == "none"
    assert re.match(rf'\s*<section id="cues-panel-{track.uuid}" hx-swap-oob="true"', response.content.decode())
    refused = alice_client.post(f"/tracks/{track.uuid}/cues/", {"at": "-1"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and refused["HX-Reswap"] == "none" and b"hx-swap-oob" in refused.content
    templates = Path(__file__).resolve().parent.parent / "templates"
    assert not [t for t in templates.rglob("*.html") if "hx-target" in t.read_text()]


@pytest.mark.parametrize("fact", sorted(panels.FACTS - {panels.ACCESS}))
def test_a_fact_pushes_the_panels_that_show_it_and_no_others(alice, fact: str) -> None:
    track = track_row(alice)
    listener = Listener(events.track_group(track.uuid), events.library_group(alice.pk))
    events.changed(track, fact)
    pushed = ids(listener.messages())
    expected = [name for name in panels.LIVE if fact in panels.PANELS[name].facts]
    assert pushed[:len(expected)] == expected
    assert pushed[len(expected):] == (["track"] if fact in panels.ROW_FACTS else [])


def test_access_asks_open_pages_again_and_pushes_no_panel(alice) -> None:
    track = track_row(alice)
    listener = Listener(events.track_group(track.uuid))
    events.changed(track, panels.ACCESS)
    assert [m["type"] for m in listener.messages()] == ["access.check"]


def test_an_unknown_fact_fails_in_the_action(alice) -> None:
    with pytest.raises(ValueError, match="unknown facts: colour"):
        events.changed(track_row(alice), "colour")


def test_renaming_pushes_the_heading_the_stems_and_the_activity_once(alice, alice_client: Client) -> None:
    track = track_row(alice)
    listener = Listener(events.track_group(track.uuid), events.library_group(alice.pk))
    alice_client.post(f"/tracks/{track.uuid}/details/", {"title": "New name"})
    messages = listener.messages()
    pushed = ids(messages)
    assert sorted(pushed) == ["activity-panel", "stems-panel", "title-panel", "track"]  # the row has it too
    heading = next(m["html"] for m in messages if f'id="title-panel-{track.uuid}"' in m.get("html", ""))
    assert "<h1>New name</h1>" in heading and 'data-title="New name"' in heading
    assert Activity.objects.get(track=track, verb=Activity.Verb.RENAMED).detail == "from “Song” to “New name”"
    # Both names however long, each cut to fit the detail.
    alice_client.post(f"/tracks/{track.uuid}/details/", {"title": "x" * 200})
    alice_client.post(f"/tracks/{track.uuid}/details/", {"title": "Short"})
    detail = Activity.objects.filter(track=track, verb=Activity.Verb.RENAMED).first().detail
    assert detail == f"from “{'x' * 89}…” to “Short”"


def test_changing_a_role_is_recorded_and_tells_the_persons_open_pages(alice, bob, alice_client: Client) -> None:
    track = track_row(alice)
    share = Share.objects.create(track=track, user=bob, role=Share.Role.VIEWER)
    listener = Listener(events.track_group(track.uuid))
    assert alice_client.post(f"/tracks/{track.uuid}/shares/{share.pk}/", {"role": "editor"},
                             HTTP_HX_REQUEST="true").status_code == 200
    messages = listener.messages()
    assert messages[0]["type"] == "access.check"  # before anything else reaches the page
    assert ids(messages) == ["activity-panel"]
    activity = Activity.objects.get(track=track, verb=Activity.Verb.ROLE_CHANGED)
    assert activity.actor == alice and "to editor" in activity.detail
    assert "changed the role" in alice_client.get(f"/tracks/{track.uuid}/").content.decode()


def test_revoking_a_link_is_recorded_and_ends_its_holders_pages(alice, alice_client: Client) -> None:
    track = track_row(alice)
    link = ShareLink.objects.create(track=track)
    listener = Listener(events.track_group(track.uuid))
    alice_client.post(f"/tracks/{track.uuid}/links/{link.pk}/revoke/", HTTP_HX_REQUEST="true")
    messages = listener.messages()
    assert messages[0]["type"] == "access.check" and ids(messages) == ["activity-panel"]
    assert Activity.objects.filter(track=track, verb=Activity.Verb.UNLINKED).exists()


def test_a_refused_action_pushes_nothing(alice, bob_client: Client) -> None:
    track = track_row(alice)
    listener = Listener(events.track_group(track.uuid))
    assert bob_client.post(f"/tracks/{track.uuid}/details/", {"title": "Mine"}).status_code == 404
    assert listener.messages() == []
    assert not Activity.objects.filter(track=track).exists()


def test_a_key_transposed_keeps_its_mode_and_wraps_round_the_octave() -> None:
    from tracks.music.keys import transpositions

    keys = transpositions("A minor").split(",")
    assert (keys[12], keys[10], keys[13], keys[15]) == ("A minor", "G minor", "A# minor", "C minor")
    assert keys[0] == keys[24] == "A minor"
    assert transpositions("C# major").split(",")[11] == "C major"
    assert transpositions("") == transpositions(None) == ""  # no clear key: the mixer names semitones
