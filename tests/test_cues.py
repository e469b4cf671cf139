"""Cue points (tracks/music/cues.py, the Cue model, the cues panel and its actions): what an analysis proposes, what
a person changes and keeps through the next analysis, who may change them, and that every open page hears."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.helpers import track_row
from tests.test_panels import Listener, ids
from tests.test_sharing import link_client
from tracks.live import events
from tracks.models import Activity, AnalysisResult, Cue, Share, ShareLink
from tracks.music import cues

# Bars every 1.9 s from 0.4 s; an intro, a chorus, the intro's music again.
SHOWN = {"tempo": 124.0, "downbeats": [0.4, 2.3, 4.2, 6.1, 8.0], "meter": {"beats_per_bar": 4},
         "sections": [{"start": 0.0, "end": 4.1, "label": "A", "name": "intro"},
                      {"start": 4.3, "end": 8.1, "label": "B"}, {"start": 8.1, "end": 10.0, "label": "A"}]}


def found(shown: dict, duration: float = 10.0) -> list[tuple[str, float, str]]:
    return [(c.name, c.at, c.colour) for c in cues.found(shown, duration)]


def test_an_analysis_proposes_the_first_downbeat_and_each_section_on_its_bar_line() -> None:
    # The intro starts where the first bar does: one cue to a place, the Start.
    assert found(SHOWN) == [("Start", 0.4, "green"), ("B", 4.2, "orange"), ("A", 8.0, "pink")]
    assert found({"sections": [{"start": 1.0, "end": 5.0, "label": "A"}]}) == [("A", 1.0, "pink")]  # no grid
    assert found({}) == []


def test_a_loud_section_after_a_breakdown_is_a_drop_and_the_last_heard_as_an_outro_is_the_outro() -> None:
    # Ten values a second: loud, a quiet breakdown, the drop, loud again, an outro.
    curve = [1.0] * 40 + [0.3] * 20 + [1.2] * 20 + [1.0] * 20
    shown = {"downbeats": [0.0, 2.0, 4.0, 6.0, 8.0], "energy": {"curve": curve, "curve_hz": 10},
             "sections": [{"start": 0.0, "end": 4.0, "label": "A"}, {"start": 4.0, "end": 6.0, "label": "C"},
                          {"start": 6.0, "end": 8.0, "label": "B"},
                          {"start": 8.0, "end": 10.0, "label": "D", "name": "outro"}]}
    assert found(shown) == [("Start", 0.0, "green"), ("C", 4.0, "yellow"), ("Drop", 6.0, "red"),
                            ("Outro", 8.0, "blue")]
    # Without the breakdown the same rise is only louder, not a drop.
    steady = {**shown, "energy": {"curve": [1.0] * 60 + [1.2] * 40, "curve_hz": 10}}
    assert [name for name, _, _ in found(steady)] == ["Start", "C", "B", "Outro"]


@pytest.mark.slow
@pytest.mark.django_db
def test_what_a_person_changed_outlives_the_next_analysis(alice) -> None:
    track = track_row(alice, duration=10.0)
    Cue.propose(track, cues.found(SHOWN, 10.0))
    chorus = track.cues.get(name="B")
    chorus.name, chorus.auto = "Chorus", False
    chorus.save()
    Cue.objects.create(track=track, at=9.5, name="Last hit", colour="red")
    # The next analysis hears the same sections a little later: its proposals replace the old ones, never
    # where a person's cue already is.
    later = {**SHOWN, "downbeats": [0.5, 2.4, 4.3, 6.2, 8.1]}
    Cue.propose(track, cues.found(later, 10.0))
    assert [(c.name, c.at, c.auto) for c in track.cues.all()] == [
        ("Start", 0.5, True), ("Chorus", 4.2, False), ("A", 8.1, True), ("Last hit", 9.5, False)]
    Cue.propose(track, cues.found({**later, "downbeats": [4.2, 6.2]}, 10.0))  # a Start on the Chorus: left out
    assert [(c.name, c.at) for c in track.cues.all()] == [("Chorus", 4.2), ("A", 8.2), ("Last hit", 9.5)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_editor_adds_renames_moves_and_deletes_cues_and_every_open_page_hears(alice, bob, alice_client: Client,
                                                                                  bob_client: Client) -> None:
    track = track_row(alice, duration=10.0)
    Cue.propose(track, cues.found(SHOWN, 10.0))
    Share.objects.create(track=track, user=bob, role="editor")
    page = Listener(events.track_group(track.uuid))
    response = bob_client.post(f"/tracks/{track.uuid}/cues/", {"at": "6.1", "name": "Solo", "colour": "purple"},
                               HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-cue="Solo"' in html and 'fill="#aa72ff"' in html
    assert ids(page.messages())[:2] == ["cues-panel", "activity-panel"]  # the open page got it too
    assert Activity.objects.filter(track=track, verb=Activity.Verb.CUED, actor=bob).exists()
    chorus = track.cues.get(name="B")
    response = alice_client.post(f"/tracks/{track.uuid}/cues/{chorus.uuid}/",
                                 {"at": "4.25", "name": "Chorus", "colour": "aqua"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    chorus.refresh_from_db()
    assert (chorus.name, chorus.at, chorus.colour, chorus.auto, chorus.changed_by) == ("Chorus", 4.25, "aqua", False,
                                                                                        alice)
    start = track.cues.get(name="Start")
    page = Listener(events.track_group(track.uuid))  # a page's socket lives in one event loop, this test's not
    assert alice_client.post(f"/tracks/{track.uuid}/cues/{start.uuid}/delete/", HTTP_HX_REQUEST="true"
                             ).status_code == 200
    assert [c.name for c in track.cues.all()] == ["Chorus", "Solo", "A"]
    assert "cues-panel" in ids(page.messages())


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "said"), [
    ({"at": "11", "name": "Late", "colour": "red"}, "at: Ensure this value is less than or equal to 10.0."),
    ({"at": "1", "name": "", "colour": "red"}, "name: This field is required."),
    ({"at": "1", "name": "x" * 41, "colour": "red"}, "name: Ensure this value has at most 40 characters"),
    ({"at": "1", "name": "Mauve", "colour": "mauve"}, "colour: Select a valid choice."),
])
def test_a_cue_that_cannot_be_kept_says_why_and_keeps_nothing(alice, alice_client: Client, data: dict,
                                                              said: str) -> None:
    track = track_row(alice, duration=10.0)
    response = alice_client.post(f"/tracks/{track.uuid}/cues/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and said in response.content.decode()
    assert not track.cues.exists()


@pytest.mark.django_db
def test_viewers_and_link_holders_see_the_cues_but_do_not_change_them(alice, bob, bob_client: Client) -> None:
    track = track_row(alice, duration=10.0)
    Cue.propose(track, cues.found(SHOWN, 10.0))
    Share.objects.create(track=track, user=bob, role="viewer")
    page = bob_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert 'data-cue="Start"' in page and 'class="read-only' in page  # the edit controls hidden for him
    start = track.cues.get(name="Start")
    assert bob_client.post(f"/tracks/{track.uuid}/cues/{start.uuid}/delete/").status_code == 403
    guest = link_client(ShareLink.objects.create(track=track))
    assert 'data-cue="B"' in guest.get(f"/tracks/{track.uuid}/").content.decode()
    assert guest.post(f"/tracks/{track.uuid}/cues/", {"at": "1", "name": "x", "colour": "red"}).status_code == 302
    assert track.cues.count() == 3


@pytest.mark.django_db(transaction=True)
def test_tracks_analysed_before_cues_get_their_analysiss_proposals_on_migrating(alice) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("tracks", "0014_transcription")])
    old = executor.loader.project_state([("tracks", "0014_transcription")]).apps
    track = old.get_model("tracks", "Track").objects.create(
        owner_id=alice.pk, title="Old", original_name="old.wav", file="tracks/x/original.wav", format="wav",
        codec="pcm_s16le", duration=10.0, sample_rate=44100, channels=2, size=1, sha256="0" * 64)
    old.get_model("tracks", "AnalysisResult").objects.create(track=track, analyzer_version="3", data=SHOWN,
                                                             tempo_factor="1/2")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    # The cues the analysis (as corrected) proposes, as if the analysis job had kept them.
    assert [(c.name, c.at, c.auto) for c in Cue.objects.filter(track_id=track.pk)] == [
        ("Start", 0.4, True), ("B", 4.2, True), ("A", 8.0, True)]


@pytest.mark.django_db
def test_a_tempo_correction_moves_the_proposed_cues_to_the_new_bar_lines(alice, alice_client: Client) -> None:
    track = track_row(alice, duration=10.0)
    beats = [0.5 + 0.5 * i for i in range(19)]
    data = {"tempo": 120.0, "beats": beats, "downbeats": beats[::4], "meter": {"beats_per_bar": 4},
            "sections": [{"start": 0.5, "end": 2.6, "label": "A"}, {"start": 2.6, "end": 10.0, "label": "B"}]}
    AnalysisResult.objects.create(track=track, analyzer_version="3", data=data, tempo=120.0)
    Cue.propose(track, cues.found(data, 10.0))
    Cue.objects.create(track=track, at=8.0, name="Mine", colour="red")
    assert [(c.name, c.at) for c in track.cues.all()] == [("Start", 0.5), ("B", 2.5), ("Mine", 8.0)]
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "1/2"}).status_code == 302
    # Half the tempo, bars twice as long (0.5, 4.5, 8.5 s): the B's nearest bar line is now 4.5 s; Alice's
    # cue stays where she put it.
    assert [(c.name, c.at) for c in track.cues.all()] == [("Start", 0.5), ("B", 4.5), ("Mine", 8.0)]
