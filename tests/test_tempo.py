"""The tempo correction: the grid re-derived from the tracked beats, stored, pushed live to everyone on the
page and in the library, used by the click track and the exports, kept by a re-analysis."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from tests.test_consumers import connect, open_track_page, receive_until
from tests.test_jobs import upload
from tracks.models import Activity, AnalysisResult, Job, Track
from tracks.music import tempo


def tracked(bpm: float, n: int, drift: float = 0.0) -> list[float]:
    """n beats at ``bpm``, each interval ``drift`` seconds longer than the one before."""
    gaps = 60 / bpm + drift * np.arange(n - 1)
    return [round(float(t), 3) for t in np.r_[0.25, 0.25 + np.cumsum(gaps)]]


def test_three_halves_puts_three_beats_where_two_were_tracked() -> None:
    beats = tracked(113.3, 17)
    new, down = tempo.regrid(beats, beats[1::4], 4, Fraction(3, 2))
    # From the first downbeat (tracked beat 1), every third new beat is every second tracked one...
    assert new[1::3] == pytest.approx(beats[1::2], abs=1e-3)
    # ...and the two between split that span in thirds; one new beat before the anchor, none after the end.
    assert new[2] - new[1] == pytest.approx((beats[3] - beats[1]) / 3, abs=1e-3)
    assert new[0] == pytest.approx(beats[1] - (beats[3] - beats[1]) / 3, abs=1e-3) and new[0] >= beats[0]
    assert new[-1] <= beats[-1]
    assert len(new) == 1 + 1 + 3 * 7 + 1  # before, the anchor, seven spans of two tracked beats, and one more
    assert down == new[1::4]
    assert 60 / np.median(np.diff(new)) == pytest.approx(113.3 * 1.5, rel=0.01)


def test_double_and_half_follow_a_drifting_tempo() -> None:
    beats = tracked(90, 33, drift=0.002)
    double, down = tempo.regrid(beats, beats[0::4], 4, Fraction(2))
    assert double[0::2] == beats and len(double) == 2 * len(beats) - 1
    assert double[1::2] == pytest.approx((np.array(beats[:-1]) + beats[1:]) / 2, abs=1e-3)
    assert down == double[0::4]
    half, down = tempo.regrid(beats, beats[2::4], 4, Fraction(1, 2))
    assert half == beats[0::2]  # the phase of the first downbeat (tracked beat 2)
    assert down == half[1::4]
    assert tempo.regrid(beats, beats[2::4], 4, Fraction(1)) == (beats, beats[2::4])


def test_the_buttons_stop_where_no_one_taps() -> None:
    assert tempo.can_step(120.0, Fraction(1), Fraction(2))
    assert not tempo.can_step(130.0, Fraction(1), Fraction(2))  # 260 BPM
    assert not tempo.can_step(70.0, Fraction(1, 2), Fraction(1, 2))  # 17.5 BPM
    assert not tempo.can_step(100.0, Fraction(3, 2), Fraction(3, 2))  # x9/4 is no metrical level
    assert not tempo.can_step(None, Fraction(1), Fraction(2))
    assert tempo.label(Fraction(1, 2)) == "\u00f72" and tempo.label(Fraction(3, 2)) == "\u00d73/2"


def test_a_re_analysis_lands_at_the_level_the_person_chose() -> None:
    assert tempo.factor_for(113.0, 170.0) == Fraction(3, 2)
    assert tempo.factor_for(170.2, 170.0) == 1  # the new tracker got it right by itself
    assert tempo.factor_for(85.0, 170.0) == 2
    assert tempo.factor_for(85.0, None) == 1 and tempo.factor_for(None, 170.0) == 1


def test_corrected_data_keeps_what_the_tracker_found() -> None:
    data = {"tempo": 100.0, "beats": tracked(100, 9), "downbeats": tracked(100, 9)[0::4], "meter": {"beats_per_bar": 4}}
    shown = tempo.corrected(data, Fraction(2))
    assert shown["tempo"] == 200.0 and len(shown["beats"]) == 17 and shown["downbeats"] == shown["beats"][0::4]
    assert shown["tempo_correction"] == {"factor": "2", "tracked_tempo": 100.0, "tracked_beats": 9}
    assert data["tempo"] == 100.0 and len(data["beats"]) == 9  # the stored output is untouched
    assert tempo.corrected({"tempo": None, "beats": []}, Fraction(2)) == {"tempo": None, "beats": []}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_correction_reaches_every_page_the_library_the_exports_and_the_next_analysis(
    alice_client: Client, bob_client: Client, bob, c_major_wav: Path, run_worker: Callable[[str], bool]
) -> None:
    track = upload(alice_client, c_major_wav)
    assert run_worker("analysis")
    first = track.latest_analysis()
    bpm = first.tempo
    assert bpm == pytest.approx(120, abs=1), first.data.get("beat_tracker")
    alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "bob", "role": "viewer"})
    async_to_sync(correct_while_a_viewer_watches)(track, alice_client, bob_client, bpm)

    # The exports: a row per corrected beat, at the corrected tempo; the JSON says what was tracked.
    analysis = AnalysisResult.objects.get(pk=first.pk)
    assert analysis.tempo_factor == "3/2"
    rows = list(csv.DictReader(io.StringIO(alice_client.get(f"/tracks/{track.uuid}/analysis.csv").content.decode())))
    assert len(rows) == len(analysis.shown["beats"]) > len(first.data["beats"])
    assert {float(r["tempo_bpm"]) for r in rows} == {round(bpm * 1.5, 2)}
    exported = alice_client.get(f"/tracks/{track.uuid}/analysis.json").json()
    assert exported["tempo_correction"]["tracked_tempo"] == first.data["tempo"]
    assert exported["beats"] == analysis.shown["beats"]

    # A re-analysis keeps it; "as tracked" clears it for this and later analyses.
    alice_client.post(f"/tracks/{track.uuid}/analyse/")
    assert run_worker("analysis")
    again = track.latest_analysis()
    assert again.pk != first.pk and again.tempo_factor == "3/2" and again.tempo == pytest.approx(bpm * 1.5, abs=1.5)
    alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "clear"})
    cleared = track.latest_analysis()
    assert cleared.tempo_factor == "" and cleared.tempo == cleared.data["tempo"]
    assert Track.objects.get(pk=track.pk).tempo_target is None
    assert Activity.objects.filter(track=track, verb=Activity.Verb.RETIMED).count() == 2
    # Past 250 BPM there is nothing to press, nor a step that is not offered.
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "2"}).status_code == 302
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "2"}).status_code == 400
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "5"}).status_code == 400


async def correct_while_a_viewer_watches(track: Track, owner: Client, viewer: Client, bpm: float) -> None:
    """A viewer may not correct; the owner's x3/2 reaches the viewer's page and library."""
    page = await open_track_page(track, viewer)
    library, connected, _ = await connect("/ws/library/", viewer)
    assert connected
    await library.receive_from()
    refused = await sync_to_async(viewer.post)(f"/tracks/{track.uuid}/tempo/", {"step": "3/2"})
    assert refused.status_code in (403, 404)
    response = await sync_to_async(owner.post)(f"/tracks/{track.uuid}/tempo/", {"step": "3/2"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"{bpm * 1.5:.1f}</b> BPM" in response.content.decode()
    pushed = await receive_until(page, lambda html: f'id="analysis-panel-{track.uuid}"' in html, timeout=5)
    assert f"{bpm * 1.5:.1f}</b> BPM" in pushed[-1] and f"corrected from {bpm:.1f} BPM" in pushed[-1]
    assert "corrected the tempo" in "".join(pushed)
    await receive_until(library, lambda html: f'id="track-{track.uuid}"' in html
                        and f"<b>{bpm * 1.5:.1f}</b> BPM" in html, timeout=5)
    await page.disconnect(timeout=5)
    await library.disconnect(timeout=5)


@pytest.mark.django_db
def test_a_track_without_a_tempo_has_nothing_to_correct(alice_client: Client, c_major_wav: Path) -> None:
    track = upload(alice_client, c_major_wav)
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "2"}).status_code == 400
    job = Job.objects.create(track=track, kind=Job.Kind.ANALYSIS, status=Job.Status.SUCCEEDED)
    AnalysisResult.record(job, {"analyzer_version": "3", "tempo": None, "beats": []})
    assert alice_client.post(f"/tracks/{track.uuid}/tempo/", {"step": "2"}).status_code == 400
    assert "Not what you tap?" not in alice_client.get(f"/tracks/{track.uuid}/").content.decode()
