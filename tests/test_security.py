"""Headers every page carries, and templates that keep to the CSP (no inline script, no inline handlers, no
<style> without the response's nonce)."""

from __future__ import annotations

import re
from pathlib import Path

import django_rq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_pages_carry_a_strict_csp_and_the_usual_headers(alice_client: Client) -> None:
    for response in (alice_client.get("/"), Client().get("/login/")):
        csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        # No inline script, no eval; WebAssembly compiles (the mixer's tempo and pitch worklet).
        assert csp["script-src"] == "'self' 'wasm-unsafe-eval'"
        assert csp["style-src"].startswith("'self'") and "unsafe-inline" not in csp["style-src"]
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        # A JSON data block (the API docs' settings) is never run: not a script to the CSP either.
        pattern = (r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>|<style(?![^>]*\bnonce=)[^>]*>"
                   r"|\s(on[a-z]+|hx-on[:\w-]*)=")
        for match in re.finditer(pattern, text):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert not offenders, offenders


@pytest.mark.django_db
def test_logins_lock_out_after_five_wrong_passwords(alice) -> None:
    from django.contrib.auth import get_user_model



    get_user_model().objects.create_user("carol@example.com", "carol@example.com", PASSWORD)
    client = Client()
    for attempt in range(1, 6):
        response = client.post("/login/", {"username": "alice@example.com", "password": "wrong"})
        assert response.status_code == (200 if attempt < 5 else 429)  # the form again, then the lockout
    locked = client.post("/login/", {"username": "alice@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another person at the same address is not locked out.
    assert client.post("/login/", {"username": "carol@example.com", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_uploads_are_rate_limited(alice_client: Client, c_major_wav: Path, settings, tmp_path: Path) -> None:
    from tests.audio import variant
    from tests.test_jobs import upload
    from tracks.models import Track

    settings.RATELIMIT_ENABLE = True
    settings.UPLOAD_RATE = "2/h"  # an hour's window: a minute's could turn over between two uploads
    upload(alice_client, variant(c_major_wav, 1, tmp_path))
    upload(alice_client, variant(c_major_wav, 2, tmp_path))
    third = variant(c_major_wav, 3, tmp_path).read_bytes()
    response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("c.wav", third)},
                                 HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 429
    assert "Too many uploads: 2 per h at most" in response.content.decode()
    assert Track.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_upload_over_the_storage_quota_is_refused_and_leaves_nothing(alice_client: Client, c_major_wav: Path,
                                                                      settings, tmp_path: Path) -> None:
    from tests.audio import variant
    from tests.test_jobs import upload
    from tracks.models import Track

    settings.USER_QUOTA_MB = 1
    size = c_major_wav.stat().st_size
    kept = [upload(alice_client, variant(c_major_wav, n, tmp_path)) for n in range(2**20 // size)]
    assert Track.objects.storage_used(kept[0].owner) == len(kept) * size
    folders = set((Path(settings.MEDIA_ROOT) / "tracks").iterdir())
    one_more = variant(c_major_wav, 99, tmp_path).read_bytes()
    response = alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("c.wav", one_more)},
                                 HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 413
    assert "Your storage is full" in response.content.decode()
    assert Track.objects.count() == len(kept)
    assert set((Path(settings.MEDIA_ROOT) / "tracks").iterdir()) == folders


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_pass_the_quota_together(alice, tmp_path: Path, settings) -> None:
    """Three uploads at once, room for two: each is counted against what the others stored."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from tests import audio
    from tracks.models import Track

    settings.USER_QUOTA_MB = 1
    song = audio.write_wav(tmp_path / "song.wav", audio.song("A", "minor", 100.0, 4.5, sr=44100), 44100)
    assert 2 * song.stat().st_size <= 2**20 < 3 * song.stat().st_size

    def send(n: int) -> int:
        client = Client()
        client.force_login(alice)
        try:
            return client.post("/tracks/upload/", {"file": SimpleUploadedFile(
                f"song {n}.wav", audio.variant(song, n, tmp_path).read_bytes())},
                               HTTP_X_REQUESTED_WITH="XMLHttpRequest").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(3) as pool:
        answers = sorted(pool.map(send, range(3)))
    assert answers == [201, 201, 413]
    assert Track.objects.filter(owner=alice).count() == 2
    assert len(list((Path(settings.MEDIA_ROOT) / "tracks").iterdir())) == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_person_may_have_only_so_many_jobs_at_once(alice_client: Client, c_major_wav: Path, run_worker,
                                                     settings, tmp_path: Path) -> None:
    """Past the limit a job waits its turn (not in Redis), and is queued once one of theirs ends; past the
    waiting list's limit, it is refused."""
    from tests.audio import variant
    from tests.test_jobs import upload
    from tracks.models import Job

    settings.MAX_ACTIVE_JOBS, settings.MAX_WAITING_JOBS = 2, 1
    first, second = (upload(alice_client, variant(c_major_wav, n, tmp_path)) for n in (1, 2))  # two analyses queued
    response = alice_client.post(f"/tracks/{first.uuid}/separate/", {"model": "dsp", "format": "wav"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Waiting its turn" in response.content.decode()
    waiting = Job.objects.get(kind=Job.Kind.SEPARATION, track=first)
    assert waiting.status == Job.Status.WAITING
    assert django_rq.get_queue("processing").fetch_job(waiting.rq_id) is None
    refused = alice_client.post(f"/tracks/{second.uuid}/separate/", {"model": "dsp", "format": "wav"},
                                HTTP_HX_REQUEST="true")
    assert refused.status_code == 429
    assert "You have 1 jobs waiting their turn" in refused.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.SEPARATION, track=second).exists()
    run_worker("analysis")  # both analyses end: the separation is queued
    waiting.refresh_from_db()
    assert waiting.status == Job.Status.QUEUED
    assert django_rq.get_queue("processing").fetch_job(waiting.rq_id) is not None
    assert second.jobs.count() == 1


@pytest.mark.django_db
def test_logs_hold_no_link_tokens_and_a_refusal_is_one_line(alice_client: Client, bob_client: Client,
                                                            c_major_wav: Path) -> None:
    """Through the configured handler: what an operator's log would show."""
    import io
    import logging

    from tracks.models import Comment, ShareLink, Track

    alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("song.wav", c_major_wav.read_bytes())},
                      HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    track = Track.objects.get()
    link = ShareLink.objects.create(track=track)
    alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "bob@example.com", "role": "viewer"})
    alice_client.post(f"/tracks/{track.uuid}/comments/", {"at": "1", "text": "mine"})
    comment = Comment.objects.get()
    handler = logging.getLogger().handlers[0]
    stream, handler.stream = handler.stream, io.StringIO()
    try:
        Client().get(f"/s/{link.token}x/")  # no such link: "Not Found: /s/<token>/"
        refused = bob_client.post(f"/tracks/{track.uuid}/comments/{comment.uuid}/", {"text": "not yours"})
        written = handler.stream.getvalue()
    finally:
        handler.stream = stream
    assert "Not Found: /s/[token]/" in written and link.token not in written
    assert refused.status_code == 403 and "Forbidden (Permission denied): /tracks/" in written
    assert "Traceback" not in written


@pytest.mark.django_db
def test_pages_and_files_are_private_to_caches(alice_client: Client, c_major_wav: Path) -> None:
    from tracks.models import ShareLink, Track

    alice_client.post("/tracks/upload/", {"file": SimpleUploadedFile("song.wav", c_major_wav.read_bytes())},
                      HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    track = Track.objects.get()
    guest = Client()
    guest.get(f"/s/{ShareLink.objects.create(track=track, allow_downloads=True).token}/")
    page = f"/tracks/{track.uuid}/"
    for client, url in ((alice_client, "/"), (alice_client, page), (guest, page), (Client(), "/login/")):
        directives = {d.strip() for d in client.get(url)["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives, url
    for client in (alice_client, guest):
        audio = client.get(f"/tracks/{track.uuid}/audio/")
        assert audio.status_code == 200 and "private" in audio["Cache-Control"]


@pytest.mark.django_db
def test_sign_ups_and_log_ins_are_limited_per_client_address(alice, settings) -> None:
    """Password spraying: many accounts tried from one address are stopped, whatever each account's count."""
    from django.core.cache import caches

    caches["ratelimit"].clear()
    settings.RATELIMIT_ENABLE = True
    settings.SIGNUP_RATE, settings.LOGIN_RATE = "2/h", "3/h"
    client = Client()
    answers = [client.post("/signup/", {"email": f"s{i}@example.com", "display_name": f"S{i}", "password1": "x" * 20,
                                        "password2": "x" * 20}).status_code for i in range(3)]
    assert answers == [302, 302, 429]
    tries = [client.post("/login/", {"username": f"u{i}@example.com", "password": "wrong"}) for i in range(3)]
    assert [t.status_code for t in tries] == [200, 200, 200]  # wrong passwords for three different accounts
    blocked = client.post("/login/", {"username": "alice@example.com", "password": PASSWORD})
    assert blocked.status_code == 429 and "Too many log-in attempts" in blocked.content.decode()
    assert Client(REMOTE_ADDR="10.0.0.2").post("/login/", {"username": "alice@example.com",
                                                            "password": PASSWORD}).status_code == 302



@pytest.mark.django_db(transaction=True)
def test_a_separation_that_would_pass_the_quota_is_refused_before_it_runs(alice_client: Client, c_major_wav: Path,
                                                                         settings) -> None:
    """12 s of song: four 16-bit stereo WAV stems take 8.1 MiB, four MP3 stems 1.8 MiB."""
    from tests.test_jobs import upload
    from tracks.models import Job

    track = upload(alice_client, c_major_wav)
    settings.USER_QUOTA_MB = 3
    url = f"/tracks/{track.uuid}/separate/"
    refused = alice_client.post(url, {"model": "dsp", "format": "wav"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 413 and "this separation needs 8.1 MB" in refused.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.SEPARATION).exists()
    assert alice_client.post(url, {"model": "dsp", "format": "mp3"}, HTTP_HX_REQUEST="true").status_code == 200
    assert Job.objects.filter(kind=Job.Kind.SEPARATION).count() == 1
