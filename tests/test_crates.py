"""Crates and setlists (tracks/crates.py, views/crates.py): made, filled from a track's page, in an order that
dragging and the Move buttons change, with each song's tempo, key and length and the total; exported as M3U
and Rekordbox XML in that order; shared as viewer or editor, it opens its owner's songs in it to its people,
with the settings agreed for each; anyone else is told there is no such crate."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from tests.helpers import track_row
from tracks.files import storage
from tracks.models import AnalysisResult, Crate, CrateEntry, CrateLink, CrateShare, Practice, Share, Track

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


def share(client: Client, crate: Crate, who: str, role: str = "viewer") -> int:
    return client.post(f"/crates/{crate.uuid}/shares/", {"who": who, "role": role}).status_code


def test_a_shared_setlist_opens_its_owners_songs_in_it_and_only_while_it_holds(alice_client: Client, songs,
                                                                               charlie, charlie_client: Client):
    crate = make(alice_client)
    for track in (songs[0], songs[2]):  # her own opener; Bob's song, shared with her alone
        put(alice_client, crate, track)
    opener, ballad, theirs = (f"/tracks/{t.uuid}/" for t in songs)
    assert charlie_client.get(f"/crates/{crate.uuid}/").status_code == 404
    assert charlie_client.get(opener).status_code == 404
    assert share(alice_client, crate, "charlie@example.com") == 302
    page = charlie_client.get(f"/crates/{crate.uuid}/").content.decode()
    assert "Opener" in page and "Their cover" not in page  # not hers to open to anyone
    assert "shared with you as a viewer" in page and "Move Opener up" not in page and "Shared with" not in page
    assert charlie_client.get(opener).status_code == 200
    assert (charlie_client.get(ballad).status_code, charlie_client.get(theirs).status_code) == (404, 404)
    assert "Friday gig" in charlie_client.get("/crates/").content.decode()
    listed = charlie_client.get("/?list=shared").content.decode()
    assert "Opener" in listed and "Ballad" not in listed
    for path in ("playlist.m3u8", "rekordbox.xml"):
        exported = charlie_client.get(f"/crates/{crate.uuid}/{path}").content.decode()
        assert "Opener" in exported and "Their cover" not in exported
    # A viewer changes nothing; the owner's removing the song closes it again, and so does unsharing.
    entry = crate.entries.get(track=songs[0])
    assert charlie_client.post(f"/crates/{crate.uuid}/entries/{entry.pk}/remove/").status_code == 403
    assert charlie_client.post(f"/crates/{crate.uuid}/edit/", {"name": "Mine"}).status_code == 403
    alice_client.post(f"/crates/{crate.uuid}/entries/{entry.pk}/remove/")
    assert charlie_client.get(opener).status_code == 404
    put(alice_client, crate, songs[0])
    assert charlie_client.get(opener).status_code == 200
    crate_share = CrateShare.objects.get(crate=crate, user=charlie)
    assert alice_client.post(f"/crates/{crate.uuid}/shares/{crate_share.pk}/", {"remove": "1"}).status_code == 302
    assert charlie_client.get(opener).status_code == 404
    assert charlie_client.get(f"/crates/{crate.uuid}/").status_code == 404


def test_an_editor_reorders_adds_what_they_may_see_and_never_renames_or_shares(alice_client: Client, songs, bob,
                                                                                 bob_client: Client, charlie):
    crate = make(alice_client)
    for track in songs[:2]:
        put(alice_client, crate, track)
    assert share(alice_client, crate, bob.profile.display_name, "editor") == 302
    ids = list(crate.entries.order_by("position").values_list("pk", flat=True))
    assert bob_client.post(f"/crates/{crate.uuid}/order/", json.dumps(ids[::-1]),
                           content_type="application/json").status_code == 204
    assert order(crate) == ["Ballad", "Opener"]
    assert put(bob_client, crate, songs[2]) == 302  # his own song
    assert order(crate) == ["Ballad", "Opener", "Their cover"]
    assert put(bob_client, crate, track_row(charlie, title="Charlie's")) == 404  # not his to see
    assert bob_client.post(f"/crates/{crate.uuid}/edit/", {"name": "Bob's now"}).status_code == 403
    assert share(bob_client, crate, "charlie@example.com") == 403
    assert bob_client.post(f"/crates/{crate.uuid}/delete/").status_code == 403
    assert "Friday gig (setlist)" in bob_client.get(f"/tracks/{songs[2].uuid}/").content.decode()  # "Add to"


@pytest.mark.parametrize(("who", "error"), [
    ("nobody@example.com", "No one with a verified account has that display name or address."),
    ("no such name", "No one with a verified account has that display name or address."),
    ("alice@example.com", "That is you: the crate is already yours."),
])
def test_sharing_with_someone_who_cannot_have_it_says_why(alice_client: Client, who: str, error: str) -> None:
    crate = make(alice_client)
    response = alice_client.post(f"/crates/{crate.uuid}/shares/", {"who": who, "role": "viewer"})
    assert response.status_code == 400 and error in response.content.decode()
    assert not crate.shares.exists()


def practice_data(html: str) -> dict:
    return json.loads(re.search(r'<script id="practice-data" type="application/json">(.*?)</script>', html, re.S)[1])


def test_the_band_opens_each_song_at_the_settings_agreed_in_the_setlist(alice_client: Client, songs, bob,
                                                                        bob_client: Client, charlie,
                                                                        charlie_client: Client) -> None:
    crate = make(alice_client)
    for track in songs[:2]:
        put(alice_client, crate, track)
    share(alice_client, crate, bob.profile.display_name, "editor")
    share(alice_client, crate, "charlie@example.com", "viewer")
    opener = crate.entries.get(track=songs[0])
    agree = f"/crates/{crate.uuid}/entries/{opener.pk}/agree/"
    settings = {"rate": 0.9, "semitones": -2, "count_in": True, "loop": None, "stems": {}}
    response = bob_client.post(agree, json.dumps(settings), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["summary"] == "at 90 % (115.2 BPM) · 2 semitones down (G minor) · count-in"
    assert charlie_client.post(agree, json.dumps(settings), content_type="application/json").status_code == 403
    refused = bob_client.post(agree, json.dumps({**settings, "rate": 3}), content_type="application/json")
    assert refused.status_code == 400 and refused.content.decode() == "rate: from 0.5 to 1.5."
    page = charlie_client.get(f"/crates/{crate.uuid}/").content.decode()
    assert "Agreed: at 90 % (115.2 BPM) · 2 semitones down (G minor) · count-in" in page
    assert 'data-rate="0.9"' in page  # "Play in order" plays it at that speed
    # Opened from the setlist, the mixer starts where the band agreed; opened alone, where she left it.
    Practice.objects.create(user=charlie, track=songs[0], settings={**settings, "rate": 1.2, "semitones": 0})
    from_setlist = charlie_client.get(f"/tracks/{songs[0].uuid}/?crate={crate.uuid}").content.decode()
    assert practice_data(from_setlist)["rate"] == 0.9 and practice_data(from_setlist)["semitones"] == -2
    assert "Song 1 of 2 in" in from_setlist
    assert f'/tracks/{songs[1].uuid}/?crate={crate.uuid}" rel="next"' in from_setlist
    assert "Agree these settings for everyone" not in from_setlist  # a viewer's
    assert practice_data(charlie_client.get(f"/tracks/{songs[0].uuid}/").content.decode())["rate"] == 1.2
    assert "Agree these settings for everyone" in bob_client.get(
        f"/tracks/{songs[0].uuid}/?crate={crate.uuid}").content.decode()
    # Cleared, it opens as the song is.
    assert alice_client.post(agree).status_code == 302
    opener.refresh_from_db()
    assert (opener.agreed, opener.agreed_by) == ({}, None)
    assert "nothing agreed yet" in charlie_client.get(f"/tracks/{songs[0].uuid}/?crate={crate.uuid}").content.decode()


def test_the_api_makes_fills_orders_and_agrees_a_setlist_and_keeps_practice(alice_client: Client, songs,
                                                                             bob, bob_client: Client) -> None:
    api = "/api/v1"
    made = alice_client.post(f"{api}/crates", {"name": "  Friday   gig ", "kind": "setlist"},
                             content_type="application/json")
    assert made.status_code == 201 and (made.json()["name"], made.json()["role"]) == ("Friday gig", "owner")
    crate = made.json()["uuid"]
    for track in songs:
        assert alice_client.post(f"{api}/crates/{crate}/entries", {"track": str(track.uuid)},
                                 content_type="application/json").status_code == 201
    again = alice_client.post(f"{api}/crates/{crate}/entries", {"track": str(songs[0].uuid)},
                              content_type="application/json")
    assert again.status_code == 200 and len(again.json()["entries"]) == 3
    ids = [e["id"] for e in again.json()["entries"]]
    moved = alice_client.put(f"{api}/crates/{crate}/order", {"order": ids[::-1]}, content_type="application/json")
    assert [e["title"] for e in moved.json()["entries"]] == ["Their cover", "Ballad", "Opener"]
    assert alice_client.put(f"{api}/crates/{crate}/order", {"order": ids[:2]},
                            content_type="application/json").status_code == 409
    agreed = alice_client.put(f"{api}/crates/{crate}/entries/{ids[0]}/agreed", {"rate": 0.9, "semitones": -2},
                              content_type="application/json")
    assert agreed.json()["agreed_summary"] == "at 90 % (115.2 BPM) · 2 semitones down (G minor)"
    assert agreed.json()["position"] == 3
    refused = alice_client.put(f"{api}/crates/{crate}/entries/{ids[0]}/agreed", {"semitones": 13},
                               content_type="application/json")
    assert refused.status_code == 400 and refused.json()["detail"] == "semitones: from -12 to 12."
    Crate.objects.get(uuid=crate).shares.create(user=bob, role="viewer")
    seen = bob_client.get(f"{api}/crates/{crate}").json()
    assert seen["role"] == "viewer"  # his own song and Alice's two, through the crate
    assert [e["title"] for e in seen["entries"]] == ["Their cover", "Ballad", "Opener"]
    assert seen["entries"][2]["agreed"]["rate"] == 0.9
    assert [c["role"] for c in bob_client.get(f"{api}/crates").json()] == ["viewer"]
    # Cleared by agreeing the song as it is.
    alice_client.put(f"{api}/crates/{crate}/entries/{ids[0]}/agreed", {}, content_type="application/json")
    assert CrateEntry.objects.get(pk=ids[0]).agreed == {}
    # Practice settings, the caller's own.
    path = f"{api}/tracks/{songs[0].uuid}/practice"
    assert bob_client.get(path).json() == {}
    kept = bob_client.put(path, {"rate": 0.75, "loop": [10, 20], "stems": {"drums": {"mute": True}}},
                          content_type="application/json").json()
    assert (kept["rate"], kept["loop"], kept["stems"]["drums"]["mute"]) == (0.75, [10.0, 20.0], True)
    assert bob_client.get(path).json() == kept and alice_client.get(path).json() == {}


# -- links ---------------------------------------------------------------------------------------------------

def test_a_crates_link_opens_it_and_its_owners_songs_in_it_to_anyone_until_revoked(alice_client: Client, alice,
                                                                                  songs) -> None:
    crate = make(alice_client)
    for track in songs:
        put(alice_client, crate, track)
    assert alice_client.post(f"/crates/{crate.uuid}/links/", {}).status_code == 302
    link = CrateLink.objects.get(crate=crate)
    assert not link.allow_downloads
    owner_page = alice_client.get(f"/crates/{crate.uuid}/").content.decode()
    assert f"/c/{link.token}/" in owner_page
    guest = Client()
    assert guest.get(f"/crates/{crate.uuid}/").status_code == 302  # no link yet: to log in
    opened = guest.get(f"/c/{link.token}/")
    assert opened.status_code == 302 and opened["Location"] == f"/crates/{crate.uuid}/"
    page = guest.get(f"/crates/{crate.uuid}/").content.decode()
    assert "opened with a link" in page and "Export to Rekordbox" not in page and "data-move" not in page
    # The owner's songs in it, in order; bob's song in alice's crate is not hers to open to anyone.
    assert re.findall(r'class="title" href="[^"]+">([^<]+)</a>', page) == ["Opener", "Ballad"]
    song_page = guest.get(f"/tracks/{songs[0].uuid}/?crate={crate.uuid}")
    assert song_page.status_code == 200 and "Song 1 of 2" in song_page.content.decode()
    assert guest.get(f"/tracks/{songs[2].uuid}/").status_code == 404  # bob's: not through alice's link
    assert guest.get(f"/tracks/{songs[0].uuid}/audio/?download=1").status_code == 403  # listen only
    assert guest.post(f"/crates/{crate.uuid}/order/", {"order": "1"}).status_code == 302  # to log in: no change
    # A song taken out of the crate closes to the link; revoked, the link opens nothing.
    alice_client.post(f"/crates/{crate.uuid}/entries/{crate.entries.get(track=songs[1]).pk}/remove/")
    assert guest.get(f"/tracks/{songs[1].uuid}/").status_code == 404
    assert alice_client.post(f"/crates/{crate.uuid}/links/{link.pk}/revoke/").status_code == 302
    assert guest.get(f"/crates/{crate.uuid}/").status_code == 404
    assert guest.get(f"/tracks/{songs[0].uuid}/").status_code == 404
    assert Client().get(f"/c/{link.token}/").status_code == 404
    assert f"/c/{link.token}/" not in alice_client.get(f"/crates/{crate.uuid}/").content.decode()


def test_a_crate_link_with_downloads_lets_its_holder_download_the_songs(alice_client: Client, songs) -> None:
    crate = make(alice_client)
    put(alice_client, crate, songs[0])
    alice_client.post(f"/crates/{crate.uuid}/links/", {"allow_downloads": "on"})
    link = CrateLink.objects.get(crate=crate)
    assert link.allow_downloads
    guest = Client()
    guest.get(f"/c/{link.token}/")
    path = storage.track_path(songs[0])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF-song")
    assert guest.get(f"/tracks/{songs[0].uuid}/audio/?download=1").status_code == 200
    assert guest.get(f"/tracks/{songs[1].uuid}/audio/?download=1").status_code == 404  # not in the crate
