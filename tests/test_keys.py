"""tracks/music/keys.py's harmonic matching: which keys blend on the Camelot wheel, which tempos sit within a
DJ's pitch range at some metrical level, and the tracks that mix well with a song, best first; and the
track page's and the API's "mixes well with" from a person's own library."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import track_row
from tracks.models import AnalysisResult, ApiToken, Share, ShareLink
from tracks.music import keys


def test_keys_blend_as_on_the_camelot_wheel() -> None:
    assert keys.relation("8A", "8A") == "same key"
    assert keys.relation("8A", "8B") == "relative"  # A minor and C major
    assert keys.relation("8A", "9A") == "one step up" and keys.relation("8A", "7A") == "one step down"
    assert keys.relation("12B", "1B") == "one step up" and keys.relation("1B", "12B") == "one step down"  # round
    assert keys.relation("8A", "9B") is None and keys.relation("8A", "2A") is None and keys.relation("", "8A") is None
    assert keys.compatible_labels("A minor") == {"A minor", "C major", "E minor", "D minor"}


def test_tempos_fit_within_six_percent_at_some_level() -> None:
    assert keys.tempo_fit(128.0, 128.0) == (0.0, "")
    off, level = keys.tempo_fit(128.0, 124.0)
    assert level == "" and off == pytest.approx(4 / 128)
    assert keys.tempo_fit(128.0, 64.5)[1] == "double time"  # heard at 129
    assert keys.tempo_fit(87.0, 174.0) == (0.0, "half time")
    assert keys.tempo_fit(128.0, 120.0) is None  # 6.25 % off
    assert keys.tempo_fit(None, 120.0) is None


def test_matches_come_best_first() -> None:
    others = [("step, same tempo", 128.0, "E minor"), ("same key, 3 % off", 124.2, "A minor"),
              ("same key, same tempo", 128.0, "A minor"), ("relative, half", 64.0, "C major"),
              ("clash", 128.0, "F# major"), ("too slow", 110.0, "A minor"), ("no tempo", None, "A minor")]
    found = keys.matches(128.0, "A minor", others)
    assert [m[0] for m in found] == ["same key, same tempo", "same key, 3 % off", "relative, half",
                                     "step, same tempo"]
    assert found[2][1:] == ("relative", 0.0, "double time")


def analysed(owner: object, title: str, tempo: float, key: str) -> object:
    track = track_row(owner, title=title)
    AnalysisResult.objects.create(track=track, analyzer_version="1", data={}, tempo=tempo, key_label=key)
    return track


@pytest.mark.django_db
def test_a_track_page_lists_what_mixes_with_it_from_the_persons_library(alice, bob, alice_client: Client) -> None:
    song = analysed(alice, "Night Drive", 126.0, "A minor")
    analysed(alice, "Sunrise", 128.0, "C major")
    analysed(alice, "Clash", 126.0, "F# major")
    shared = analysed(bob, "Bob's Groove", 63.5, "E minor")
    Share.objects.create(track=shared, user=alice, role="viewer")
    analysed(bob, "Not Alice's", 126.0, "A minor")  # in no library of hers
    page = alice_client.get(f"/tracks/{song.uuid}/").content.decode()
    section = page.split('id="mixes-with-heading"')[1].split("</section>")[0]
    assert section.index("Sunrise") < section.index("Bob&#x27;s Groove")  # relative, then a step round
    assert "128.0 BPM · C major 8B · relative · 1.6 % off" in section and "(double time)" in section
    assert "Clash" not in section and "Not Alice" not in section
    # A link holder has no library to match from.
    guest = Client()
    guest.get(f"/s/{ShareLink.objects.create(track=song).token}/")
    assert "mixes-with-heading" not in guest.get(f"/tracks/{song.uuid}/").content.decode()
    # The API says the same.
    secret = ApiToken.issue(alice, "t", "read")[1]
    found = Client().get(f"/api/v1/tracks/{song.uuid}/matches", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert [(m["track"]["title"], m["blend"], m["level"]) for m in found] == [
        ("Sunrise", "relative", ""), ("Bob's Groove", "one step up", "double time")]
