"""Accounts, pages and the access rule: every page needs a login; strangers cannot see a track."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import PASSWORD
from tracks.models import Track


@pytest.fixture
def track(alice_client: Client, c_major_wav: Path) -> Track:
    response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("song.wav", c_major_wav.read_bytes())},
                                 HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 201
    return Track.objects.get()


def link_in(message: object) -> str:
    return re.search(r"http://testserver(/\S+/)", message.body)[1]


@pytest.mark.django_db
def test_sign_up_verifies_the_address_through_the_mail(client: Client, mailoutbox: list) -> None:
    response = client.post("/signup/", {"email": "Dana@Example.com", "display_name": " Dana  B ", "password1": PASSWORD,
                                        "password2": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/signup/sent/"
    assert "dana@example.com" in client.get("/signup/sent/").content.decode()
    user = get_user_model().objects.get()
    assert user.username == user.email == "dana@example.com" and user.profile.display_name == "Dana B"
    assert not user.profile.email_verified and client.get("/").status_code == 302  # not in yet
    (mail,) = mailoutbox
    assert mail.to == ["dana@example.com"] and "verify" in mail.subject.lower()
    assert client.get(link_in(mail)).status_code == 302
    user.profile.refresh_from_db()
    assert user.profile.email_verified
    page = client.get("/").content.decode()
    assert "Your library" in page and ">Dana B</a>" in page
    client.post("/logout/")
    assert client.get(link_in(mail)).status_code == 400  # used


@pytest.mark.django_db
def test_sign_up_rejects_weak_and_mismatched_and_answers_the_same_for_a_taken_address(
        client: Client, alice, mailoutbox: list) -> None:
    form = {"email": "e@example.com", "display_name": "Eve"}
    weak = client.post("/signup/", {**form, "password1": "123", "password2": "123"})
    assert "too short" in weak.content.decode()
    differ = client.post("/signup/", {**form, "password1": PASSWORD, "password2": PASSWORD + "x"})
    assert "The two passwords differ." in differ.content.decode()
    for name, error in (("ALICE", "already has that name"), ("e@example.com", "never your email"), ("x", "2 to 40")):
        taken = client.post("/signup/", {**form, "display_name": name, "password1": PASSWORD, "password2": PASSWORD})
        assert error in taken.content.decode(), name
    assert mailoutbox == []
    # An address with an account: the same answer as a new one; the mail tells its owner.
    fresh = client.post("/signup/", {**form, "password1": PASSWORD, "password2": PASSWORD})
    dup = client.post("/signup/", {**form, "email": "ALICE@example.com", "display_name": "Al2", "password1": PASSWORD,
                                   "password2": PASSWORD})
    assert (dup.status_code, dup["Location"]) == (fresh.status_code, fresh["Location"]) == (302, "/signup/sent/")
    assert [m.to for m in mailoutbox] == [["e@example.com"], ["alice@example.com"]]
    assert "already has an account" in mailoutbox[1].body and "/password-reset/" in mailoutbox[1].body
    assert get_user_model().objects.count() == 2
    assert alice.check_password(PASSWORD)  # nothing changed for Alice


@pytest.mark.django_db
def test_log_in_and_out(client: Client, alice) -> None:
    bad = client.post("/login/", {"username": "alice@example.com", "password": "wrong"})
    assert bad.status_code == 200 and "correct" in bad.content.decode()
    good = client.post("/login/", {"username": "Alice@Example.com", "password": PASSWORD})
    assert good.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405  # log out is a POST (CSRF-protected)
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_csrf_is_enforced(alice) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/tracks/upload/", {"file": SimpleUploadedFile("a.mp3", b"x")}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/tracks/{uuid}/", "/tracks/{uuid}/audio/"])
def test_pages_need_a_login(client: Client, track: Track, path: str) -> None:
    response = client.get(path.format(uuid=track.uuid))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_login_signup_and_static_files_are_open(client: Client) -> None:
    assert client.get("/login/").status_code == 200
    assert client.get("/signup/").status_code == 200


@pytest.mark.django_db
def test_the_owner_sees_the_track_and_its_file(alice_client: Client, track: Track, c_major_wav: Path) -> None:
    page = alice_client.get(f"/tracks/{track.uuid}/")
    assert page.status_code == 200
    assert f"/ws/tracks/{track.uuid}/" in page.content.decode()
    audio = alice_client.get(f"/tracks/{track.uuid}/audio/")
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content) == c_major_wav.read_bytes()
    download = alice_client.get(f"/tracks/{track.uuid}/audio/?download=1")
    assert 'attachment; filename="song.wav"' in download["Content-Disposition"]


@pytest.mark.django_db
def test_the_audio_supports_ranges_for_seeking(alice_client: Client, track: Track, c_major_wav: Path) -> None:
    data = c_major_wav.read_bytes()
    part = alice_client.get(f"/tracks/{track.uuid}/audio/", HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]
    tail = alice_client.get(f"/tracks/{track.uuid}/audio/", HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == data[-10:]
    open_ended = alice_client.get(f"/tracks/{track.uuid}/audio/", HTTP_RANGE=f"bytes={len(data) - 5}-")
    assert b"".join(open_ended.streaming_content) == data[-5:]
    beyond = alice_client.get(f"/tracks/{track.uuid}/audio/", HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/tracks/{uuid}/"),
        ("get", "/tracks/{uuid}/audio/"),
        ("post", "/tracks/{uuid}/analyse/"),
        ("post", "/tracks/{uuid}/delete/"),
    ],
)
def test_a_stranger_gets_404_everywhere(charlie_client: Client, track: Track, method: str, path: str) -> None:
    response = getattr(charlie_client, method)(path.format(uuid=track.uuid))
    assert response.status_code == 404
    assert "not yours to see" in response.content.decode()
    assert Track.objects.filter(pk=track.pk).exists()
    assert track.jobs.count() == 1


@pytest.mark.django_db
def test_a_stranger_does_not_see_the_track_in_their_library(charlie_client: Client, track: Track) -> None:
    page = charlie_client.get("/").content.decode()
    assert str(track.uuid) not in page
    assert "No songs yet" in page


def test_the_page_says_when_there_is_no_tempo_and_no_clear_key(alice_client: Client, track: Track) -> None:
    from tracks.models import AnalysisResult, Job

    job = Job.objects.create(track=track, kind=Job.Kind.ANALYSIS, status=Job.Status.SUCCEEDED)
    key = {"key": "C", "mode": "minor", "confidence": 0.05, "clear": False,
           "candidates": [{"key": "C", "mode": "minor", "score": 0.55}, {"key": "F", "mode": "minor", "score": 0.54}]}
    result = AnalysisResult.record(job, {"analyzer_version": "3", "tempo": None, "beats": [], "key": key})
    assert result.tempo is None and result.key_label == ""
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "no steady tempo" in page
    assert "unclear" in page and "C minor or F minor?" in page


@pytest.mark.django_db
def test_people_appear_by_display_name_and_link_holders_never_see_an_address(
        alice_client: Client, bob_client: Client, bob, track: Track) -> None:
    from tracks.live import panels
    from tracks.models import ShareLink

    assert alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "BOB", "role": "viewer"}).status_code == 302
    assert track.shares.get().user == bob  # shared by display name
    bob_client.post("/account/", {"display_name": "Bobby Tables"})
    bob_client.post(f"/tracks/{track.uuid}/comments/", {"at": "2", "text": "nice bridge"})
    alice_client.post(f"/tracks/{track.uuid}/comments/", {"at": "3", "text": "thanks"})
    guest = Client()
    guest.get(f"/s/{ShareLink.objects.create(track=track).token}/")
    page = guest.get(f"/tracks/{track.uuid}/").content.decode()
    pushed = panels.render(track, panels.LIVE)
    for html in (page, pushed):
        assert "Bobby Tables" in html and "nice bridge" in html
        assert "@example.com" not in html
    owner_page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "bob@example.com" not in owner_page and "Bobby Tables" in owner_page  # shared by name: no address
    assert "Bobby Tables" in bob_client.get("/account/").content.decode()
    assert "already has that name" in bob_client.post("/account/", {"display_name": "alice"}).content.decode()


@pytest.mark.django_db
def test_a_forgotten_password_is_reset_through_the_mail(alice, mailoutbox: list) -> None:
    client = Client()
    for address in ("nobody@example.com", "alice@example.com"):  # the same answer either way
        response = client.post("/password-reset/", {"email": address})
        assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    (mail,) = mailoutbox
    assert mail.to == ["alice@example.com"]
    form = client.get(link_in(mail), follow=True)
    assert "Set a new password" in form.content.decode()
    new = "a-brand-new-passphrase-42"
    done = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert done.status_code == 302 and done["Location"] == "/reset/done/"
    assert client.post("/login/", {"username": "alice@example.com", "password": new}).status_code == 302


@pytest.mark.django_db
def test_form_errors_are_tied_to_their_fields(client) -> None:
    """A screen reader reading a field hears its error: every id an invalid field's aria-describedby names is
    on the page, holding the error."""
    page = client.post("/signup/", {"email": "not-an-address", "display_name": "", "password1": "a",
                                    "password2": "b"}).content.decode()
    described = re.findall(r'aria-invalid="true"[^>]*aria-describedby="([^"]+)"', page)
    assert len(described) >= 2
    for ids in described:
        for element_id in ids.split():
            assert re.search(rf'id="{element_id}"[^>]*>[^<]+', page), element_id


@pytest.mark.django_db
def test_the_chord_chart_and_the_follow_panel_show_the_songs_bars_and_sections(alice, alice_client: Client,
                                                                               bob_client: Client) -> None:
    import json

    from tests.helpers import track_row
    from tests.test_charts import SONG
    from tracks.models import AnalysisResult

    song = track_row(alice, title="Night Drive", duration=17.0)
    empty = alice_client.get(f"/tracks/{song.uuid}/chart/").content.decode()
    assert "No chords yet" in empty
    AnalysisResult.objects.create(track=song, data={**SONG, "tempo": 120.0, "meter": {"beats_per_bar": 4}},
                                  analyzer_version="3", tempo=120.0, key_label="C major")
    page = alice_client.get(f"/tracks/{song.uuid}/chart/").content.decode()
    assert "120.0 BPM · C major · 4/4" in page
    headings = re.findall(r"<h2>([^<]+?) <span", page)
    assert headings == ["Intro (A)", "B"]
    rows = re.findall(r'<ol class="chart-row" start="(\d+)">(.*?)</ol>', page)
    assert [start for start, _ in rows] == ["0", "3", "7"]
    assert [len(re.findall("<li", bars)) for _, bars in rows] == [3, 4, 2]
    assert "F  G7" in rows[1][1]
    assert "Transposed" not in page
    # As the mixer transposes it (its link carries the semitones): every chord and the key moved, and said.
    down = alice_client.get(f"/tracks/{song.uuid}/chart/?transpose=-2").content.decode()
    assert "120.0 BPM · A# major · 4/4" in down and "Transposed \u22122 semitones from C major" in down
    moved = re.findall(r'<ol class="chart-row" start="(\d+)">(.*?)</ol>', down)
    assert "D#  F7" in moved[1][1] and "Gm" in moved[0][1] and "N" in moved[0][1]  # no chord stays none
    assert "Transposed +1 semitone from" in alice_client.get(f"/tracks/{song.uuid}/chart/?transpose=1").content.decode()
    for wrong in ("13", "-13", "1.5", "up"):
        refused = alice_client.get(f"/tracks/{song.uuid}/chart/?transpose={wrong}")
        assert refused.status_code == 400 and b"from -12 to 12" in refused.content, wrong
    assert bob_client.get(f"/tracks/{song.uuid}/chart/").status_code == 404  # not shared with him

    detail = alice_client.get(f"/tracks/{song.uuid}/").content.decode()
    follow = json.loads(re.search(r'<script id="follow-data" type="application/json">(.*?)</script>', detail,
                                  re.S)[1])
    assert follow["sections"][0] == [0.0, 5.0, "Intro (A)"] and follow["bars"][1] == [1.0, 1]
    assert f'href="/tracks/{song.uuid}/chart/"' in detail


def test_a_library_rows_delete_answers_htmx_and_the_push_takes_the_row(alice_client, alice) -> None:
    from tests.helpers import track_row
    from tracks.models import Track

    track = track_row(alice)
    library = alice_client.get("/").content.decode()
    assert f'hx-post="/tracks/{track.uuid}/delete/"' in library and "hx-confirm=" in library
    answer = alice_client.post(f"/tracks/{track.uuid}/delete/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and answer["HX-Reswap"] == "none" and not Track.objects.exists()
