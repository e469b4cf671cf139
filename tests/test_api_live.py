"""The API against a real `manage.py serve` (web processes, a worker of each kind, recovery): the command-line
client uploads a folder by tus, waits for the analyses and separations and downloads the stems; a script's
socket hears the jobs end; webhooks arrive signed, retried after a failure; an upload cut off mid-body
resumes where it stopped; a client that keeps sending past the size limit reads the 413."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import standardwebhooks
from tusclient import client as tus
from websockets.sync.client import connect

from tests import audio
from tests.live import Served, wait_for
from tracks.dev_redis import free_port
from tracks.models import ApiToken, Delivery, Job, Track

pytestmark = pytest.mark.slow  # a server, workers and ports


class Receiver:
    """A webhook receiver on this machine: answers 500 to the first delivery, 200 to the rest; keeps each."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        received = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(received) == 1 else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soundforge.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "XDG_CONFIG_HOME": str(home)})


@pytest.mark.django_db(transaction=True)
def test_the_api_end_to_end(alice, c_major_wav: Path, fsharp_minor_mp3: Path, tmp_path: Path, redis_url: str) -> None:
    receiver = Receiver()
    served = Served(tmp_path / "serve", redis_url, analysis_workers=1, processing_workers=1,
                    SOUNDFORGE_MAX_UPLOAD_MB="5", SOUNDFORGE_WEBHOOK_ALLOW_PRIVATE="1",
                    SOUNDFORGE_WEBHOOK_BACKOFF_S="1,1", SOUNDFORGE_RECOVER_EVERY_S="1")
    _, secret = ApiToken.issue(alice, "script", "write")
    auth = {"Authorization": f"Bearer {secret}"}
    with served:
        api = f"{served.url}/api/v1"
        hook = requests.post(f"{api}/webhooks", headers=auth, timeout=10,
                             json={"url": receiver.url, "events": ["job.succeeded", "track.created"]})
        assert hook.status_code == 201, hook.text
        signing = hook.json()["secret"]
        # A script's socket: the token in its header, no Origin (no browser sends that header).
        socket_ = connect(f"ws://127.0.0.1:{served.port}/ws/api/", additional_headers=auth, open_timeout=10,
                          legacy=True)
        assert json.loads(socket_.recv(timeout=10))["type"] == "hello"

        # The command line: log in, upload a folder, wait for analysis and separation, download the stems.
        home, folder = tmp_path / "home", tmp_path / "songs"
        folder.mkdir()
        (folder / "a-c-major.wav").write_bytes(c_major_wav.read_bytes())
        (folder / "b-f-sharp.mp3").write_bytes(fsharp_minor_mp3.read_bytes())
        (folder / "notes.txt").write_text("not audio: skipped")
        logged = cli(home, "login", "--server", served.url, "--token", secret)
        assert logged.returncode == 0 and "as alice" in logged.stderr, logged.stderr
        assert (home / "soundforge" / "config.json").stat().st_mode & 0o077 == 0  # the token, for its owner only
        uploaded = cli(home, "upload", "--wait", "--separate", "dsp", str(folder))
        assert uploaded.returncode == 0, uploaded.stderr + served.output()[-3000:]
        uuids = uploaded.stdout.split()
        assert [Track.objects.get(uuid=u).original_name for u in uuids] == ["a-c-major.wav", "b-f-sharp.mp3"]
        for uuid in uuids:
            assert {j.kind: j.status for j in Job.objects.filter(track__uuid=uuid)} == {
                "analysis": "succeeded", "separation": "succeeded"}
        fetched = cli(home, "download-stems", uuids[0], "--out", str(tmp_path / "stems"))
        assert fetched.returncode == 0, fetched.stderr
        with zipfile.ZipFile(fetched.stdout.strip()) as zipped:
            assert {n.rsplit(" - ", 1)[1].split(" (")[0] for n in zipped.namelist()} >= {"drums", "bass", "vocals"}
        analysis = json.loads(cli(home, "analysis", uuids[0]).stdout)
        assert 100 < analysis["tempo"] < 140 and analysis["beats"]
        listed = cli(home, "tracks").stdout
        assert uuids[0] in listed and "C major" in listed
        exported = cli(home, "export", "rekordbox", "-o", str(tmp_path / "collection.xml"))
        assert exported.returncode == 0 and (tmp_path / "collection.xml").read_text().count("<TRACK TrackID=") == 2

        # The socket heard every job end, as JSON (a separation is followed by an analysis that listens to its
        # stems: ends of it may come too).
        wanted = {(u, k) for u in uuids for k in ("analysis", "separation")}
        heard, ends = [], set()
        deadline = time.monotonic() + 30
        while ends != wanted and time.monotonic() < deadline:
            heard.append(json.loads(socket_.recv(timeout=30)))
            if heard[-1]["type"] == "job.succeeded":
                ends.add((heard[-1]["data"]["track"], heard[-1]["data"]["kind"]))
        assert ends == wanted
        assert any(e["type"] == "job.progress" for e in heard) and any(e["type"] == "job.started" for e in heard)
        socket_.close()

        # The webhooks: two new tracks and four jobs done, each signed; the first answered 500 and came again.
        wait_for(lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(), 60, "the stems' analyses")
        succeeded = Job.objects.filter(status="succeeded").count()
        try:
            wait_for(lambda: Delivery.objects.filter(status="delivered").count() == succeeded + 2, 30,
                     "every webhook delivered")
        except AssertionError:
            raise AssertionError(list(Delivery.objects.values_list("event", "status", "attempts", "error"))) from None
        verifier = standardwebhooks.Webhook(signing)
        events = [verifier.verify(body, headers) for headers, body in receiver.got]
        bodies = [body for _, body in receiver.got]
        assert len(bodies) == succeeded + 3 and bodies.count(bodies[0]) == 2  # the one retried: sent again as it was
        assert sorted(e["type"] for e in events[1:]) == ["job.succeeded"] * succeeded + ["track.created"] * 2
        assert Delivery.objects.filter(attempts=2, response_status=200).count() == 1
        tampered = dict(receiver.got[1][0], **{"webhook-id": "msg_other"})
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            verifier.verify(bodies[1], tampered)

        # A resumable upload cut off mid-PATCH keeps what had arrived before it, and resumes from there.
        cut_wav = audio.variant(c_major_wav, 1, tmp_path)  # not a file alice has already
        data = cut_wav.read_bytes()
        named = "filename " + base64.b64encode(b"cut.wav").decode()
        made = requests.post(f"{api}/uploads", timeout=10, headers={
            **auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": named})
        assert made.status_code == 201, made.text
        where = made.headers["Location"]
        first = requests.patch(where, data=data[:100_000], timeout=10, headers={
            **auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert first.status_code == 204 and first.headers["Upload-Offset"] == "100000"
        with socket.create_connection(("127.0.0.1", served.port)) as cut:  # half a body, then gone
            path = where.split(str(served.port), 1)[1]
            cut.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {secret}\r\n"
                         "Tus-Resumable: 1.0.0\r\nUpload-Offset: 100000\r\n"
                         "Content-Type: application/offset+octet-stream\r\n"
                         f"Content-Length: {len(data) - 100_000}\r\n\r\n").encode() + data[100_000:200_000])
        head = requests.head(where, headers={**auth, "Tus-Resumable": "1.0.0"}, timeout=10)
        assert head.headers["Upload-Offset"] == "100000"
        stream = open(cut_wav, "rb")  # tuspy reads it till the end
        resumed = tus.TusClient(f"{api}/uploads", headers=auth).uploader(file_stream=stream, url=where,
                                                                         chunk_size=1 << 20)
        assert resumed.offset == 100_000
        resumed.upload()
        state = requests.get(where, headers=auth, timeout=10).json()
        assert state["complete"] and state["track"]["original_name"] == "cut.wav", state

        # Past the size limit, the answer reaches a client that sends its whole body anyway.
        too_big = requests.post(f"{api}/tracks", headers=auth, timeout=60,
                                files={"file": ("big.wav", b"\0" * (7 << 20))})
        assert too_big.status_code == 413 and "limit of 6 MB" in too_big.text
        # And through tus, before a byte is sent.
        refused = requests.post(f"{api}/uploads", headers={**auth, "Tus-Resumable": "1.0.0",
                                                           "Upload-Length": str(6 << 20)}, timeout=10)
        assert refused.status_code == 413 and refused.json()["detail"].startswith("The file is larger")

        # `watch` uploads what appears in a folder, once it has stopped growing, and only once.
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        watcher = subprocess.Popen([sys.executable, "-m", "soundforge.cli", "watch", str(inbox), "--every", "0.5"],
                                   env={**os.environ, "XDG_CONFIG_HOME": str(home)}, stderr=subprocess.DEVNULL)
        try:
            (inbox / "new-take.wav").write_bytes(audio.variant(c_major_wav, 2, tmp_path).read_bytes())
            wait_for(lambda: Track.objects.filter(original_name="new-take.wav").exists(), 30, "the watched upload")
            time.sleep(1.5)  # three more looks: nothing uploaded twice
            assert Track.objects.filter(original_name="new-take.wav").count() == 1
        finally:
            watcher.terminate()
            watcher.wait(timeout=10)
        # HEAD wherever GET, through the real server: the answer's head alone (uptime checkers ask /healthz/).
        for url, headers in ((f"{served.url}/healthz/", {}), (f"{api}/me", auth), (f"{api}/tracks", auth)):
            head, get = requests.head(url, headers=headers, timeout=10), requests.get(url, headers=headers, timeout=10)
            assert head.status_code == get.status_code == 200 and head.content == b"", url
        # A plain multipart upload, as curl sends it.
        with open(audio.variant(c_major_wav, 3, tmp_path), "rb") as f:
            posted = requests.post(f"{api}/tracks", headers=auth, files={"file": ("curl.wav", f)}, timeout=60)
        assert posted.status_code == 201 and posted.json()["analysis"] == "queued"
        # The same folder again: nothing stored twice; the command line names the tracks they already are.
        again = cli(home, "upload", str(folder))
        assert again.returncode == 0 and again.stdout.split() == uuids, again.stderr
        assert "You already have this file" in again.stderr
        assert Track.objects.filter(original_name="a-c-major.wav").count() == 1


@pytest.fixture
def redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL
