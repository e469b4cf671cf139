"""Sharing: roles, links, the library's "Shared with me", and one table of who gets what from every route."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from tests import audio
from tests.conftest import PASSWORD
from tests.helpers import track_row
from tests.test_jobs import upload
from tracks.files import storage
from tracks.models import (
    Activity,
    AnalysisResult,
    ApiToken,
    Comment,
    Crate,
    CrateEntry,
    CrateLink,
    CrateShare,
    Cue,
    Job,
    Share,
    ShareLink,
    Stem,
    Track,
    Upload,
    Webhook,
)


@pytest.fixture
def song(tmp_path: Path, c_major_wav: Path) -> Path:
    return c_major_wav


def separated_track(owner: object, path: Path, previews: bool = True) -> Track:
    """A track row whose original is ``path`` (no upload: these tests are about who may reach what) with a
    finished separation: two short stems written where the port would write them, and (unless not
    ``previews``) the previews the worker makes, whose bytes say what they are."""
    track = track_row(owner, size=path.stat().st_size)
    storage.track_path(track).parent.mkdir(parents=True)
    shutil.copyfile(path, storage.track_path(track))
    job = Job.objects.create(track=track, kind=Job.Kind.SEPARATION, status=Job.Status.SUCCEEDED,
                             options={"model": "dsp", "format": "wav"})
    folder = storage.stems_dir(job)
    folder.mkdir(parents=True)
    for name in ("drums", "vocals"):
        path = folder / f"{name}.wav"
        sf.write(path, np.zeros((22050, 2), dtype="float32"), 22050, subtype="PCM_16")
        stem = Stem.objects.create(track=track, job=job, name=name, model="dsp", format="wav",
                                   file=str(path.relative_to(storage.track_dir(track.uuid).parent.parent)),
                                   duration=1.0, size=path.stat().st_size)
        if previews:
            stem.preview = storage.preview_name(stem.file)
            Path(default_storage.path(stem.preview)).write_bytes(b"preview of " + name.encode())
            stem.save()
    if previews:
        track.preview = storage.preview_name(track.file)
        Path(default_storage.path(track.preview)).write_bytes(b"preview of the song")
        track.save()
    return track


def played(response: object) -> bytes:
    return b"".join(response.streaming_content)


def link_client(link: ShareLink) -> Client:
    client = Client()
    assert client.get(f"/s/{link.token}/").status_code == 302
    return client


def test_the_owner_shares_changes_the_role_and_revokes(alice_client: Client, alice, bob_client: Client, bob) -> None:
    track = track_row(alice)
    assert bob_client.get(f"/tracks/{track.uuid}/").status_code == 404
    response = alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "BOB@example.com", "role": "viewer"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "bob@example.com" in response.content.decode()
    share = Share.objects.get(track=track, user=bob)
    assert share.role == "viewer"
    page = bob_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "Shared with you by alice as viewer" in page
    assert "Re-run analysis" not in page and "Separate into stems" not in page
    assert "Shared with me" in bob_client.get("/").content.decode()
    assert bob_client.post(f"/tracks/{track.uuid}/analyse/").status_code == 403

    alice_client.post(f"/tracks/{track.uuid}/shares/{share.pk}/", {"role": "editor"}, HTTP_HX_REQUEST="true")
    assert "Re-run analysis" in bob_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert bob_client.post(f"/tracks/{track.uuid}/analyse/").status_code == 302
    assert bob_client.post(f"/tracks/{track.uuid}/delete/").status_code == 403  # the owner's alone

    alice_client.post(f"/tracks/{track.uuid}/shares/{share.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert bob_client.get(f"/tracks/{track.uuid}/").status_code == 404
    assert "Shared with me" not in bob_client.get("/").content.decode()


def test_it_refuses_unknown_names_and_the_owner(alice_client: Client, alice) -> None:
    track = track_row(alice)
    for who, message in (("nobody", "No one has that display name"), ("alice@example.com", "That is you"),
                         ("alice", "That is you"), ("not@an@address", "valid email")):
        response = alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": who, "role": "viewer"},
                                     HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and message in response.content.decode(), who
    assert not Share.objects.exists()


def test_an_address_without_an_account_is_invited_and_answered_like_any_other(
        alice_client: Client, alice, bob, mailoutbox: list) -> None:
    """Whether an address has an account must not show: both shares answer alike, the mails differ. The
    invited address gets the track once it signs up and verifies (the whole flow, through the outbox)."""
    track = track_row(alice)
    answers = [alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": who, "role": "viewer"},
                                 HTTP_HX_REQUEST="true") for who in ("bob@example.com", "dana@example.com")]
    assert [a.status_code for a in answers] == [200, 200]
    rows = re.findall(r'<li id="share-\d+">.*?</li>', answers[1].content.decode(), re.S)
    assert len(rows) == 2 and "dana@example.com" in rows[1]
    same = [re.sub(r"\b(bob|dana)@example.com\b|\b\d+\b", "_", row) for row in rows]
    assert same[0] == same[1]  # the same row, but for the address and its number
    assert Share.objects.get(user=bob).track == track and Share.objects.get(email="dana@example.com").user is None
    assert [m.to for m in mailoutbox] == [["bob@example.com"], ["dana@example.com"]]
    assert f"/tracks/{track.uuid}/" in mailoutbox[0].body and "/signup/" in mailoutbox[1].body

    dana = Client()
    dana.post("/signup/", {"email": "Dana@example.com", "display_name": "Dana", "password1": PASSWORD,
                           "password2": PASSWORD})
    assert dana.get(f"/tracks/{track.uuid}/").status_code == 302  # not signed in before verifying
    link = re.search(r"http://testserver(/verify/\S+/)", mailoutbox[-1].body)[1]
    assert dana.get(link).status_code == 302
    assert dana.get(f"/tracks/{track.uuid}/").status_code == 200
    assert "Shared with me" in dana.get("/").content.decode()
    assert Share.objects.get(email="dana@example.com").user.email == "dana@example.com"


def test_an_unverified_account_gets_no_share_until_it_verifies(alice_client: Client, alice,
                                                              mailoutbox: list) -> None:
    track = track_row(alice)
    Client().post("/signup/", {"email": "erin@example.com", "display_name": "Erin", "password1": PASSWORD,
                               "password2": PASSWORD})
    by_name = alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "Erin", "role": "viewer"},
                                HTTP_HX_REQUEST="true")
    assert by_name.status_code == 400 and "not verified" in by_name.content.decode()
    alice_client.post(f"/tracks/{track.uuid}/shares/", {"who": "erin@example.com", "role": "editor"})
    erin = get_user_model().objects.get(email="erin@example.com")
    assert not Share.objects.filter(user=erin).exists()  # waiting for the address, not given to whoever typed it
    assert "Sign up" in mailoutbox[-1].body


def test_a_link_shows_the_page_and_nothing_else(alice_client: Client, alice, song: Path) -> None:
    track = separated_track(alice, song)
    response = alice_client.post(f"/tracks/{track.uuid}/links/", {"expires_in_days": "7"}, HTTP_HX_REQUEST="true")
    link = ShareLink.objects.get(track=track)
    assert f"/s/{link.token}/" in response.content.decode()
    assert len(link.token) >= 40 and link.expires > timezone.now() + timedelta(days=6)
    guest = Client()
    assert guest.get(f"/tracks/{track.uuid}/").status_code == 302  # no link yet: log in
    opened = guest.get(f"/s/{link.token}/")
    assert opened.status_code == 302 and opened["Location"] == f"/tracks/{track.uuid}/"
    page = guest.get(f"/tracks/{track.uuid}/").content.decode()
    assert track.title in page and 'class="strip"' in page and "read-only no-downloads" in page
    assert "Separate into stems" not in page and "Sharing" not in page
    stem = track.stems.first()
    # The mixer and the player play the previews; nothing hands out the original or a lossless stem.
    assert played(guest.get(f"/tracks/{track.uuid}/stems/{stem.uuid}/")) == b"preview of drums"
    assert played(guest.get(f"/tracks/{track.uuid}/audio/")) == b"preview of the song"
    assert guest.get(f"/tracks/{track.uuid}/audio/", HTTP_RANGE="bytes=0-").status_code == 206
    assert guest.get(f"/tracks/{track.uuid}/stems/{stem.uuid}/?download=1").status_code == 403
    assert guest.get(f"/tracks/{track.uuid}/audio/?download=1").status_code == 403
    assert "listen only (preview quality)" in alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert guest.get("/").status_code == 302

    link.revoke()
    assert guest.get(f"/tracks/{track.uuid}/").status_code == 404
    assert Client().get(f"/s/{link.token}/").status_code == 404


def test_an_expired_link_is_a_plain_404(alice_client: Client, alice) -> None:
    track = track_row(alice)
    link = ShareLink.objects.create(track=track, expires=timezone.now() + timedelta(hours=1))
    guest = link_client(link)
    ShareLink.objects.filter(pk=link.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert guest.get(f"/tracks/{track.uuid}/").status_code == 404
    assert Client().get(f"/s/{link.token}/").status_code == 404
    assert Client().get("/s/not-a-token/").status_code == 404


@pytest.mark.slow
def test_timed_comments_by_those_it_is_shared_with(alice_client: Client, bob_client: Client, bob, charlie,
                                                    song: Path) -> None:
    track = upload(alice_client, song)  # its activity opens with the upload
    Share.objects.create(track=track, user=bob, role="viewer")
    Share.objects.create(track=track, user=charlie, role="viewer")
    add = f"/tracks/{track.uuid}/comments/"
    response = bob_client.post(add, {"at": "2.5", "text": "<script>alert(1)</script> the <b>snare</b>"},
                               HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "0:02" in html and 'cx="208.3"' in html  # 2.5 s of 12 s along the timeline
    comment = Comment.objects.get()
    assert (comment.author, comment.at) == (bob, 2.5)
    assert bob_client.post(add, {"at": "13", "text": "after the end"}).status_code == 400
    assert bob_client.post(add, {"at": "1", "text": "x" * 1001}).status_code == 400
    assert bob_client.post(add, {"at": "-1", "text": "before"}).status_code == 400

    carol = Client()
    carol.force_login(charlie)
    edit, delete = f"{add}{comment.uuid}/", f"{add}{comment.uuid}/delete/"
    assert carol.post(edit, {"text": "not mine"}).status_code == 403
    assert carol.post(delete).status_code == 403
    assert alice_client.post(edit, {"text": "not mine either"}).status_code == 403
    assert bob_client.post(edit, {"text": "tighter snare"}).status_code == 302
    comment.refresh_from_db()
    assert comment.text == "tighter snare" and comment.edited is not None
    assert alice_client.post(delete).status_code == 302  # the owner moderates
    assert not Comment.objects.exists()
    verbs = list(Activity.objects.filter(track=track).values_list("verb", flat=True))
    assert verbs == ["commented", "uploaded"]
    page = alice_client.get(f"/tracks/{track.uuid}/").content.decode()
    assert "bob</b> commented at 0:02" in page and "uploaded the track" in page
    guest = link_client(ShareLink.objects.create(track=track))
    assert "@example.com" not in guest.get(f"/tracks/{track.uuid}/").content.decode()  # no addresses to links


def body_of(response: object) -> bytes:
    """What a response sends, streamed or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


# -- the access table ------------------------------------------------------------------------------------------

ACTORS = ("owner", "editor", "viewer", "stranger", "anonymous", "link", "link_downloads", "link_revoked",
          "link_expired")
VIEW = {"owner": 200, "editor": 200, "viewer": 200, "stranger": 404, "anonymous": 302, "link": 200,
        "link_downloads": 200, "link_revoked": 404, "link_expired": 404}
DOWNLOAD = {**VIEW, "link": 403}
EDIT = {"owner": 302, "editor": 302, "viewer": 403, "stranger": 404, "anonymous": 302, "link": 302,
        "link_downloads": 302, "link_revoked": 302, "link_expired": 302}
MANAGE = {**EDIT, "editor": 403}
COMMENT = {**EDIT, "viewer": 302}
ACCOUNT = {"owner": 200, "editor": 200, "viewer": 200, "stranger": 200, "anonymous": 302, "link": 302,
           "link_downloads": 302, "link_revoked": 302, "link_expired": 302}
OWN_ACCOUNT_MADE = dict.fromkeys(("owner", "editor", "viewer", "stranger"), 302)  # to the page that shows it
OWN_ACCOUNT_REFUSED = dict.fromkeys(("owner", "editor", "viewer", "stranger"), 400)  # a form's errors
OWNERS_OWN = {**ACCOUNT, "owner": 302, "editor": 404, "viewer": 404, "stranger": 404}
OWNERS_OWN_PAGE = {**OWNERS_OWN, "owner": 200}
# The access world's crate is shared with the editor as its editor and with the viewer as its viewer.
CRATE_VIEW = {**OWNERS_OWN_PAGE, "editor": 200, "viewer": 200}
CRATE_EDIT = {**OWNERS_OWN, "editor": 302, "viewer": 403}
CRATE_MANAGE = {**OWNERS_OWN, "editor": 403, "viewer": 403}
# A track's link does not open a crate (the crate's own link does: tests/test_crates.py).
CRATE_PAGE = {**CRATE_VIEW, **dict.fromkeys(("link", "link_downloads", "link_revoked", "link_expired"), 404)}
SIGNED_IN_AWAY = {a: 302 if a in ("owner", "editor", "viewer", "stranger") else 200 for a in ACTORS}
EVERYONE_REDIRECTED = dict.fromkeys(ACTORS, 302)

# route name -> (method, url template, data, expected status per actor)
TABLE = {
    # Open to all; unhealthy here, since no worker runs beside these tests (tests/test_health.py has one).
    "healthz": ("get", "/healthz/", {}, dict.fromkeys(ACTORS, 503)),
    "signup": ("get", "/signup/", {}, SIGNED_IN_AWAY),
    "signup-sent": ("get", "/signup/sent/", {}, dict.fromkeys(ACTORS, 200)),
    # A link that is wrong (these are) is refused whoever opens it.
    "verify": ("get", "/verify/MQ/0-0/", {}, dict.fromkeys(ACTORS, 400)),
    "password_reset": ("get", "/password-reset/", {}, dict.fromkeys(ACTORS, 200)),
    "password_reset_done": ("get", "/password-reset/sent/", {}, dict.fromkeys(ACTORS, 200)),
    "password_reset_confirm": ("get", "/reset/MQ/0-0/", {}, dict.fromkeys(ACTORS, 200)),  # says it does not work
    "password_reset_complete": ("get", "/reset/done/", {}, dict.fromkeys(ACTORS, 200)),
    "login": ("get", "/login/", {}, SIGNED_IN_AWAY),
    "logout": ("post", "/logout/", {}, EVERYONE_REDIRECTED),
    "library": ("get", "/", {}, ACCOUNT),
    "account": ("get", "/account/", {}, ACCOUNT),
    # Tokens and webhooks are each person's own: anyone signed in makes theirs; only their owner (alice, here)
    # revokes or removes one, the rest are told there is no such thing.
    "token-add": ("post", "/account/tokens/", {"name": "laptop", "scope": "read"}, {**ACCOUNT, **OWN_ACCOUNT_MADE}),
    "token-revoke": ("post", "/account/tokens/{token}/revoke/", {}, OWNERS_OWN),
    "webhook-add": ("post", "/account/webhooks/", {"url": "not a url"}, {**ACCOUNT, **OWN_ACCOUNT_REFUSED}),
    "webhook-delete": ("post", "/account/webhooks/{webhook}/delete/", {}, OWNERS_OWN),
    "library-rekordbox": ("get", "/rekordbox.xml", {}, ACCOUNT),
    "upload": ("post", "/tracks/upload/", {}, {**ACCOUNT, **{a: 302 for a in ACTORS}}),
    # Each person's own choice of songs and queue: what each may do to each song is tests/test_bulk.py's.
    "library-bulk": ("post", "/library/bulk/", {"action": "analyse"}, {**ACCOUNT, **{a: 302 for a in ACTORS}}),
    "queue-cancel": ("post", "/library/queue/cancel/", {}, {**ACCOUNT, **{a: 302 for a in ACTORS}}),
    "track": ("get", "/tracks/{track}/", {}, VIEW),
    "track-controls": ("get", "/tracks/{track}/controls/", {}, VIEW),
    "track-audio": ("get", "/tracks/{track}/audio/?download=1", {}, DOWNLOAD),
    "track-tagged": ("get", "/tracks/{track}/tagged/", {}, DOWNLOAD),
    "track-cover": ("get", "/tracks/{track}/cover.jpg", {}, VIEW),
    "track-analyse": ("post", "/tracks/{track}/analyse/", {}, EDIT),
    "analysis-export": ("get", "/tracks/{track}/analysis.csv", {}, DOWNLOAD),
    "track-delete": ("post", "/tracks/{track}/delete/", {}, MANAGE),
    "track-separate": ("post", "/tracks/{track}/separate/", {"model": "dsp", "format": "wav"}, EDIT),
    "job-cancel": ("post", "/tracks/{track}/jobs/{job}/cancel/", {}, EDIT),
    "stem-file": ("get", "/tracks/{track}/stems/{stem}/", {}, VIEW),
    "track-chart": ("get", "/tracks/{track}/chart/", {}, VIEW),
    "stems-zip": ("get", "/tracks/{track}/separations/{job}/zip/", {}, DOWNLOAD),
    "stems-mix": ("get", "/tracks/{track}/separations/{job}/mix/", {}, DOWNLOAD),
    "stems-loop": ("get", "/tracks/{track}/separations/{job}/loop/?first=1&last=1&what=drums", {}, DOWNLOAD),
    "stems-loops": ("get", "/tracks/{track}/separations/{job}/loops/", {}, DOWNLOAD),
    # A render is a download a worker makes: for signed-in people who may download (a link holder signs in).
    "stems-render": ("post", "/tracks/{track}/separations/{job}/render/", {"rate": "0.8"},
                     {**EDIT, "viewer": 302}),
    "render-file": ("get", "/tracks/{track}/renders/{render}/", {}, DOWNLOAD),
    # So is a transcription; its notes play on every page, its .mid is a download.
    "stems-transcribe": ("post", "/tracks/{track}/separations/{job}/transcribe/", {"stems": "vocals"},
                         {**EDIT, "viewer": 302}),
    "stem-midi": ("get", "/tracks/{track}/separations/{job}/midi/vocals.mid", {}, DOWNLOAD),
    "share-add": ("post", "/tracks/{track}/shares/", {"who": "charlie@example.com"}, MANAGE),
    "share-update": ("post", "/tracks/{track}/shares/{share}/", {"role": "viewer"}, MANAGE),
    "share-revoke": ("post", "/tracks/{track}/shares/{share}/revoke/", {}, MANAGE),
    "link-add": ("post", "/tracks/{track}/links/", {}, MANAGE),
    "link-revoke": ("post", "/tracks/{track}/links/{link}/revoke/", {}, MANAGE),
    "link-open": ("get", "/s/{link}/", {}, EVERYONE_REDIRECTED),
    "track-details": ("post", "/tracks/{track}/details/", {"title": "New name", "artist": "Them"}, EDIT),
    # Crates are their owner's: anyone else is told there is none; anyone signed in lists and makes their own.
    "crates": ("get", "/crates/", {}, ACCOUNT),
    "crate-add": ("post", "/crates/add/", {"name": ""}, {**ACCOUNT, **OWN_ACCOUNT_REFUSED}),
    "crate": ("get", "/crates/{crate}/", {}, CRATE_PAGE),
    "crate-link-add": ("post", "/crates/{crate}/links/", {}, CRATE_MANAGE),
    "crate-link-revoke": ("post", "/crates/{crate}/links/{crate_link}/revoke/", {}, CRATE_MANAGE),
    "crate-link-open": ("get", "/c/{crate_link}/", {}, EVERYONE_REDIRECTED),  # to the crate's page
    "crate-edit": ("post", "/crates/{crate}/edit/", {"name": "Encore"}, CRATE_MANAGE),
    "crate-delete": ("post", "/crates/{crate}/delete/", {}, CRATE_MANAGE),
    "crate-put": ("post", "/crates/put/", {}, CRATE_EDIT),  # alice's crate and track
    "crate-remove": ("post", "/crates/{crate}/entries/{entry}/remove/", {}, CRATE_EDIT),
    "crate-order": ("post", "/crates/{crate}/order/", {}, CRATE_EDIT),  # the entry's id as the order
    "crate-agree": ("post", "/crates/{crate}/entries/{entry}/agree/", {}, CRATE_EDIT),  # a form: Clear
    "crate-share": ("post", "/crates/{crate}/shares/", {"who": ""}, {**CRATE_MANAGE, "owner": 400}),
    "crate-share-update": ("post", "/crates/{crate}/shares/{crate_share}/", {"role": "editor"}, CRATE_MANAGE),
    "crate-m3u": ("get", "/crates/{crate}/playlist.m3u8", {}, CRATE_VIEW),
    "crate-rekordbox": ("get", "/crates/{crate}/rekordbox.xml", {}, CRATE_VIEW),
    # Each person's own settings: anyone signed in who may see the track (an empty body: refused, once let in).
    "track-practice": ("post", "/tracks/{track}/practice/", {}, {**EDIT, "owner": 400, "editor": 400, "viewer": 400}),
    "track-tempo": ("post", "/tracks/{track}/tempo/", {"step": "2"}, EDIT),
    "comment-add": ("post", "/tracks/{track}/comments/", {"at": "1.5", "text": "hi"}, COMMENT),
    # The comment is the owner's: only its author edits it; the owner and editors may delete it.
    "comment-edit": ("post", "/tracks/{track}/comments/{comment}/", {"text": "edited"}, MANAGE),
    "comment-delete": ("post", "/tracks/{track}/comments/{comment}/delete/", {}, EDIT),
    "cue-add": ("post", "/tracks/{track}/cues/", {"at": "0.5", "name": "Drop", "colour": "red"}, EDIT),
    "cue-edit": ("post", "/tracks/{track}/cues/{cue}/", {"at": "0.5", "name": "Drop", "colour": "red"}, EDIT),
    "cue-delete": ("post", "/tracks/{track}/cues/{cue}/delete/", {}, EDIT),
}
# Plain playback and a stem's download follow the same rules as the page and the zip (what plays for a
# listen-only link is the preview: checked in the test).
EXTRA = {
    "track-audio-play": ("get", "/tracks/{track}/audio/", {}, VIEW),
    "stem-download": ("get", "/tracks/{track}/stems/{stem}/?download=1", {}, DOWNLOAD),
    "stem-listen": ("get", "/tracks/{track}/stems/{stem}/?listen=1", {}, VIEW),  # what the mixer plays
    "analysis-rekordbox": ("get", "/tracks/{track}/analysis.xml", {}, DOWNLOAD),
}


def test_every_route_has_a_rule() -> None:
    names = {p.name for p in get_resolver().url_patterns if isinstance(p, URLPattern) and p.name}
    names |= {p.name for p in get_resolver("tracks.urls").url_patterns if p.name}
    missing = {n for n in names if not n.startswith(("admin", "django_rq"))} - set(TABLE)
    assert not missing, f"routes without an access rule in the table: {missing}"


def client_for(actor: str, track: Track, users: dict[str, object]) -> Client:
    if actor in users:
        client = Client()
        client.force_login(users[actor])
        return client
    if actor == "anonymous":
        return Client()
    link = ShareLink.objects.create(track=track, allow_downloads=actor == "link_downloads")
    client = link_client(link)
    if actor == "link_revoked":
        link.revoke()
    elif actor == "link_expired":
        ShareLink.objects.filter(pk=link.pk).update(expires=timezone.now() - timedelta(minutes=1))
    return client


def access_world(alice: object, charlie: object, song: Path) -> dict[str, Any]:
    """What both access tables (the pages' and the API's) try every door on: alice's separated, analysed,
    transcribed track, shared with an editor and a viewer, with a running job, a link, her comment, a cue, a
    render, her API token, webhook and resumable upload; and the people."""
    make = get_user_model().objects.create_user
    users = {"owner": alice, "editor": make("erin", "erin@example.com", PASSWORD),
             "viewer": make("vic", "vic@example.com", PASSWORD), "stranger": charlie}
    track = separated_track(alice, song)
    Share.objects.create(track=track, user=users["editor"], role="editor")
    AnalysisResult.objects.create(track=track, analyzer_version="1", tempo=120.0, data={  # two bars, one section
        "tempo": 120.0, "beats": [0.25, 0.5], "downbeats": [0.25, 0.5],
        "sections": [{"start": 0.0, "end": 0.75, "label": "A"}]})
    track.stems.filter(name="vocals").update(notes=[[0.25, 0.5, 40, 90]])
    track.cover = default_storage.save(storage.cover_name(track.uuid), ContentFile(audio.jpeg()))
    track.save(update_fields=["cover"])
    return {
        "users": users, "track": track, "job": track.stems.first().job, "stem": track.stems.first(),
        "share": Share.objects.create(track=track, user=users["viewer"], role="viewer"),
        "running": Job.objects.create(track=track, kind=Job.Kind.ANALYSIS, status=Job.Status.RUNNING),
        "link": ShareLink.objects.create(track=track),
        "comment": Comment.objects.create(track=track, author=alice, at=1.0, text="the owner's"),
        "cue": Cue.objects.create(track=track, at=0.25, name="Start", colour="green"),
        "render": Job.objects.create(track=track, kind=Job.Kind.RENDER, status=Job.Status.SUCCEEDED,
                                     options={"format": "wav", "rate": 0.8, "file": track.file}),
        "token": ApiToken.issue(alice, "laptop", "read")[0],
        "webhook": Webhook.objects.create(user=alice, url="https://example.com/hook", events=["job.failed"],
                                          secret=Webhook.new_secret()),
        "upload": Upload.objects.create(user=alice, length=100, filename="a.wav"),
        "crate": (crate := Crate.objects.create(owner=alice, name="Gig", kind=Crate.Kind.SETLIST)),
        "entry": CrateEntry.objects.create(crate=crate, track=track, position=1),
        "crate_share": CrateShare.objects.create(crate=crate, user=users["viewer"], role="viewer"),
        "crate_editor": CrateShare.objects.create(crate=crate, user=users["editor"], role="editor"),
        "crate_link": CrateLink.objects.create(crate=crate),
    }


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", [*TABLE, *EXTRA])
def test_the_access_table(route: str, actor: str, alice_client: Client, alice, charlie, song: Path) -> None:
    world = access_world(alice, charlie, song)
    users, track, running, job = world["users"], world["track"], world["running"], world["job"]
    share, owners_link, comment, cue, render = (world[k] for k in ("share", "link", "comment", "cue", "render"))
    api_token, webhook = world["token"], world["webhook"]
    client = client_for(actor, track, users)
    method, template, data, expected = {**TABLE, **EXTRA}[route]
    url = template.format(track=track.uuid, job=running.uuid if route == "job-cancel" else job.uuid, render=render.uuid,
                          stem=track.stems.first().uuid, share=share.pk, comment=comment.uuid, cue=cue.uuid,
                          link=owners_link.token if route == "link-open" else owners_link.pk,
                          token=api_token.pk, webhook=webhook.uuid, crate=world["crate"].uuid,
                          entry=world["entry"].pk, crate_share=world["crate_share"].pk,
                          crate_link=(world["crate_link"].token if route == "crate-link-open"
                                      else world["crate_link"].pk))
    if route == "crate-put":
        data = {"crate": world["crate"].uuid, "track": track.uuid}
    elif route == "crate-order":
        data = {"order": str(world["entry"].pk)}
    response = getattr(client, method)(url, data)
    assert response.status_code == expected[actor], (route, actor, url)
    if method == "get":  # HEAD wherever GET: the same answer, without its body
        head = client.head(url, data)
        assert head.status_code == response.status_code and not body_of(head), (route, actor, "HEAD")
    if route in ("track-audio-play", "stem-file", "stem-listen") and response.status_code == 200:
        # What plays: the compressed preview for a listen-only link (and the mixer, which asks for it), the
        # file itself for everyone else.
        stem = track.stems.first()
        preview, original = (track.preview, track.file) if route == "track-audio-play" else (stem.preview, stem.file)
        compressed = actor == "link" or route == "stem-listen"
        assert played(response) == Path(default_storage.path(preview if compressed else original)).read_bytes()


@pytest.mark.parametrize("mode", ["x-accel-redirect", "x-sendfile"])
def test_a_front_server_can_send_the_files_after_the_access_check(mode: str, alice_client: Client, alice,
                                                                   charlie_client: Client, song: Path,
                                                                   settings) -> None:
    settings.SENDFILE = mode
    track = separated_track(alice, song)
    stem = track.stems.get(name="vocals")
    response = alice_client.get(f"/tracks/{track.uuid}/stems/{stem.uuid}/?download=1")
    assert response.status_code == 200 and response.content == b""
    assert 'attachment; filename="' in response["Content-Disposition"]
    if mode == "x-accel-redirect":
        assert response["X-Accel-Redirect"] == f"/protected-media/{stem.file}"
    else:
        assert response["X-Sendfile"] == str(storage.stem_path(stem).resolve())
    original = alice_client.get(f"/tracks/{track.uuid}/audio/")
    assert (original.get("X-Accel-Redirect") or original.get("X-Sendfile")).endswith(f"{track.file}")
    assert "inline" in original["Content-Disposition"]
    assert charlie_client.get(f"/tracks/{track.uuid}/stems/{stem.uuid}/").status_code == 404


def test_jobs_are_only_enqueued_for_those_who_may_change_the_track(alice_client: Client, alice, bob
                                                                   ) -> None:
    from django.core.exceptions import PermissionDenied

    from tracks import jobs

    track = track_row(alice)
    Share.objects.create(track=track, user=bob, role="viewer")
    with pytest.raises(PermissionDenied):
        jobs.enqueue(Job.Kind.SEPARATION, track, {"model": "dsp", "format": "wav"}, by=bob)
    with pytest.raises(PermissionDenied):
        jobs.enqueue(Job.Kind.ANALYSIS, track, by=bob)
    assert jobs.enqueue(Job.Kind.SEPARATION, track, {"model": "dsp", "format": "wav"}, by=alice).requested_by == alice


def test_a_listen_only_link_plays_nothing_until_the_preview_is_made(alice_client: Client, alice: object,
                                                                    song: Path) -> None:
    track = separated_track(alice, song, previews=False)
    guest = link_client(ShareLink.objects.create(track=track))
    stem = track.stems.first()
    for url in (f"/tracks/{track.uuid}/audio/", f"/tracks/{track.uuid}/stems/{stem.uuid}/"):
        response = guest.get(url)
        assert response.status_code == 404 and b"not ready" in response.content
    original = Path(default_storage.path(track.file)).read_bytes()
    assert played(alice_client.get(f"/tracks/{track.uuid}/audio/")) == original
    # The owner's mixer asks for the listening copy; without one it gets the stem itself.
    listened = played(alice_client.get(f"/tracks/{track.uuid}/stems/{stem.uuid}/?listen=1"))
    assert listened == Path(default_storage.path(stem.file)).read_bytes()
