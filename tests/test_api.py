"""The HTTP API (/api/v1/): its half of the access table (every operation, read off the API's own routers,
against every kind of caller), its schema, and what its answers say."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from openapi_spec_validator import validate

from tests.test_sharing import access_world, body_of, song  # noqa: F401 (a fixture)
from tracks.api.app import api
from tracks.models import AnalysisResult, ApiToken, Delivery, Job, Share, ShareLink, Track, Webhook

API = "/api/v1"

# Callers: tokens (write scope) of the owner, an editor, a viewer and a stranger; the owner's read-only and
# revoked tokens; nobody; share links (listen only, with downloads); the owner's session without its CSRF token.
ACTORS = ("owner", "editor", "viewer", "stranger", "read_token", "revoked_token", "anonymous", "link",
          "link_downloads", "session_no_csrf")


def view(ok: int = 200) -> dict[str, int]:
    return {"owner": ok, "editor": ok, "viewer": ok, "stranger": 404, "read_token": ok, "revoked_token": 401,
            "anonymous": 401, "link": ok, "link_downloads": ok, "session_no_csrf": ok}


def download(ok: int = 200) -> dict[str, int]:
    return {**view(ok), "link": 403}


def edit(ok: int) -> dict[str, int]:
    """A change: 403 for those who may see the track but not change it (a read-only token, a link, a page
    script without the CSRF token), 404 for those who may not see it."""
    return {"owner": ok, "editor": ok, "viewer": 403, "stranger": 404, "read_token": 403, "revoked_token": 401,
            "anonymous": 401, "link": 403, "link_downloads": 403, "session_no_csrf": 403}


def manage(ok: int) -> dict[str, int]:
    return {**edit(ok), "editor": 403}


def comment(ok: int) -> dict[str, int]:
    return {**edit(ok), "viewer": ok}


def account(ok: int = 200) -> dict[str, int]:
    """What only accounts have (a library, uploads, webhooks): a link opens its track only."""
    return {**view(ok), "stranger": ok, "link": 403, "link_downloads": 403}


def account_write(ok: int) -> dict[str, int]:
    return {**account(ok), "read_token": 403, "session_no_csrf": 403}


def owners_own(ok: int, write: bool = True) -> dict[str, int]:
    """A thing of the owner's account (an upload, a webhook): others are told there is none."""
    found = {**account(ok), "editor": 404, "viewer": 404, "stranger": 404}
    return {**found, "read_token": 403, "session_no_csrf": 403} if write else found


OPEN = dict.fromkeys(ACTORS, 200)

T = "/tracks/{track}"
S = T + "/separations/{job}"
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
# (method, url name) -> (path, JSON body or None, extra headers, expected status per caller)
TABLE = {
    ("GET", "openapi-json"): ("/openapi.json", None, {}, OPEN),
    ("GET", "openapi-view"): ("/docs", None, {}, OPEN),
    ("GET", "me"): ("/me", None, {}, account()),
    ("GET", "tracks"): ("/tracks", None, {}, account()),
    ("POST", "upload"): ("/tracks", "file", {}, account_write(400)),  # an empty file: refused, once let in
    ("GET", "library_rekordbox"): ("/rekordbox.xml", None, {}, account()),
    ("GET", "track"): (T, None, {}, view()),
    ("PATCH", "track_update"): (T, {"title": "New name", "artist": "Them"}, {}, edit(200)),
    ("DELETE", "track_delete"): (T, None, {}, manage(204)),
    ("GET", "track_audio"): (T + "/audio", None, {}, download()),
    ("GET", "track_tagged"): (T + "/tagged", None, {}, download()),
    ("GET", "track_cover"): (T + "/cover", None, {}, view()),
    ("GET", "analysis"): (T + "/analysis", None, {}, download()),
    ("GET", "analysis_csv"): (T + "/analysis.csv", None, {}, download()),
    ("GET", "analysis_rekordbox"): (T + "/rekordbox.xml", None, {}, download()),
    ("PUT", "tempo"): (T + "/tempo", {"step": "2"}, {}, edit(200)),
    ("GET", "matches"): (T + "/matches", None, {}, view()),  # from the caller's library: none for a link
    ("GET", "jobs"): ("/jobs", None, {}, account()),
    ("GET", "track_jobs"): (T + "/jobs", None, {}, view()),
    ("GET", "job"): (T + "/jobs/{running}", None, {}, view()),
    ("POST", "job_cancel"): (T + "/jobs/{running}/cancel", None, {}, edit(200)),
    ("POST", "analyse"): (T + "/analyse", None, {}, edit(202)),
    ("POST", "separate"): (T + "/separate", {"model": "dsp", "format": "wav"}, {}, edit(202)),
    # A render or a transcription is a download a worker makes: for accounts that may download.
    ("POST", "render"): (S + "/render", {"rate": 0.8}, {}, {**edit(202), "viewer": 202}),
    ("POST", "transcribe"): (S + "/transcribe", {"stems": ["vocals"]}, {}, {**edit(202), "viewer": 202}),
    ("GET", "models"): ("/models", None, {}, {**OPEN, "revoked_token": 401, "anonymous": 401}),
    ("GET", "stems"): (T + "/stems", None, {}, view()),
    ("GET", "stem"): (T + "/stems/{stem}", None, {}, download()),
    ("GET", "stems_zip"): (S + "/zip", None, {}, download()),
    ("GET", "stems_mix"): (S + "/mix", None, {}, download()),
    ("GET", "stems_loop"): (S + "/loop?first=1&last=1&what=drums", None, {}, download()),
    ("GET", "stems_loops"): (S + "/loops", None, {}, download()),
    ("GET", "stem_midi"): (S + "/midi/vocals", None, {}, download()),
    ("GET", "render_file"): (T + "/renders/{render}", None, {}, download()),
    ("GET", "comments"): (T + "/comments", None, {}, view()),
    ("POST", "comment_add"): (T + "/comments", {"at": 1.5, "text": "hi"}, {}, comment(201)),
    # The owner's comment: only its author edits it; the owner and editors may delete it.
    ("PATCH", "comment_edit"): (T + "/comments/{comment}", {"text": "edited"}, {}, manage(200)),
    ("DELETE", "comment_delete"): (T + "/comments/{comment}", None, {}, edit(204)),
    ("GET", "cues"): (T + "/cues", None, {}, view()),
    ("POST", "cue_add"): (T + "/cues", {"at": 0.5, "name": "Drop", "colour": "red"}, {}, edit(201)),
    ("PUT", "cue_edit"): (T + "/cues/{cue}", {"at": 0.5, "name": "Drop", "colour": "red"}, {}, edit(200)),
    ("DELETE", "cue_delete"): (T + "/cues/{cue}", None, {}, edit(204)),
    ("GET", "shares"): (T + "/shares", None, {}, {**manage(200), "viewer": 403, "read_token": 200,
                                                  "session_no_csrf": 200}),
    ("POST", "share_add"): (T + "/shares", {"who": "charlie@example.com"}, {}, manage(201)),
    ("PATCH", "share_update"): (T + "/shares/{share}", {"role": "editor"}, {}, manage(200)),
    ("DELETE", "share_revoke"): (T + "/shares/{share}", None, {}, manage(204)),
    ("GET", "links"): (T + "/links", None, {}, {**manage(200), "read_token": 200, "session_no_csrf": 200}),
    ("POST", "link_add"): (T + "/links", {"allow_downloads": True}, {}, manage(201)),
    ("DELETE", "link_revoke"): (T + "/links/{link}", None, {}, manage(204)),
    # Resumable uploads (tus): the capabilities are open; an upload is its maker's alone.
    ("OPTIONS", "uploads"): ("/uploads", None, {}, dict.fromkeys(ACTORS, 204)),
    ("POST", "upload_create"): ("/uploads", b"", {**TUS, "HTTP_UPLOAD_LENGTH": "100"}, account_write(201)),
    ("HEAD", "upload_offset"): ("/uploads/{upload}", None, TUS, owners_own(200, write=False)),
    ("GET", "upload"): ("/uploads/{upload}", None, {}, owners_own(200, write=False)),
    ("PATCH", "upload_append"): ("/uploads/{upload}", b"abc", {**TUS, "HTTP_UPLOAD_OFFSET": "0"}, owners_own(204)),
    ("DELETE", "upload_delete"): ("/uploads/{upload}", None, TUS, owners_own(204)),
    # Crates: the access world's is the owner's, shared with the editor as its editor and the viewer as its
    # viewer; a link opens its track only.
    ("GET", "crates"): ("/crates", None, {}, account()),
    ("POST", "crate_add"): ("/crates", {"name": "Encore"}, {}, account_write(201)),
    ("GET", "crate"): ("/crates/{crate}", None, {}, {**view(), "link": 403, "link_downloads": 403}),
    ("DELETE", "crate_delete"): ("/crates/{crate}", None, {}, manage(204)),
    ("POST", "crate_entry_add"): ("/crates/{crate}/entries", {"track": "{track}"}, {}, edit(200)),  # in it already
    ("DELETE", "crate_entry_remove"): ("/crates/{crate}/entries/{entry}", None, {}, edit(204)),
    ("PUT", "crate_order"): ("/crates/{crate}/order", {"order": ["{entry}"]}, {}, edit(200)),
    ("PUT", "crate_agree"): ("/crates/{crate}/entries/{entry}/agreed", {"rate": 0.9}, {}, edit(200)),
    ("GET", "practice"): (T + "/practice", None, {}, {**view(), "link": 403, "link_downloads": 403}),
    ("PUT", "practice_put"): (T + "/practice", {"rate": 0.8}, {}, {**edit(200), "viewer": 200}),
    ("GET", "webhooks"): ("/webhooks", None, {}, account()),
    ("POST", "webhook_add"): ("/webhooks", {"url": "https://example.com/hook"}, {}, account_write(201)),
    ("DELETE", "webhook_delete"): ("/webhooks/{webhook}", None, {}, owners_own(204)),
}


def operations() -> set[tuple[str, str]]:
    """Every (method, url name) the API serves, read off its routers, and its schema and docs."""
    found = {("GET", "openapi-json"), ("GET", "openapi-view")}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                found |= {(method, operation.url_name) for method in operation.methods}
    return found


def test_every_operation_has_a_row() -> None:
    missing = operations() - set(TABLE)
    assert not missing, f"API operations without a row in the access table: {sorted(missing)}"
    assert not set(TABLE) - operations(), "rows for operations that are gone"


def caller(actor: str, track: Track, users: dict[str, object]) -> tuple[Client, dict[str, str]]:
    """A client and the headers that make it this actor."""
    if actor in ("owner", "editor", "viewer", "stranger", "read_token", "revoked_token"):
        user = users["owner" if actor.endswith("_token") else actor]
        token, secret = ApiToken.issue(user, actor, "read" if actor == "read_token" else "write")
        if actor == "revoked_token":
            token.revoke()
        return Client(), {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    if actor == "session_no_csrf":
        client = Client(enforce_csrf_checks=True)
        client.force_login(users["owner"])
        return client, {}
    if actor.startswith("link"):
        link = ShareLink.objects.create(track=track, allow_downloads=actor == "link_downloads")
        return Client(), {"HTTP_X_SHARE_LINK": link.token}
    return Client(), {}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("operation", list(TABLE), ids=lambda op: f"{op[0]} {op[1]}")
def test_the_api_access_table(operation: tuple[str, str], actor: str, alice, charlie, song: Path,  # noqa: F811
                              settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # example.com does not resolve here
    world = access_world(alice, charlie, song)
    track, users = world["track"], world["users"]
    client, headers = caller(actor, track, users)
    method, _name = operation
    template, body, extra, expected = TABLE[operation]
    url = API + template.format(
        track=track.uuid, job=world["job"].uuid, running=world["running"].uuid, render=world["render"].uuid,
        stem=world["stem"].uuid, share=world["share"].pk, comment=world["comment"].uuid, cue=world["cue"].uuid,
        link=world["link"].pk, upload=world["upload"].uuid, webhook=world["webhook"].uuid,
        crate=world["crate"].uuid, entry=world["entry"].pk)
    kwargs = {**headers, **extra}
    if body == "file":
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = client.post(url, {"file": SimpleUploadedFile("empty.wav", b"")}, **kwargs)
    elif isinstance(body, bytes):
        response = client.generic(method, url, body, content_type="application/offset+octet-stream", **kwargs)
    elif body is not None:
        body = json.loads(json.dumps(body).replace('"{track}"', f'"{track.uuid}"').replace(
            '"{entry}"', str(world["entry"].pk)))
        response = client.generic(method, url, json.dumps(body), content_type="application/json", **kwargs)
    else:
        response = client.generic(method, url, **kwargs)
    assert response.status_code == expected[actor], (operation, actor, response.content[:300])
    if method == "GET":  # HEAD wherever GET: the same answer, without its body
        head = client.head(url, **kwargs)
        assert head.status_code == response.status_code and not body_of(head), (operation, actor, "HEAD")
    if response.status_code >= 400 and method != "HEAD":
        problem = response.json()
        assert response["Content-Type"] == "application/problem+json" and problem["status"] == response.status_code
        assert problem["detail"] and problem["title"]


# -- the schema -------------------------------------------------------------------------------------------------

def test_the_served_schema_is_valid_openapi_with_every_operation(client: Client) -> None:
    doc = client.get(f"{API}/openapi.json").json()
    validate(doc)  # OpenAPI 3.1, by openapi-spec-validator
    assert doc["openapi"].startswith("3.1")
    served = {(method.upper(), op["operationId"]) for path in doc["paths"].values() for method, op in path.items()}
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                ids = {o for m, o in served if m in operation.methods}
                assert operation.operation_id or ids, path
    assert len(served) == len(operations()) - 2  # all but the schema and the docs themselves
    assert doc["components"]["securitySchemes"].keys() >= {"TokenAuth", "SessionAuth", "LinkAuth"}


def test_the_docs_are_served_from_this_site_under_its_policy(client: Client) -> None:
    page = client.get(f"{API}/docs")
    html = page.content.decode()
    assert page.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in html
    # Nothing from another site (a CSRF token may spell "cdn": look at the addresses), no inline script.
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html) and "<script>" not in html
    assert "script-src 'self'" in page["Content-Security-Policy"]


# -- what answers say -------------------------------------------------------------------------------------------

def bearer(user: object, scope: str = "write") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(user, 'test', scope)[1]}"}


def test_a_token_is_stored_hashed_and_marked_used(alice) -> None:
    token, secret = ApiToken.issue(alice, "laptop", "read")
    assert secret.startswith("sf_") and len(secret) > 40 and secret not in token.hashed and token.start == secret[:10]
    assert ApiToken.objects.filter(hashed__contains=secret[3:]).count() == 0
    assert token.last_used is None
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["scope"] == "read"
    token.refresh_from_db()
    assert token.last_used is not None
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION="Bearer sf_not-a-token").status_code == 401


def test_tokens_are_made_shown_once_and_revoked_on_the_account_page(alice_client: Client, alice) -> None:
    made = alice_client.post("/account/tokens/", {"name": "DJ laptop", "scope": "write"}, follow=True)
    assert made.redirect_chain == [("/account/", 302)]
    secret = made.content.decode().split('id="new-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert secret.startswith("sf_")
    page = alice_client.get("/account/").content.decode()  # a reload: not shown again, no second token
    assert "DJ laptop" in page and secret not in page and secret[:10] in page  # listed by its start only
    assert ApiToken.objects.filter(name="DJ laptop").count() == 1
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    token = ApiToken.objects.get(name="DJ laptop")
    assert alice_client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert "<td>DJ laptop</td>" not in alice_client.get("/account/").content.decode()


def test_the_library_filters_sorts_and_pages_by_cursor(alice, bob) -> None:
    from tests.helpers import track_row

    tempos = [("Alpha", 128.0, "A minor"), ("bravo", 90.0, "C major"), ("Charlie", 174.0, "A minor"),
              ("Delta", None, "")]
    for i, (title, tempo, key) in enumerate(tempos):
        track = track_row(alice, title=title, created=timezone.now() - timedelta(minutes=i))
        if tempo:
            AnalysisResult.objects.create(track=track, analyzer_version="1", data={}, tempo=tempo, key_label=key)
    Share.objects.create(track=track_row(bob, title="Bob's"), user=alice, role="viewer")
    auth = bearer(alice, "read")

    def titles(query: str) -> list[str]:
        answer = Client().get(f"{API}/tracks?{query}", **auth)
        assert answer.status_code == 200, answer.content
        return [t["title"] for t in answer.json()["items"]]

    assert titles("") == ["Bob's", "Alpha", "bravo", "Charlie", "Delta"]  # newest first
    assert titles("sort=title") == ["Alpha", "Bob's", "bravo", "Charlie", "Delta"]
    assert titles("sort=bpm") == ["bravo", "Alpha", "Charlie", "Delta", "Bob's"]  # no tempo: last
    assert titles("sort=key") == ["Alpha", "Charlie", "bravo", "Delta", "Bob's"]  # 8A, 8A, 8B: the Camelot wheel
    assert titles("key=8A") == ["Alpha", "Charlie"] and titles("key=C+major") == ["bravo"]
    assert titles("bpm_min=100&bpm_max=150") == ["Alpha"]
    assert titles("q=char") == ["Charlie"] and titles("shared=true") == ["Bob's"]
    # Pages of two, each pointing at the next, none missing or repeated.
    seen, url = [], f"{API}/tracks?sort=title&limit=2"
    while url:
        page = Client().get(url, **auth).json()
        seen += [t["title"] for t in page["items"]]
        url = page["next"]
    assert seen == ["Alpha", "Bob's", "bravo", "Charlie", "Delta"]
    for sort in ("new", "bpm", "key"):  # by time, by number, by the wheel: the same rows, each once
        seen, url = [], f"{API}/tracks?sort={sort}&limit=2"
        while url:
            page = Client().get(url, **auth).json()
            seen += [t["title"] for t in page["items"]]
            url = page["next"]
        assert seen == titles(f"sort={sort}"), sort
    bad = Client().get(f"{API}/tracks?cursor=nonsense", **auth)
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"


def test_refusals_use_the_pages_words(alice, settings) -> None:
    from tests.helpers import track_row

    track = track_row(alice)
    auth = bearer(alice)
    # The form's rule, as the page says it.
    cue = Client().post(f"{API}/tracks/{track.uuid}/cues", json.dumps({"at": 99.0, "name": "x", "colour": "red"}),
                        content_type="application/json", **auth)
    assert cue.status_code == 400 and "at:" in cue.json()["detail"]
    # Past the active-job limit a job waits its turn; past the waiting list's, 429 in the page's words.
    settings.MAX_ACTIVE_JOBS, settings.MAX_WAITING_JOBS = 1, 1
    Job.objects.create(track=track, kind=Job.Kind.SEPARATION, status=Job.Status.RUNNING, requested_by=alice)
    waits = Client().post(f"{API}/tracks/{track.uuid}/analyse", **auth)
    assert waits.status_code == 202 and waits.json()["status"] == "waiting"
    other = track_row(alice)
    busy = Client().post(f"{API}/tracks/{other.uuid}/analyse", **auth)
    assert busy.status_code == 429 and "jobs waiting their turn" in busy.json()["detail"]
    # A body that is not what the schema says: 422, naming the field.
    wrong = Client().put(f"{API}/tracks/{track.uuid}/tempo", json.dumps({"stepp": 2}),
                         content_type="application/json", **auth)
    assert wrong.status_code == 422 and "step" in wrong.json()["detail"]


def test_requests_past_the_token_rate_get_429_with_retry_after(alice, settings) -> None:
    settings.API_RATE = "3/m"
    settings.RATELIMIT_ENABLE = True
    auth = bearer(alice, "read")
    answers = [Client().get(f"{API}/me", **auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) >= 1
    assert Client().get(f"{API}/me", **bearer(alice, "read")).status_code == 200  # another token, its own count


# -- webhooks -------------------------------------------------------------------------------------------------

def test_a_webhook_to_a_loopback_or_private_address_is_refused(alice, settings) -> None:
    from tracks.live import webhooks

    settings.WEBHOOK_ALLOW_PRIVATE = False
    auth = bearer(alice)
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/",
                "http://localhost/hook", "ftp://example.com/"):
        refused = Client().post(f"{API}/webhooks", json.dumps({"url": url}), content_type="application/json", **auth)
        assert refused.status_code == 400, url
    assert "loopback, private or reserved" in refused.json()["detail"] or "http://" in refused.json()["detail"]
    assert not Webhook.objects.exists()
    # One made while private addresses were allowed, or whose name now resolves to one, is not called either.
    hook = Webhook.objects.create(user=alice, url="http://127.0.0.1:9/hook", events=["track.created"],
                                  secret=Webhook.new_secret())
    webhooks.announce("track.created", {"uuid": "x"}, {alice.pk})
    delivery = hook.deliveries.get()
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "127.0.0.1" in delivery.error and delivery.response_status is None


def test_a_failed_delivery_is_tried_again_later_then_given_up(alice, settings) -> None:
    from tracks.dev_redis import free_port
    from tracks.live import webhooks

    settings.WEBHOOK_ALLOW_PRIVATE, settings.WEBHOOK_BACKOFF_S = True, [30]
    hook = Webhook.objects.create(user=alice, url=f"http://127.0.0.1:{free_port()}/", events=["job.failed"],
                                  secret=Webhook.new_secret())
    webhooks.announce("job.failed", {"uuid": "x"}, {alice.pk})
    delivery = hook.deliveries.get()
    webhooks.deliver(delivery.pk)  # nobody listens there
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and "ConnectionError" in delivery.error
    assert 25 < (delivery.next_try - timezone.now()).total_seconds() <= 30
    assert webhooks.due() == 0  # not yet
    webhooks.deliver(delivery.pk)  # a second worker, too early: nothing sent
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    Delivery.objects.filter(pk=delivery.pk).update(next_try=timezone.now())
    assert webhooks.due() == 1
    webhooks.deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and delivery.finished is not None
    page = Client()
    page.force_login(alice)
    assert "ConnectionError" in page.get("/account/").content.decode()  # the delivery log


def test_signatures_are_standard_webhooks_signatures() -> None:
    import standardwebhooks

    from tracks.live import webhooks

    secret = Webhook.new_secret()
    body = b'{"type":"job.succeeded"}'
    stamp = int(timezone.now().timestamp())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": webhooks.sign(secret, "msg_1", stamp, body)}
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {"type": "job.succeeded"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(Webhook.new_secret()).verify(body, headers)


# -- resumable uploads -------------------------------------------------------------------------------------------

def tus_headers(auth: dict[str, str], **more: str) -> dict[str, str]:
    return {**auth, "HTTP_TUS_RESUMABLE": "1.0.0", **{f"HTTP_{k.upper()}": v for k, v in more.items()}}


def test_a_resumable_upload_in_pieces_becomes_a_track(alice, c_major_wav: Path) -> None:
    import base64

    auth = bearer(alice)
    data = c_major_wav.read_bytes()
    client = Client()
    assert client.options(f"{API}/uploads")["Tus-Extension"] == "creation,creation-with-upload,termination"
    assert client.post(f"{API}/uploads", **auth, HTTP_UPLOAD_LENGTH="10").status_code == 412  # no Tus-Resumable
    # Its first piece comes with its creation (creation-with-upload).
    made = client.post(f"{API}/uploads", data[:1000], content_type="application/offset+octet-stream",
                       **tus_headers(auth, upload_length=str(len(data)),
                                     upload_metadata="filename " + base64.b64encode("Chorus ✓.wav".encode()).decode()))
    assert made.status_code == 201 and made["Upload-Offset"] == "1000"
    where = made["Location"]
    assert client.head(where, **tus_headers(auth))["Upload-Offset"] == "1000"
    # A piece for the wrong offset is refused, saying where to resume.
    wrong = client.patch(where, data[2000:3000], content_type="application/offset+octet-stream",
                         **tus_headers(auth, upload_offset="2000"))
    assert wrong.status_code == 409 and "Upload-Offset is 1000" in wrong.json()["detail"]
    assert not Track.objects.exists()
    for start in range(1000, len(data), 200_000):
        piece = client.patch(where, data[start:start + 200_000], content_type="application/offset+octet-stream",
                             **tus_headers(auth, upload_offset=str(start)))
        assert piece.status_code == 204, piece.content
    track = Track.objects.get()
    assert piece["Upload-Offset"] == str(len(data)) and piece["SoundForge-Track"].endswith(str(track.uuid))
    assert track.original_name == "Chorus ✓.wav" and track.size == len(data)
    assert Job.objects.get(track=track).kind == "analysis"  # queued, as for any upload
    state = client.get(where, **auth).json()
    assert state["complete"] and state["track"]["uuid"] == str(track.uuid)
    from tracks.api import uploads
    from tracks.models import Upload
    assert not uploads.part(Upload.objects.get()).exists()  # its bytes are the track's now


def test_a_resumable_upload_that_is_not_audio_is_refused_and_kept_nowhere(alice, settings) -> None:
    auth = bearer(alice)
    settings.MAX_UPLOAD_MB = 1
    client = Client()
    too_big = client.post(f"{API}/uploads", **tus_headers(auth, upload_length=str(2 << 20)))
    assert too_big.status_code == 413 and "limit of 1 MB" in too_big.json()["detail"]
    made = client.post(f"{API}/uploads", **tus_headers(auth, upload_length="5000"))
    refused = client.patch(made["Location"], b"not audio at all " * 294 + b"x" * 2, content_type=
                           "application/offset+octet-stream", **tus_headers(auth, upload_offset="0"))
    assert refused.status_code == 400 and "not an audio file" in refused.json()["detail"]
    assert not Track.objects.exists()
    assert client.get(made["Location"], **auth).json()["error"].startswith("This is not an audio file")
    # Past its declared length: refused.
    made = client.post(f"{API}/uploads", **tus_headers(auth, upload_length="10"))
    over = client.patch(made["Location"], b"x" * 11, content_type="application/offset+octet-stream",
                        **tus_headers(auth, upload_offset="0"))
    assert over.status_code == 413
    assert client.delete(made["Location"], **tus_headers(auth)).status_code == 204
    assert client.head(made["Location"], **tus_headers(auth)).status_code == 404


def test_the_pages_own_scripts_use_the_session_with_its_csrf_token(alice, c_major_wav: Path) -> None:
    from tests.helpers import track_row

    track = track_row(alice)
    page = Client(enforce_csrf_checks=True)
    page.force_login(alice)
    page.get("/")  # sets the CSRF cookie, as a page does
    csrf = page.cookies["csrftoken"].value
    body = json.dumps({"title": "From the page"})
    assert page.patch(f"{API}/tracks/{track.uuid}", body, content_type="application/json").status_code == 403
    renamed = page.patch(f"{API}/tracks/{track.uuid}", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert renamed.status_code == 200 and renamed.json()["title"] == "From the page"


def test_tokens_never_reach_the_logs() -> None:
    from soundforge.logs import redact

    secret = "sf_" + "A1b2" * 10
    assert secret not in redact(f"GET /api/v1/me?token={secret} 401") and "sf_[token]" in redact(secret)
    assert "whsec_" + "x" * 30 not in redact("secret whsec_" + "x" * 30)


def test_a_file_the_caller_has_already_is_answered_with_its_track(alice, c_major_wav: Path) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    auth = bearer(alice)
    first = Client().post(f"{API}/tracks", {"file": SimpleUploadedFile("a.wav", c_major_wav.read_bytes())}, **auth)
    assert first.status_code == 201
    again = Client().post(f"{API}/tracks", {"file": SimpleUploadedFile("b.wav", c_major_wav.read_bytes())}, **auth)
    problem = again.json()
    assert again.status_code == 409 and problem["existing"] == first.json()["uuid"]
    assert problem["track"].endswith(f"/api/v1/tracks/{first.json()['uuid']}") and "already" in problem["detail"]
    assert Track.objects.count() == 1
