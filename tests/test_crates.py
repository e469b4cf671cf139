"""Crates and setlists (tracks/crates.py, views/crates.py): made, filled from a track's page, in an order that
dragging and the Move buttons change, with each song's tempo, key and length and the total; exported as M3U
and Rekordbox XML in that order; another person's crate does not exist for anyone else."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.helpers import track_row
from tracks.models import AnalysisResult, Crate, CrateEntry, Share, Track

pytestmark = pytest.mark.django_db


def make(client: Client, name: str = "Friday gig", kind: str = "setlist") -> Crate:
    response = client.post("/crates/add/", {"name": name, "kind": kind})
    assert response.status_code == 302
    return Crate.objects.get(name=name)


def put(client: Client, crate: Crate, track: Track) -> int:
    return client.post("/crates/put/", {"crate": crate.uuid, "track": track.uuid}).status_code


def order(crate: Crate) -> list[str]:
    return list(crate.entries.order_by("position").values_list("track__title", flat=True))


@pytest.fixture
def songs(alice, bob) -> list[Track]:
    made = [track_row(alice, title="Opener", artist="Us", duration=185.0),
            track_row(alice, title="Ballad", duration=240.5),
            track_row(bob, title="Their cover", artist="Them", duration=200.0)]
    Share.objects.create(track=made[2], user=alice, role="viewer")
    for track, tempo, key in zip(made, (128.0, 72.0, 174.0), ("A minor", "C major", "F# minor"), strict=True):
        AnalysisResult.objects.create(track=track, analyzer_version="3", tempo=tempo, key_label=key, data={})
    return made


def test_a_setlist_lists_its_songs_in_order_with_tempo_key_length_and_the_total(alice_client: Client,
                                                                                 songs) -> None:
    crate = make(alice_client)
    for track in (songs[1], songs[0], songs[2], songs[1]):  # the ballad again: it stays where it is
        assert put(alice_client, crate, track) == 302
    assert order(crate) == ["Ballad", "Opener", "Their cover"]
    assert list(crate.entries.values_list("position", flat=True)) == [1, 2, 3]
    html = alice_client.get(f"/crates/{crate.uuid}/").content.decode()
    assert "3 songs · 10:26 in all" in html  # 240.5 + 185 + 200 s, to the nearest second
    rows = re.findall(r'class="title"[^>]*>([^<]+)</a>.*?<b>([\d.]+)</b> BPM.*?<b>([^<]+)</b>.*?class="meta">([^<]+)<',
                      html, re.S)
    assert rows == [("Ballad", "72.0", "C major", "4:00"), ("Opener", "128.0", "A minor", "3:05"),
                    ("Their cover", "174.0", "F# minor", "3:20")]
    assert "setlist · 3 songs" in alice_client.get("/crates/").content.decode()


def test_songs_move_by_a_whole_order_from_the_script_or_the_move_buttons(alice_client: Client, songs) -> None:
    crate = make(alice_client)
    for track in songs:
        put(alice_client, crate, track)
    ids = list(crate.entries.order_by("position").values_list("pk", flat=True))
    moved = alice_client.post(f"/crates/{crate.uuid}/order/", json.dumps([ids[2], ids[0], ids[1]]),
                              content_type="application/json")
    assert moved.status_code == 204 and order(crate) == ["Their cover", "Opener", "Ballad"]
    # The Move down button of the first song, as the page renders it (no script): the order it posts.
    html = alice_client.get(f"/crates/{crate.uuid}/").content.decode()
    down = re.search(r'name="order" value="([\d,]+)"><button class="small" +aria-label="Move Their cover down"', html)
    assert down, "each song has a Move down button with the order it makes"
    assert alice_client.post(f"/crates/{crate.uuid}/order/", {"order": down.group(1)}).status_code == 302
    assert order(crate) == ["Opener", "Their cover", "Ballad"]
    # An order that is not the crate's entries exactly is refused (an entry added or gone meanwhile).
    for wrong in ([ids[0], ids[1]], [ids[0], ids[0], ids[1]], [*ids, 999_999], ["x"]):
        refused = alice_client.post(f"/crates/{crate.uuid}/order/", json.dumps(wrong), content_type="application/json")
        assert refused.status_code == 400
    assert order(crate) == ["Opener", "Their cover", "Ballad"]


def test_removing_a_song_closes_the_gap_and_deleting_the_crate_keeps_the_songs(alice_client: Client,
                                                                               songs) -> None:
    crate = make(alice_client)
    for track in songs:
        put(alice_client, crate, track)
    middle = crate.entries.get(position=2)
    assert alice_client.post(f"/crates/{crate.uuid}/entries/{middle.pk}/remove/").status_code == 302
    assert order(crate) == ["Opener", "Their cover"]
    assert list(crate.entries.values_list("position", flat=True)) == [1, 2]
    assert alice_client.post(f"/crates/{crate.uuid}/delete/").status_code == 302
    assert not Crate.objects.exists() and not CrateEntry.objects.exists() and Track.objects.count() == 3


def test_a_song_no_longer_shared_leaves_the_list_but_not_the_crate(alice, alice_client: Client, songs) -> None:
    crate = make(alice_client)
    for track in songs:
        put(alice_client, crate, track)
    Share.objects.filter(track=songs[2], user=alice).delete()
    assert "Their cover" not in alice_client.get(f"/crates/{crate.uuid}/").content.decode()
    assert crate.entries.count() == 3  # shared again, it is back in its place


def test_the_crate_exports_as_m3u_and_rekordbox_in_its_order(alice_client: Client, songs) -> None:
    crate = make(alice_client, name="Warm-up")
    for track in (songs[2], songs[0]):
        put(alice_client, crate, track)
    m3u = alice_client.get(f"/crates/{crate.uuid}/playlist.m3u8")
    assert m3u["Content-Type"].startswith("audio/x-mpegurl") and 'filename="Warm-up.m3u8"' in m3u["Content-Disposition"]
    assert m3u.content.decode().splitlines() == [
        "#EXTM3U", "#PLAYLIST:Warm-up", "#EXTINF:200,Them - Their cover", "Their cover.wav",
        "#EXTINF:185,Us - Opener", "Opener.wav"]
    xml = ET.fromstring(alice_client.get(f"/crates/{crate.uuid}/rekordbox.xml").content)  # noqa: S314 (ours)
    listed = {t.get("TrackID"): t for t in xml.find("COLLECTION")}
    playlist = xml.find("PLAYLISTS/NODE/NODE")
    assert playlist.get("Name") == "Warm-up" and playlist.get("Entries") == "2"
    assert [listed[t.get("Key")].get("Name") for t in playlist] == ["Their cover", "Opener"]
    assert listed[playlist[0].get("Key")].get("Artist") == "Them"


def test_crates_are_their_owners_and_add_only_what_the_owner_may_see(alice, bob, alice_client: Client,
                                                                     bob_client: Client, charlie) -> None:
    crate = make(alice_client)
    stranger = track_row(charlie, title="Not shared")
    assert put(alice_client, crate, stranger) == 404  # a track she may not see
    bobs = make(bob_client, name="Bob's")
    assert put(alice_client, bobs, track_row(alice)) == 404  # a crate not hers
    for path in ("", "playlist.m3u8", "rekordbox.xml"):
        assert bob_client.get(f"/crates/{crate.uuid}/{path}").status_code == 404
    assert "Friday gig" not in bob_client.get("/crates/").content.decode()
    assert alice_client.post("/crates/add/", {"name": " "}).status_code == 400
