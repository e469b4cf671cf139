"""First sound: how long after Play a separated song is heard in the mixer, on localhost and a 40 Mbit/s
line, with the server idle and busy; and what the first speed change costs.

Starts SoundForge as `make run` does (bench/load.py's Server) in a scratch folder, uploads a synthesized
3-minute stereo song, separates it with the built-in engine (four stems, each with its listening copy) and
opens the track page in Debian's chromium (Playwright), the browser cache off: on localhost as it is, and
with the network throttled by the DevTools protocol to ``--mbit`` down and up with ``--latency-ms`` of
round trip. With ``--busy`` each of those runs again while the server analyses another song (a second
upload re-analysed over and over by the analysis worker, as a busy server would). Then, ``--runs`` times
each, interleaved, on a fresh page:

- **mixer**: Play as a person presses it. The mixer plays the stems' listening copies (Ogg Opus) and starts
  once the first seconds of each have arrived.
- **lossless (baseline)**: the same with "Lossless" ticked: the original WAV stems, each downloaded whole
  and decoded before any sound (what Play did before).

Both measure from the click to the moment the mixer's sources are scheduled to sound (its
``soundforge:mixer`` "playing" event, which carries that time), and to the whole of every stem being in
("loaded"); the click track is on the page in both. Then, the mixer playing, the pointer goes to the
Speed slider as a person's would and, a moment later, sets 90 %: the **speed change** is how long the song
is silent for it (0 where the stretcher was ready and took over on the same sample; before, playback
stopped until the stretcher had loaded). Targets: first sound <= 1.5 s on localhost and <= 3 s at 40
Mbit/s, busy or not; no gap at the first speed change.

    .venv/bin/python bench/first_sound.py [--seconds 180] [--mbit 40] [--latency-ms 20] [--runs 3] [--busy]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Server, _wait, sessions, song, tear_down, upload  # noqa: E402

CHROMIUM = os.environ.get("SOUNDFORGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
TARGETS_S = {"localhost": 1.5, "throttled": 3.0}

LISTEN = """() => {
  window.__mixer = [];
  document.addEventListener("soundforge:mixer", (e) => window.__mixer.push(e.detail));
}"""


def play_once(context: object, url: str, mbit: float | None, latency_ms: float, lossless: bool,
              shot: Path | None = None) -> dict[str, float]:
    """Open the page (throttled unless ``mbit`` is None), press Play (after ticking Lossless for the
    baseline); seconds to first sound and to every stem whole, the bytes the stems took, and (the mixer
    only) the silence of the first speed change."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url)
    page.wait_for_selector("[data-mixer]")
    if mbit:
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": latency_ms,
            "downloadThroughput": mbit * 1e6 / 8, "uploadThroughput": mbit * 1e6 / 8,
        })
    page.evaluate(LISTEN)
    if lossless:
        page.check("[data-lossless]")
    clicked = page.evaluate("() => performance.now()")
    page.click('[data-action="play"]')
    page.wait_for_function("() => window.__mixer.some((e) => e.event === 'playing')", timeout=300_000)
    if shot:  # the mixer playing while the rest of the stems arrives
        page.wait_for_timeout(300)
        page.locator("[data-mixer]").screenshot(path=str(shot))
    page.wait_for_function("() => window.__mixer.some((e) => e.event === 'loaded')", timeout=300_000)
    page_events = page.evaluate("() => window.__mixer")
    events: dict[str, dict] = {}
    for event in page_events:  # the first of each: the first "playing" is the first sound
        events.setdefault(event["event"], event)
    # Still playing after every stem's whole buffer took over (never waiting for the download).
    page.wait_for_function("() => parseFloat(document.querySelector('[data-seek]').value) > 0.5", timeout=10_000)
    page.wait_for_timeout(500)
    state = page.evaluate("""() => { const e = [...window.SoundForgeMixer.engines.values()][0];
                                     return {playing: e.playing, waiting: e.waiting}; }""")
    gap, heard = (None, None) if lossless else speed_change(page)
    page.close()
    return {"first_sound": (events["playing"]["sounds"] - clicked) / 1000,
            "whole": (events["loaded"]["at"] - clicked) / 1000,
            "mb": events["loaded"]["bytes"] / 1e6,
            "started_before_whole": not events["playing"]["whole"],
            "kept_playing": state["playing"] and not state["waiting"], "gap": gap, "heard": heard,
            "stalled": "waiting" in events,
            "heads": [round((e["at"] - clicked) / 1000, 2) for e in page_events if e["event"] == "head"]}


def speed_change(page: object) -> tuple[float, float]:
    """The pointer to the Speed slider, a moment later 90 %: seconds of silence until the song goes on at the
    new speed, and until it is heard at that speed (the mixer says when its sources sound: a "retimed"
    hand-over, on one sample, else a new "playing" after a stop)."""
    page.hover("[data-mixer] [data-rate]")
    page.wait_for_timeout(400)  # a person's hand from the slider's edge to its knob
    page.evaluate("() => { window.__mixer = []; window.__changed = performance.now(); }")
    page.evaluate("() => { const r = document.querySelector('[data-mixer] [data-rate]'); r.value = 90; "
                  "r.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_function("() => window.__mixer.some((e) => e.event === 'retimed' || e.event === 'playing')",
                           timeout=30_000)
    event = page.evaluate("() => window.__mixer.find((e) => e.event === 'retimed' || e.event === 'playing')")
    heard = (event["sounds"] - page.evaluate("window.__changed")) / 1000
    return (event["gap"] if event["event"] == "retimed" else heard), heard


class Busy:
    """Keeps the analysis worker busy: re-analyses ``track`` whenever it has no job running, until stopped."""

    def __init__(self, base: str, http: object, track: object) -> None:
        self.base, self.http, self.track = base, http, track
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.analyses = 0

    def run(self) -> None:
        from tracks.models import Job

        while not self.stop.wait(0.5):
            if not Job.objects.filter(track=self.track, status__in=Job.ACTIVE).exists():
                self.http.post(f"{self.base}/tracks/{self.track.uuid}/analyse/", headers={"HX-Request": "true"},
                               timeout=30).raise_for_status()
                self.analyses += 1

    def __enter__(self) -> Busy:
        self.thread.start()
        # Running, not just queued: the measurement starts under load.
        from tracks.models import Job

        _wait(lambda: Job.objects.filter(track=self.track, status=Job.Status.RUNNING).exists(), 60, "a busy server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the song")
    parser.add_argument("--mbit", type=float, default=40.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", action="store_true", help="also measure while the server analyses another song")
    parser.add_argument("--only", help="one condition, as NETWORK,LOAD (localhost or throttled; idle or busy)")
    parser.add_argument("--verbose", action="store_true", help="every run's figures")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--screenshot", type=Path, help="save the mixer, playing while it loads, here (PNG)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="soundforge-first-sound-"))
    os.environ["SOUNDFORGE_VAR_DIR"] = str(scratch / "var")
    os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "soundforge.settings"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread
    from tracks.dev_redis import EmbeddedRedis

    redis = EmbeddedRedis(scratch / "redis")
    server = Server(scratch, redis.start(), None)
    os.environ["REDIS_URL"] = redis.url
    try:
        server.start()
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from playwright.sync_api import sync_playwright

        from tracks.models import Job, Track

        owner_user = get_user_model().objects.create_user("owner@example.org", "owner@example.org")
        owner = sessions([owner_user], server.url)[0]
        assert upload(server.url, owner, song(scratch / "song.wav", args.seconds, 0)) == 201
        track = Track.objects.get()
        _wait(lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(), 600, "the analysis")
        started = time.monotonic()
        owner.post(f"{server.url}/tracks/{track.uuid}/separate/", {"model": "dsp", "format": "wav"},
                   headers={"HX-Request": "true"}, timeout=30).raise_for_status()
        _wait(lambda: Job.objects.filter(kind=Job.Kind.SEPARATION, status=Job.Status.SUCCEEDED).exists(), 900,
              "the separation")
        stems = list(track.stems.all())
        print(f"song: synthesized {args.seconds:.0f} s stereo 44.1 kHz WAV; separated (dsp, {len(stems)} stems) in "
              f"{time.monotonic() - started:.0f} s")
        print(f"stems: lossless {sum(s.size for s in stems) / 1e6:.1f} MB, listening copies "
              f"{sum((Path(settings.MEDIA_ROOT) / s.preview).stat().st_size for s in stems) / 1e6:.1f} MB")
        _wait(lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(), 600, "the analysis with the stems")

        busy_track = None
        if args.busy:  # the other song, analysed once now so that its re-analyses are alike
            assert upload(server.url, owner, song(scratch / "other.wav", args.seconds, 1)) == 201
            busy_track = Track.objects.exclude(pk=track.pk).get()
            _wait(lambda: not Job.objects.filter(status__in=Job.ACTIVE).exists(), 600, "the other song's analysis")

        conditions = [(net, load) for load in (["idle", "busy"] if args.busy else ["idle"])
                      for net in ("localhost", "throttled")]
        if args.only:
            conditions = [tuple(args.only.split(","))]
        results: dict[tuple[str, str, str], list[dict]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.add_cookies([{"name": c.name, "value": c.value, "url": server.url} for c in owner.cookies])
            url = f"{server.url}/tracks/{track.uuid}/"
            play_once(context, url, None, 0, False)  # warm-up: the page's own files, the server's caches
            for net, load in conditions:
                mbit = args.mbit if net == "throttled" else None
                with Busy(server.url, owner, busy_track) if load == "busy" else contextlib.nullcontext():
                    for _ in range(args.runs):
                        for name in ("mixer", "lossless"):
                            runs = results.setdefault((net, load, name), [])
                            shot = args.screenshot if (net, load, name) == ("throttled", "idle", "mixer") and not runs \
                                else None
                            runs.append(play_once(context, url, mbit, args.latency_ms, name == "lossless", shot))
            browser.close()

        print(f"network: localhost, and {args.mbit:g} Mbit/s down and up with {args.latency_ms:g} ms round trip "
              f"(DevTools throttling); cache off; runs: {args.runs} each, interleaved, after one warm-up"
              + ("; busy: the server analysing another song all the while" if args.busy else ""))
        if args.verbose:
            for key, runs in results.items():
                for run in runs:
                    print(key, run)
        print(f"{'':46}{'first sound s':>14}{'all stems in s':>16}{'MB':>7}{'speed change gap s':>20}"
              f"{'heard after s':>15}")
        for (net, load, name), runs in results.items():
            label = f"{net if net == 'localhost' else f'{args.mbit:g} Mbit/s'}, {load}, " \
                    f"{'mixer (listening copies)' if name == 'mixer' else 'lossless (baseline)'}"
            gap = "" if name == "lossless" else (f"{statistics.median(r['gap'] for r in runs):20.2f}"
                                                 f"{statistics.median(r['heard'] for r in runs):15.2f}")
            print(f"{label:46}{statistics.median(r['first_sound'] for r in runs):14.2f}"
                  f"{statistics.median(r['whole'] for r in runs):16.2f}"
                  f"{statistics.median(r['mb'] for r in runs):7.1f}{gap}")
        for net, load in conditions:
            mixer = statistics.median(r["first_sound"] for r in results[(net, load, "mixer")])
            baseline = statistics.median(r["first_sound"] for r in results[(net, load, "lossless")])
            target = TARGETS_S[net]
            print(f"{net}, {load}: first sound, mixer / baseline {mixer / baseline:.2f}; mixer {mixer:.2f} s "
                  f"({'meets' if mixer <= target else 'misses'} the target of {target:g} s)")
        mixers = [r for (_, _, name), runs in results.items() if name == "mixer" for r in runs]
        early = all(r["started_before_whole"] for r in mixers if r["whole"] > r["first_sound"] + 0.5)
        kept = all(r["kept_playing"] for runs in results.values() for r in runs)
        print("played before the stems were whole (where they took longer): "
              f"{'every run' if early else 'not every run'}; caught up with the download and waited: "
              f"{sum(r['stalled'] for r in mixers)} of {len(mixers)} runs; "
              f"still playing once they were: {'every run' if kept else 'not every run'}; speed change without a gap: "
              f"{sum(r['gap'] <= 0.001 for r in mixers)} of {len(mixers)} runs")
    finally:
        tear_down(server, redis, scratch, args.keep)


if __name__ == "__main__":
    main()
