"""First sound: how long after Play a separated song is heard in the mixer, on a 40 Mbit/s line.

Starts SoundForge as `make run` does (bench/load.py's Server) in a scratch folder, uploads a synthesized
3-minute stereo song, separates it with the built-in engine (four stems, each with its listening copy) and
opens the track page in Debian's chromium (Playwright), the network throttled by the DevTools protocol to
``--mbit`` down and up with ``--latency-ms`` of round trip, the browser cache off. Then, ``--runs`` times
each, interleaved, on a fresh page:

- **mixer**: Play as a person presses it. The mixer plays the stems' listening copies (Ogg Opus) and starts
  once the first seconds of each have arrived.
- **lossless (baseline)**: the same with "Lossless" ticked: the original WAV stems, each downloaded whole
  and decoded before any sound (what Play did before).

Both measure from the click to the moment the mixer's sources are scheduled to sound (its
``soundforge:mixer`` "playing" event, which carries that time), and to the whole of every stem being in
("loaded"); the click track is on the page in both. Target: first sound <= 3 s for the mixer.

    .venv/bin/python bench/first_sound.py [--seconds 180] [--mbit 40] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Server, _wait, sessions, song, tear_down, upload  # noqa: E402

CHROMIUM = os.environ.get("SOUNDFORGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
TARGET_S = 3.0

LISTEN = """() => {
  window.__mixer = [];
  document.addEventListener("soundforge:mixer", (e) => window.__mixer.push(e.detail));
}"""


def play_once(context: object, url: str, mbit: float, latency_ms: float, lossless: bool,
              shot: Path | None = None) -> dict[str, float]:
    """Open the page throttled, press Play (after ticking Lossless for the baseline); seconds to first sound
    and to every stem whole, and the bytes the stems took."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    page.goto(url)
    page.wait_for_selector("[data-mixer]")
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
    events = {e["event"]: e for e in page.evaluate("() => window.__mixer")}
    # Still playing after every stem's whole buffer took over (never waiting for the download).
    page.wait_for_function("() => parseFloat(document.querySelector('[data-seek]').value) > 0.5", timeout=10_000)
    page.wait_for_timeout(500)
    state = page.evaluate("""() => { const e = [...window.SoundForgeMixer.engines.values()][0];
                                     return {playing: e.playing, waiting: e.waiting}; }""")
    page.close()
    return {"first_sound": (events["playing"]["sounds"] - clicked) / 1000,
            "whole": (events["loaded"]["at"] - clicked) / 1000,
            "mb": events["loaded"]["bytes"] / 1e6,
            "started_before_whole": not events["playing"]["whole"],
            "kept_playing": state["playing"] and not state["waiting"]}


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the song")
    parser.add_argument("--mbit", type=float, default=40.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
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

        results: dict[str, list[dict[str, float]]] = {"mixer": [], "lossless": []}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.add_cookies([{"name": c.name, "value": c.value, "url": server.url} for c in owner.cookies])
            url = f"{server.url}/tracks/{track.uuid}/"
            play_once(context, url, 1000, 0, False)  # warm-up: the page's own files, the server's caches
            for _ in range(args.runs):
                for name in results:
                    shot = args.screenshot if name == "mixer" and not results[name] else None
                    results[name].append(play_once(context, url, args.mbit, args.latency_ms, name == "lossless",
                                                   shot))
            browser.close()

        print(f"network: {args.mbit:g} Mbit/s down and up, {args.latency_ms:g} ms round trip (DevTools "
              f"throttling), cache off; runs: {args.runs} each, interleaved, after one warm-up")
        print(f"{'':28}{'first sound s':>15}{'all stems in s':>16}{'MB':>7}")
        for name, label in (("mixer", "mixer (listening copies)"), ("lossless", "lossless stems (baseline)")):
            runs = results[name]
            print(f"{label:28}{statistics.median(r['first_sound'] for r in runs):15.2f}"
                  f"{statistics.median(r['whole'] for r in runs):16.2f}{statistics.median(r['mb'] for r in runs):7.1f}")
        mixer = statistics.median(r["first_sound"] for r in results["mixer"])
        baseline = statistics.median(r["first_sound"] for r in results["lossless"])
        early = all(r["started_before_whole"] for r in results["mixer"])
        kept = all(r["kept_playing"] for runs in results.values() for r in runs)
        print(f"first sound, mixer / baseline: {mixer / baseline:.2f}; mixer {mixer:.2f} s "
              f"({'meets' if mixer <= TARGET_S else 'misses'} the target of {TARGET_S:g} s); "
              f"played before the stems were whole: {'every run' if early else 'not every run'}; "
              f"still playing once they were: {'every run' if kept else 'not every run'}")
    finally:
        tear_down(server, redis, scratch, args.keep)


if __name__ == "__main__":
    main()
