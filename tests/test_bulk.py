"""Acting on many songs at once from the library (tracks/bulk.py, views/library.py: library_bulk): the songs
ticked or all that match the list, each done through the one-track action and its limits; past the active-job
limit the rest wait their turn in order (Job.Status.WAITING, jobs.queueing.promote), in the library's queue."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import django_rq
import pytest
from django.test import Client

from tests.helpers import track_row
from tracks.files import storage
from tracks.jobs import queueing, running
from tracks.live import panels
from tracks.models import Crate, CrateEntry, Job, Share, Track

pytestmark = pytest.mark.django_db


def bulk(client: Client, action: str, tracks: list[Track] = (), **fields: str):
    return client.post("/library/bulk/", {"action": action, "track": [str(t.uuid) for t in tracks], **fields},
                       HTTP_HX_REQUEST="true")


def said(response) -> str:
    return re.sub(r"\s+", " ", re.search(r'id="bulk-result"[^>]*>(.*?)</p>', response.content.decode(), re.S)
                  .group(1)).strip()


@pytest.fixture
def ten(alice) -> list[Track]:
    return [track_row(alice, title=f"Song {n:02d}") for n in range(10)]


def separations() -> list[Job]:
    return list(Job.objects.filter(kind=Job.Kind.SEPARATION).select_related("track").order_by("created", "id"))


def in_redis(job: Job) -> bool:
    return django_rq.get_queue("processing").fetch_job(job.rq_id) is not None


def test_ten_separated_in_one_action_run_so_many_at_once_and_the_rest_wait_their_turn_in_order(
        alice_client: Client, alice, bob, ten, settings, django_capture_on_commit_callbacks) -> None:
    settings.MAX_ACTIVE_JOBS = 3
    theirs = track_row(bob, title="Their song")
    Share.objects.create(track=theirs, user=alice, role="viewer")  # alice may see it, not separate it
    chosen = [*ten[:5], theirs, *ten[5:]]
    with django_capture_on_commit_callbacks(execute=True):
        answer = bulk(alice_client, "separate", chosen, model="dsp", format="flac")
    assert answer.status_code == 200
    assert said(answer) == ("3 songs separation queued; 7 songs waiting their turn (your queue, above). "
                            "1 song not: you may not change them.")
    jobs = separations()
    assert [j.track.title for j in jobs] == [t.title for t in ten]  # in the order chosen; none on theirs
    assert [j.status for j in jobs] == ["queued"] * 3 + ["waiting"] * 7
    assert [in_redis(j) for j in jobs] == [True] * 3 + [False] * 7
    assert all(j.options == {"model": "dsp", "format": "flac"} and j.requested_by == alice for j in jobs)
    # The queue on the library page: how many of each, the first few in the order they run.
    page = alice_client.get("/").content.decode()
    queue = re.search(r'<section id="job-queue".*?</section>', page, re.S).group(0)
    assert "0 running · 3 queued · <b>7 waiting their turn</b> · 3 at once at most" in queue
    assert re.findall(r"Separation of <a[^>]*>([^<]+)</a>", queue) == [f"Song {n:02d}" for n in range(8)]
    assert "and 2 more" in queue
    # A row shows its song's separation, waiting.
    row = panels.render_row(ten[6])
    assert "Separation" in row and "Waiting its turn" in row and "progressbar" not in row
    # One ends: the next in order is queued, and only that one.
    first = jobs[0]
    assert first.claim() and first.succeed()
    with django_capture_on_commit_callbacks(execute=True):
        running.ended(first)
    jobs = separations()
    assert [j.status for j in jobs] == ["succeeded", "queued", "queued", "queued"] + ["waiting"] * 6
    assert in_redis(jobs[3]) and not in_redis(jobs[4])
    # A separation asked for one song now waits behind the rest.
    with django_capture_on_commit_callbacks(execute=True):
        one = alice_client.post(f"/tracks/{theirs.uuid}/separate/", {"model": "dsp", "format": "wav"})
    assert one.status_code == 403
    extra = track_row(alice, title="Late")
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(f"/tracks/{extra.uuid}/separate/", {"model": "dsp", "format": "wav"})
    assert Job.objects.get(track=extra).status == Job.Status.WAITING


def test_the_same_action_again_does_not_queue_twice_and_cancelling_the_waiting_leaves_the_rest(
        alice_client: Client, ten, settings, django_capture_on_commit_callbacks) -> None:
    settings.MAX_ACTIVE_JOBS = 2
    with django_capture_on_commit_callbacks(execute=True):
        bulk(alice_client, "analyse", ten)
        again = bulk(alice_client, "analyse", ten[:4])
    assert said(again) == "0 songs re-analysis queued; 4 songs already being analysed."
    assert Job.objects.count() == 10
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = alice_client.post("/library/queue/cancel/", HTTP_HX_REQUEST="true")
    assert cancelled.status_code == 200 and "2 queued" in cancelled.content.decode()
    counts = {s: Job.objects.filter(status=s).count() for s in ("queued", "waiting", "cancelled")}
    assert counts == {"queued": 2, "waiting": 0, "cancelled": 8}


def test_recovery_queues_whoever_waits_with_a_place_free(alice, ten, settings,
                                                          django_capture_on_commit_callbacks) -> None:
    settings.MAX_ACTIVE_JOBS = 1
    made = [Job.objects.create(track=t, kind=Job.Kind.ANALYSIS, status=Job.Status.WAITING, requested_by=alice)
            for t in ten[:3]]
    with django_capture_on_commit_callbacks(execute=True):
        counts = queueing.recover()
    assert counts["promoted"] == 1
    assert [Job.objects.get(pk=j.pk).status for j in made] == ["queued", "waiting", "waiting"]
    assert django_rq.get_queue("analysis").fetch_job(made[0].rq_id) is not None


def test_all_matching_the_search_chooses_songs_not_loaded_yet_in_the_lists_order(alice_client: Client, alice,
                                                                                 ten) -> None:
    takes = [track_row(alice, title=f"Live take {n:02d}") for n in range(60)]  # more than a page
    crate = Crate.objects.create(owner=alice, name="Live")
    answer = bulk(alice_client, "crate", all="1", query="q=live+take&sort=title", crate=str(crate.uuid))
    assert said(answer) == "60 songs added to “Live”."
    listed = list(CrateEntry.objects.filter(crate=crate).order_by("position").values_list("track", flat=True))
    assert listed == [t.pk for t in takes]  # by title, as the list sorts
    again = bulk(alice_client, "crate", [takes[0], ten[0]], crate=str(crate.uuid))
    assert said(again) == "1 song added to “Live”; 1 song in it already."
    assert bulk(alice_client, "crate", all="1", query="sort=nonsense", crate=str(crate.uuid)).status_code == 400


def test_delete_takes_only_the_persons_own_songs(alice_client: Client, alice, bob, ten,
                                                 django_capture_on_commit_callbacks) -> None:
    theirs = track_row(bob, title="Their song")
    Share.objects.create(track=theirs, user=alice, role="editor")  # an editor may change it, not delete it
    with django_capture_on_commit_callbacks(execute=True):
        answer = bulk(alice_client, "delete", [ten[0], theirs, ten[1]])
    assert said(answer) == "2 songs deleted. 1 song not: they are not yours."
    assert set(Track.objects.values_list("title", flat=True)) == {f"Song {n:02d}" for n in range(2, 10)} | {
        "Their song"}


def test_downloads_are_rekordbox_xml_and_the_originals_zipped_of_what_the_person_may_download(
        alice_client: Client, alice, bob) -> None:
    songs = [track_row(alice, title=t) for t in ("Intro", "Anthem", "Anthem")]
    hidden = track_row(bob, title="Not shared")
    for n, track in enumerate(songs):
        path = storage.track_path(track)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + bytes([n]) * 100)
    answer = alice_client.post("/library/bulk/", {"action": "zip", "track": [str(t.uuid) for t in
                                                                              (*songs, hidden)]})
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    assert 'filename="SoundForge - 3 songs.zip"' in answer["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(answer.streaming_content)))
    assert archive.namelist() == ["Intro.wav", "Anthem.wav", "Anthem (2).wav"]
    assert archive.read("Anthem (2).wav") == Path(storage.track_path(songs[2])).read_bytes()
    xml = alice_client.post("/library/bulk/", {"action": "rekordbox", "track": [str(songs[1].uuid),
                                                                                 str(songs[0].uuid)]})
    tree = ET.fromstring(xml.content)  # noqa: S314 (our own output)
    names = [t.get("Name") for t in tree.iter("TRACK") if t.get("Name")]
    assert names == ["Anthem", "Intro"]
    assert tree.find(".//NODE[@Type='1']").get("Name") == "SoundForge - 2 songs"


def test_refusals_say_why_and_do_nothing(alice_client: Client, bob_client: Client, alice, bob, ten) -> None:
    assert said(bulk(alice_client, "analyse")) == "Choose at least one song."
    assert bulk(alice_client, "analyse").status_code == 400
    assert "Choose what to do" in said(bulk(alice_client, "burn", ten))
    wrong_model = bulk(alice_client, "separate", ten, model="no-such", format="wav")
    assert wrong_model.status_code == 400 and "no-such is not one of the available choices" in said(wrong_model)
    # Another's songs are not found for bob; a crate he may not see is not found.
    assert said(bulk(bob_client, "delete", ten)) == "Choose at least one song."
    crate = Crate.objects.create(owner=alice, name="Mine")
    assert bulk(bob_client, "crate", [track_row(bob)], crate=str(crate.uuid)).status_code == 404
    # Without script the form posts and the library says what happened.
    plain = alice_client.post("/library/bulk/", {"action": "analyse"}, follow=True)
    assert "Choose at least one song." in plain.content.decode()
    assert not Job.objects.exists() and Track.objects.count() == 11 and not CrateEntry.objects.exists()


def test_a_queue_push_is_sent_once_a_commit_and_not_lost_to_a_rollback(alice, django_capture_on_commit_callbacks,
                                                                         monkeypatch) -> None:
    from django.db import transaction

    from tracks.live import events

    sent: list[str] = []
    monkeypatch.setattr(events, "_send", lambda group, html: sent.append(group))
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                events.queue_changed(alice.pk)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        for _ in range(3):
            events.queue_changed(alice.pk)
    assert sent == [events.library_group(alice.pk)]
