"""``soundforge``: the API's command-line client (it imports nothing of the server; requests and tuspy only).

    soundforge login [--server URL]             ask for a token (account page → API tokens), check and keep it
    soundforge upload [--wait] [--separate M] FILES_OR_FOLDERS...
                                                resumable uploads (tus) with progress; a folder's audio files
                                                in name order; run again after an interruption to resume
    soundforge tracks                           the library: uuid, BPM, key, length, title
    soundforge analysis TRACK [--csv]           the analysis as JSON (or a row per beat)
    soundforge separate TRACK [--model M] [--format wav|flac|mp3] [--wait]
    soundforge download-stems TRACK [--out DIR] the newest separation's stems, as one zip
    soundforge export rekordbox [TRACK] [-o FILE]
    soundforge watch FOLDER [--separate M]      upload each audio file that appears (once it stops growing)

The server and token come from SOUNDFORGE_URL and SOUNDFORGE_TOKEN, else from what ``login`` kept in
~/.config/soundforge/config.json (readable by you alone). Errors are the server's own words.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage

AUDIO = {".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff"}
CHUNK = 8 << 20  # bytes per PATCH: what an interruption can cost
DONE = ("succeeded", "failed", "cancelled")


class Failed(Exception):
    """What the command line prints before exiting 1."""


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "soundforge"


class Api:
    def __init__(self, server: str, token: str) -> None:
        self.server, self.token = server.rstrip("/"), token
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "User-Agent": "soundforge-cli/1"})

    @classmethod
    def from_config(cls) -> Api:
        saved = {}
        path = config_dir() / "config.json"
        if path.exists():
            saved = json.loads(path.read_text())
        server = os.environ.get("SOUNDFORGE_URL") or saved.get("server")
        token = os.environ.get("SOUNDFORGE_TOKEN") or saved.get("token")
        if not server or not token:
            raise Failed("Not logged in: run `soundforge login` (or set SOUNDFORGE_URL and SOUNDFORGE_TOKEN).")
        return cls(server, token)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.server}/api/v1{path}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            answer = self.http.request(method, self.url(path), timeout=kwargs.pop("timeout", 60), **kwargs)
        except requests.RequestException as exc:
            raise Failed(f"Could not reach {self.server}: {exc}") from None
        if answer.status_code >= 400:
            raise Failed(problem(answer))
        return answer

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()


def problem(answer: requests.Response) -> str:
    try:
        return f"{answer.status_code}: {answer.json()['detail']}"
    except (ValueError, KeyError):
        return f"{answer.status_code}: {answer.text[:200]}"


def say(*parts: object, end: str = "\n") -> None:
    print(*parts, file=sys.stderr, flush=True, end=end)


# -- commands ---------------------------------------------------------------------------------------------------

def login(args: argparse.Namespace) -> None:
    server = args.server or input("Server (http://127.0.0.1:8000): ").strip() or "http://127.0.0.1:8000"
    token = args.token or os.environ.get("SOUNDFORGE_TOKEN") or getpass.getpass("Token (from your account page): ")
    me = Api(server, token.strip()).json("GET", "/me")
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"server": server.rstrip("/"), "token": token.strip()}, out)
    say(f"Logged in to {server} as {me['display_name']} ({me['scope']} token).")


def audio_files(paths: list[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO)
        elif path.is_file():
            yield path
        else:
            raise Failed(f"{name}: no such file or folder")


class Progress:
    """One line on stderr for the file on its way, and one overall."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def show(self, name: str, sent: int, size: int) -> None:
        overall = (self.done + sent) / max(1, self.total)
        bar = "#" * int(overall * 30)
        print(f"\r[{bar:<30}] {overall:6.1%}  {name[:40]:<40} {sent / 2**20:7.1f}/{size / 2**20:.1f} MB",
              end="", file=sys.stderr, flush=True)


def upload_one(api: Api, path: Path, progress: Progress) -> dict[str, Any]:
    """Upload a file by tus (resuming what an earlier run began) and answer the track it became."""
    client = tus.TusClient(api.url("/uploads"), headers={"Authorization": f"Bearer {api.token}"})
    storage = FileStorage(str(config_dir() / "uploads.json"))
    uploader, forget = None, False
    try:
        uploader = client.uploader(str(path), chunk_size=CHUNK, metadata={"filename": path.name}, store_url=True,
                                   url_storage=storage, retries=1, retry_delay=1)
        if uploader.offset:
            say(f"\nResuming {path.name} at {uploader.offset / 2**20:.1f} MB")
        size = uploader.get_file_size()
        while uploader.offset < size:
            uploader.upload_chunk()
            progress.show(path.name, uploader.offset, size)
        state = api.json("GET", uploader.url)
        forget = True  # stored: a later run of the same file starts afresh
    except TusCommunicationError as exc:
        # Refused by the server (a 4xx): start afresh next time too; cut off: resume from where it got.
        forget = exc.status_code is not None and 400 <= exc.status_code < 500
        answer = tus_answer(exc)
        if answer.get("existing"):  # this very file is a track of yours already: that is the answer
            say(f"\n{path.name}: {answer['detail']}")
            progress.done += uploader.get_file_size()
            return api.json("GET", answer["track"])
        raise Failed(f"{path.name}: {answer.get('detail') or exc}") from None
    finally:
        if uploader is not None and uploader.url and forget:
            storage.remove_item(uploader.fingerprinter.get_fingerprint(uploader.get_file_stream()))
        storage._db.close()
    progress.done += size
    if state["error"] or not state["track"]:
        raise Failed(f"{path.name}: {state['error'] or 'not stored'}")
    return state["track"]


def tus_answer(exc: TusCommunicationError) -> dict[str, Any]:
    """The server's problem JSON behind a tus error (empty when there is none: the connection broke)."""
    try:
        found = json.loads(exc.response_content.decode(errors="replace")) if exc.response_content else {}
    except ValueError:
        return {"detail": exc.response_content.decode(errors="replace")[:300]}
    return found if isinstance(found, dict) else {}


def wait_for(api: Api, job: dict[str, Any], what: str) -> dict[str, Any]:
    """Poll the job until it ends, showing its stage; Failed unless it succeeded."""
    while job["status"] not in DONE:
        say(f"\r{what}: {job['status']} {job['progress']:.0%} {job['stage'][:40]:<40}", end="")
        time.sleep(1)
        job = api.json("GET", job["url"])
    say(f"\r{what}: {job['status']}{' — ' + job['error'] if job['error'] else ''}{' ' * 40}")
    if job["status"] != "succeeded":
        raise Failed(f"{what} {job['status']}: {job['error']}")
    return job


def latest_job(api: Api, track: str, kind: str) -> dict[str, Any] | None:
    return next((j for j in api.json("GET", f"/tracks/{track}/jobs") if j["kind"] == kind), None)


def upload(args: argparse.Namespace) -> None:
    api = Api.from_config()
    files = list(audio_files(args.paths))
    if not files:
        raise Failed("No audio files there.")
    progress = Progress(sum(f.stat().st_size for f in files))
    tracks = []
    for path in files:
        track = upload_one(api, path, progress)
        tracks.append(track)
        say(f"\n{path.name} → {track['uuid']} ({track['page']})")
    for track in tracks:
        if args.wait or args.separate:
            analysis = latest_job(api, track["uuid"], "analysis")
            if analysis:
                wait_for(api, analysis, f"{track['title']}: analysis")
        if args.separate:
            job = api.json("POST", f"/tracks/{track['uuid']}/separate", json={"model": args.separate})
            if args.wait:
                wait_for(api, job, f"{track['title']}: separation")
        print(track["uuid"])


def tracks_list(args: argparse.Namespace) -> None:
    api = Api.from_config()
    url: str | None = "/tracks?limit=200"
    while url:
        page = api.json("GET", url)
        for t in page["items"]:
            bpm = f"{t['tempo']:.1f}" if t["tempo"] else "-"
            length = f"{int(t['duration']) // 60}:{int(t['duration']) % 60:02d}"
            print(f"{t['uuid']}  {bpm:>6}  {t['key'] or '-':<9} {length:>6}  {t['title']}")
        url = page["next"]


def analysis(args: argparse.Namespace) -> None:
    api = Api.from_config()
    answer = api.call("GET", f"/tracks/{args.track}/analysis" + (".csv" if args.csv else ""))
    sys.stdout.write(answer.text if args.csv else json.dumps(answer.json(), indent=1) + "\n")


def separate(args: argparse.Namespace) -> None:
    api = Api.from_config()
    body = {"format": args.format, **({"model": args.model} if args.model else {})}
    job = api.json("POST", f"/tracks/{args.track}/separate", json=body)
    if args.wait:
        job = wait_for(api, job, "separation")
    print(job["uuid"])


def download_stems(args: argparse.Namespace) -> None:
    api = Api.from_config()
    stems = api.json("GET", f"/tracks/{args.track}/stems")
    if not stems:
        raise Failed("This track has no stems yet: `soundforge separate` it first.")
    separation = stems[0]["separation"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    answer = api.call("GET", f"/tracks/{args.track}/separations/{separation}/zip", stream=True, timeout=600)
    name = answer.headers.get("Content-Disposition", "").partition('filename="')[2].rstrip('"') or "stems.zip"
    target = out / Path(name).name
    with open(target, "wb") as f:
        for piece in answer.iter_content(1 << 20):
            f.write(piece)
    print(target)


def export(args: argparse.Namespace) -> None:
    api = Api.from_config()
    answer = api.call("GET", f"/tracks/{args.track}/rekordbox.xml" if args.track else "/rekordbox.xml")
    if args.output:
        Path(args.output).write_bytes(answer.content)
        say(f"Wrote {args.output}")
    else:
        sys.stdout.buffer.write(answer.content)


def watch(args: argparse.Namespace, rounds: int | None = None) -> None:
    """Upload what appears in the folder, each file once (remembered in the config folder), once its size
    has stayed the same for a round."""
    api = Api.from_config()
    folder = Path(args.folder).resolve()
    seen_file = config_dir() / "watched.json"
    seen = set(json.loads(seen_file.read_text())) if seen_file.exists() else set()
    sizes: dict[str, int] = {}
    say(f"Watching {folder} (Ctrl-C stops)")
    while rounds is None or rounds > 0:
        for path in audio_files([str(folder)]):
            key = f"{path}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
            if key in seen:
                continue
            size = path.stat().st_size
            if sizes.get(str(path)) != size:  # still being written, or new: look again next round
                sizes[str(path)] = size
                continue
            try:
                track = upload_one(api, path, Progress(size))
                say(f"\n{path.name} → {track['uuid']}")
                if args.separate:
                    api.json("POST", f"/tracks/{track['uuid']}/separate", json={"model": args.separate})
            except Failed as exc:
                say(f"\n{exc}")
            seen.add(key)
            seen_file.write_text(json.dumps(sorted(seen)))
        if rounds is not None:
            rounds -= 1
        time.sleep(args.every)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="soundforge", description="SoundForge's API from the command line.")
    commands = top.add_subparsers(dest="command", required=True)
    p = commands.add_parser("login", help="keep a token for this server")
    p.add_argument("--server"), p.add_argument("--token")
    p.set_defaults(run=login)
    p = commands.add_parser("upload", help="upload files or folders (resumable)")
    p.add_argument("paths", nargs="+"), p.add_argument("--wait", action="store_true")
    p.add_argument("--separate", metavar="MODEL", help="then separate with this model")
    p.set_defaults(run=upload)
    commands.add_parser("tracks", help="list the library").set_defaults(run=tracks_list)
    p = commands.add_parser("analysis", help="a track's analysis")
    p.add_argument("track"), p.add_argument("--csv", action="store_true")
    p.set_defaults(run=analysis)
    p = commands.add_parser("separate", help="separate a track into stems")
    p.add_argument("track"), p.add_argument("--model"), p.add_argument("--format", default="wav")
    p.add_argument("--wait", action="store_true")
    p.set_defaults(run=separate)
    p = commands.add_parser("download-stems", help="the newest separation's stems as a zip")
    p.add_argument("track"), p.add_argument("--out", default=".")
    p.set_defaults(run=download_stems)
    p = commands.add_parser("export", help="exports for DJ software")
    p.add_argument("format", choices=["rekordbox"]), p.add_argument("track", nargs="?")
    p.add_argument("-o", "--output")
    p.set_defaults(run=export)
    p = commands.add_parser("watch", help="upload what appears in a folder")
    p.add_argument("folder"), p.add_argument("--separate", metavar="MODEL")
    p.add_argument("--every", type=float, default=2.0, help="seconds between looks")
    p.set_defaults(run=watch)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except Failed as exc:
        say(f"\nsoundforge: {exc}")
        return 1
    except KeyboardInterrupt:
        say("\nStopped.")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
