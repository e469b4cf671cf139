"""Load: many people on one track page while work runs, then many people loading pages.

Starts SoundForge as `make run` does (migrate, collectstatic, `manage.py serve` with its default workers and
the warm analyzer) in a scratch folder, on SQLite unless ``--database-url`` names another database, with a
Redis of its own. Then:

1. ``--clients`` websocket clients (one owner and the people the track is shared with, each with their own
   session) open the track page of an analysed song. While they listen, the owner separates that song with
   the dsp engine and ``--uploads`` more songs are uploaded at once and analysed. Each port stamps its
   progress lines with the time it wrote them and the job panels carry that stamp (``data-at``), so every
   client measures, for every progress event it receives, the delay from the port writing the line to the
   client reading the message. Every client must receive every event, in order.
2. ``--users`` people load the track page and the library again and again for ``--seconds``, each pausing
   0.5-1.5 s between pages as a person does, each on their own kept-alive connection as a browser; the time
   to the whole HTML answer is measured.

Prints p50/p95/max of both and the error count (uploads refused, sockets that failed or closed, jobs that
failed, pages that were not 200, events missed or out of order). Targets: event p95 <= 200 ms, page p95
<= 100 ms, errors 0.

    .venv/bin/python bench/load.py [--clients 200] [--uploads 20] [--users 50] [--seconds 30] [--busy N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PANEL = re.compile(r'<section id="((?:separation-)?job-panel)-[^"]+"(.*?)</section>', re.S)
AT = re.compile(r'data-at="([\d.]+)"')
STAGE = re.compile(r'<span class="stage">([^<]*)</span>')


def song(path: Path, seconds: float, seed: int) -> Path:
    """A plain song: a i-iv-V-i progression of sawtooth chords over a kick, stereo 44.1 kHz."""
    rng = np.random.default_rng(seed)
    sr, bpm = 44100, 96 + int(rng.integers(0, 40))
    t = np.arange(int(seconds * sr)) / sr
    beat = 60 / bpm
    roots = [57, 62, 64, 57]
    y = np.zeros_like(t)
    for i, start in enumerate(np.arange(0, seconds, 4 * beat)):
        idx = (t >= start) & (t < start + 4 * beat)
        for step in (0, 3, 7):
            f = 440 * 2 ** ((roots[i % 4] + step - 69) / 12)
            y[idx] += 0.08 * (2 * ((t[idx] * f) % 1) - 1)
    for start in np.arange(0, seconds, beat):
        n = int(start * sr)
        k = np.arange(min(4000, len(t) - n))
        y[n:n + k.size] += 0.5 * np.sin(2 * np.pi * 60 * k / sr) * np.exp(-k / 800)
    sf.write(path, np.stack([y, 0.8 * y], axis=1) * 0.7, sr)
    return path


def machine_speed() -> float:
    """Milliseconds a fixed loop of Python takes: this machine's speed varies (a shared host), so the figures
    come with it, measured before and after."""
    started = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i * i
    return (time.perf_counter() - started) * 1000


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms ({len(values)})"


class Server:
    """`make run`'s steps in a scratch folder."""

    def __init__(self, scratch: Path, redis_url: str, database_url: str | None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SOUNDFORGE_VAR_DIR": str(scratch / "var"), "REDIS_URL": redis_url,
                    "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))}
        self.env.pop("DATABASE_URL", None)
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.log = open(scratch / "serve.log", "wb")  # open for the server's whole life
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=self.env, check=True)
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], env=self.env, check=True)
        self.process = subprocess.Popen([*manage, "serve", "--port", str(self.port)], env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit("the server did not become healthy; see serve.log")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)


def _free_port() -> int:
    from tracks.dev_redis import free_port

    return free_port()


def sessions(users: list, base: str) -> list[requests.Session]:
    from django.conf import settings
    from django.test import Client

    out = []
    for user in users:
        client = Client()
        client.force_login(user)
        http = requests.Session()
        token = "b" * 32
        http.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        http.cookies.set(settings.CSRF_COOKIE_NAME, token)
        http.headers.update({"X-CSRFToken": token, "Referer": base + "/"})
        out.append(http)
    return out


def upload(base: str, http: requests.Session, path: Path) -> int:
    with open(path, "rb") as f:
        return http.post(f"{base}/tracks/upload/", files={"file": (path.name, f)},
                         headers={"X-Requested-With": "XMLHttpRequest"}, timeout=120).status_code


def upload_all(base: str, cookies: dict[str, str], headers: dict[str, str], paths: list[Path]) -> list[int]:
    """Upload all at once, a thread each, in a process of its own (see main): twenty threads of `requests`
    building multipart bodies would hold the GIL of the process whose event loop times the 200 sockets, and
    their wait for it would be measured as the server's."""
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=len(paths)))
    http.cookies.update(cookies)
    http.headers.update(headers)
    with ThreadPoolExecutor(max(1, len(paths))) as pool:
        return list(pool.map(lambda p: upload(base, http, p), paths))


class Listener:
    """One page's socket: every progress stamp per job panel, with when it arrived."""

    def __init__(self) -> None:
        self.events: dict[str, list[tuple[float, float]]] = {"job-panel": [], "separation-job-panel": []}
        self.stages: dict[float, str] = {}
        self.error: str | None = None
        self.open = asyncio.Event()
        self.sizes: list[int] = []
        self.largest = ""

    async def run(self, url: str, cookie: str, origin: str, stop: asyncio.Event) -> None:
        try:
            async with connect(url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=60,
                               max_size=None) as ws:
                self.open.set()
                while not stop.is_set():
                    try:
                        message = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except TimeoutError:
                        continue
                    now = time.time()
                    self.sizes.append(len(message))
                    if len(message) > len(self.largest):
                        self.largest = message
                    for panel, body in PANEL.findall(message):
                        if (at := AT.search(body)) and (not self.events[panel]
                                                        or self.events[panel][-1][0] != float(at[1])):
                            self.events[panel].append((float(at[1]), now))
                            if stage := STAGE.search(body):
                                self.stages[float(at[1])] = stage[1]
        except Exception as exc:  # refused, timed out, closed: each counts as an error
            self.error = f"{type(exc).__name__}: {exc}"
            self.open.set()


async def listen(clients: list[requests.Session], url: str, origin: str, stop: asyncio.Event,
                 ready: threading.Event, listeners: list[Listener]) -> None:
    tasks = []
    for http in clients:
        listener = Listener()
        listeners.append(listener)
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        tasks.append(asyncio.create_task(listener.run(url, cookie, origin, stop)))
        await asyncio.sleep(0.02)  # people arrive over a few seconds, not in one instant
    await asyncio.gather(*(listener.open.wait() for listener in listeners))
    await asyncio.sleep(5)  # the presence updates of everyone arriving settle
    ready.set()
    await asyncio.gather(*tasks)


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
               cookie: str) -> int:
    """One GET on a kept-alive connection; the whole answer read. Returns the status."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    return int(head[0].split()[1])


def page_loads(base: str, people: list[requests.Session], pages: list[str], seconds: float) -> tuple[list, int]:
    """Each person on their own kept-alive connection, as a browser, through asyncio in one thread: fifty
    threads of `requests` cost the client several milliseconds a page on this two-core machine, measured as
    the server's."""
    times: list[float] = []
    errors = 0
    host, port = base.removeprefix("http://").split(":")

    async def person(http: requests.Session, deadline: float) -> None:
        nonlocal errors
        rng = random.Random(id(http))
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        await asyncio.sleep(rng.uniform(0, 1.5))
        connection = None
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                connection = connection or await asyncio.open_connection(host, int(port))
                status = await asyncio.wait_for(_get(*connection, f"{host}:{port}", rng.choice(pages), cookie), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                status, connection = 0, None
            times.append((time.perf_counter() - started) * 1000)
            errors += status != 200
            await asyncio.sleep(rng.uniform(0.5, 1.5))
        if connection:
            connection[1].close()

    async def everyone() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(person(http, deadline) for http in people))

    asyncio.run(everyone())
    return times, errors


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--song-seconds", type=float, default=90, help="length of the watched song")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--verbose", action="store_true", help="print each progress event's median delay")
    parser.add_argument("--busy", type=int, default=0,
                        help="processes spinning at normal priority throughout, to see the margin on a slower "
                             "(or busier) machine")
    args = parser.parse_args()

    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    speed_before = machine_speed()
    scratch = Path(tempfile.mkdtemp(prefix="soundforge-load-"))
    os.environ["SOUNDFORGE_VAR_DIR"] = str(scratch / "var")
    os.environ.pop("DATABASE_URL", None)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "soundforge.settings"
    from tracks.dev_redis import EmbeddedRedis

    redis = EmbeddedRedis(scratch / "redis")
    server = Server(scratch, redis.start(), args.database_url)
    os.environ["REDIS_URL"] = redis.url
    errors: dict[str, int] = {}
    try:
        server.start()
        import django

        django.setup()
        logging.getLogger("axes").setLevel(logging.WARNING)  # a line per person logged in, not the bench's news
        from django.contrib.auth import get_user_model

        from tracks.models import Job, Share, Track

        users = [get_user_model().objects.create_user(f"person{i}@example.org", f"person{i}@example.org")
                 for i in range(max(args.clients, args.users))]
        people = sessions(users, server.url)
        owner = people[0]
        print(f"server: {server.url} ({'PostgreSQL' if args.database_url else 'SQLite'}), cpus: {os.cpu_count()}")

        watched_path = song(scratch / "watched.wav", args.song_seconds, 0)
        assert upload(server.url, owner, watched_path) == 201
        track = Track.objects.get()
        Share.objects.bulk_create(Share(track=track, user=user) for user in users[1:])
        _wait(lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(), 300, "the first analysis")
        if (first := Job.objects.get()).status != Job.Status.SUCCEEDED:
            raise SystemExit(f"the first analysis did not succeed: {first.error}")
        songs = [song(scratch / f"upload-{i}.wav", 10, i + 1) for i in range(args.uploads)]

        # -- phase 1: many on one page while work runs -----------------------------------------------------
        stop, ready, listeners = asyncio.Event(), threading.Event(), []
        ws_url = f"ws://127.0.0.1:{server.port}/ws/tracks/{track.uuid}/"
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, daemon=True,
                                  args=(listen(people[: args.clients], ws_url, server.url, stop, ready, listeners),))
        thread.start()
        if not ready.wait(300):
            raise SystemExit(f"the clients did not all connect: {sum(lst.open.is_set() for lst in listeners)} of "
                             f"{args.clients} answered")
        print(f"{args.clients} clients on the track page; separating it and uploading {args.uploads} songs at once")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as uploader:
            uploader.submit(int).result()  # started (and its imports done) before the clock starts
            started = time.monotonic()
            status = owner.post(f"{server.url}/tracks/{track.uuid}/separate/", {"model": "dsp", "format": "wav"},
                                headers={"HX-Request": "true"}, timeout=30).status_code
            errors["separation refused"] = int(status != 200)
            statuses = uploader.submit(upload_all, server.url, owner.cookies.get_dict(), dict(owner.headers),
                                       songs).result()
        errors["uploads refused"] = sum(s != 201 for s in statuses)
        _wait(lambda: Job.objects.count() >= 3 + args.uploads
              and not Job.objects.filter(status__in=Job.ACTIVE).exists(), 1800, "the jobs")
        took = time.monotonic() - started
        time.sleep(3)  # the last pushes arrive
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        errors["jobs failed"] = Job.objects.exclude(status=Job.Status.SUCCEEDED).count()
        errors["sockets failed or closed"] = sum(listener.error is not None for listener in listeners)
        for reason in sorted({listener.error for listener in listeners if listener.error})[:5]:
            print(f"  socket error: {reason}")

        latencies: list[float] = []
        firsts: list[float] = []  # how long until anyone had it: the rest is the fan-out to 200 sockets
        missed = disordered = 0
        for panel in ("separation-job-panel", "job-panel"):
            union = set().union(*({at for at, _ in listener.events[panel]} for listener in listeners))
            for listener in listeners:
                ats = [at for at, _ in listener.events[panel]]
                missed += len(union - set(ats))
                disordered += any(b < a for a, b in itertools.pairwise(ats))
                latencies += [(got - at) * 1000 for at, got in listener.events[panel]]
            for at in union:
                firsts.append(min((got - a) * 1000 for listener in listeners for a, got in listener.events[panel]
                                  if a == at))
            print(f"  {panel}: {len(union)} progress events pushed")
            if args.verbose:
                for at in sorted(union):
                    delays = sorted((got - a) * 1000 for listener in listeners for a, got in listener.events[panel]
                                    if a == at)
                    stage = next((lst.stages[at] for lst in listeners if at in lst.stages), "")
                    print(f"    {at:.3f} {stage!r:40} first {delays[0]:.0f} ms, median "
                          f"{statistics.median(delays):.0f} ms, last {delays[-1]:.0f} ms")
        if args.verbose:
            sizes = listeners[0].sizes
            starts = [(m.start(), m[1]) for m in re.finditer(r'<(?:section|div|li) id="([a-z-]+?)-[0-9a-f]{8}-',
                                                              listeners[0].largest)]
            parts = [f"{name} {(end - start) / 1024:.0f}" for (start, name), (end, _) in
                     itertools.pairwise([*starts, (len(listeners[0].largest), "")])]
            print(f"  messages to one client: {len(sizes)}, {sum(sizes) / 1024:.0f} KB in all, the largest "
                  f"{max(sizes, default=0) / 1024:.0f} KB ({', '.join(parts)} KB)")
        errors["events missed"] = missed
        errors["clients with events out of order"] = disordered
        print(f"phase 1 took {took:.0f} s ({Job.objects.count()} jobs)")
        print(f"progress line -> client: {percentiles(latencies)}   (target p95 <= 200 ms)")
        print(f"progress line -> first client of each event: {percentiles(firsts)}")

        # -- phase 2: page loads ---------------------------------------------------------------------------
        pages = [f"/tracks/{track.uuid}/", "/"]
        times, page_errors = page_loads(server.url, people[: args.users], pages, args.seconds)
        errors["pages not 200"] = page_errors
        print(f"page loads, {args.users} people, 0.5-1.5 s between pages, {args.seconds:g} s: "
              f"{percentiles(times)}   (target p95 <= 100 ms)")
        print(f"errors: {sum(errors.values())}   {errors}   (target 0)")
        print(f"machine speed: a fixed Python loop took {speed_before:.0f} ms before the run and "
              f"{machine_speed():.0f} ms after (less is faster; on a shared host it varies by up to 2x)"
              + (f", with {args.busy} processes spinning" if args.busy else ""))
    finally:
        for spinner in spinners:
            spinner.kill()
        tear_down(server, redis, scratch, args.keep)


def tear_down(server: Server, redis: object, scratch: Path, keep: bool) -> None:
    """Stop the server and its Redis; remove the scratch folder unless asked to keep it."""
    server.stop()
    redis.stop()
    if keep:
        print(f"kept {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


if __name__ == "__main__":
    main()
