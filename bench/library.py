"""A library of thousands: the library page, a search, a filter change and the next page, with 5,000 tracks for one
person (rows made directly, each with an analysis job, an analysis and some with a comment; no audio).

Each request goes through Django as a browser's would (the test client: middleware, session, view, template),
timed in the process: the server's time, without the network. Every figure is measured twice in the same run,
with a library of 60 tracks and one of ``--tracks``, so the ratio shows what the library's length costs; and
the list as the page built it before it was paged (every row at once) is timed as the baseline. The number of
queries of each request is counted at both sizes (they must be equal: tests/test_library.py pins it too).

    .venv/bin/python bench/library.py [--tracks 5000] [--runs 40] [--database-url postgres://...]

On SQLite unless ``--database-url`` names another database (its tables are made afresh in a database of
their own, ``<name>_bench``, which is dropped afterwards). Targets: p95 <= 100 ms for each at 5,000 tracks.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REQUESTS = {
    "library page": "/",
    "search": "/?q=band+3",
    "search, a typo": "/?q=midnigt",
    "filter change": "/?sort=bpm&key=8A&bpm_min=100&bpm_max=140",
    "next page": None,  # the first page's own next-page address
}
HTMX = {"filter change", "next page", "search, a typo"}


def setup(database_url: str | None, folder: Path) -> None:
    os.environ["SOUNDFORGE_VAR_DIR"] = str(folder)
    if database_url:
        base, _, name = database_url.rpartition("/")
        os.environ["DATABASE_URL"] = f"{base}/{name}_bench"
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}_bench"')
            admin.execute(f'CREATE DATABASE "{name}_bench"')
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soundforge.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as make run does: pages name hashed files


def fill(owner, start: int, count: int) -> None:
    """``count`` tracks for ``owner``, as an upload and an analysis would leave them, in bulk."""
    import uuid

    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from tracks.files import storage
    from tracks.models import AnalysisResult, Comment, Job, Track
    from tracks.music import keys

    rng = random.Random(start)
    labels = list(keys.CAMELOT)
    words = ["midnight", "drive", "neon", "river", "ghost", "fire", "summer", "static", "echo", "velvet"]
    now = timezone.now()
    tracks = []
    for i in range(start, start + count):
        track_uuid = uuid.uuid4()
        track = Track(uuid=track_uuid, owner=owner, title=f"{rng.choice(words).title()} {rng.choice(words)} {i}",
                      artist=f"Band {i % 40}", album=f"Album {i % 300}", year=1970 + i % 50, genre="Rock",
                      original_name=f"track_{i:05d}.mp3", file=storage.original_name(track_uuid, "mp3"),
                      format="mp3", codec="mp3float", duration=120 + i % 240, sample_rate=44100, channels=2,
                      size=5_000_000, sha256=f"{i:064x}", created=now - timezone.timedelta(minutes=i))
        track.search_text = track.searched_text(comments=[])
        tracks.append(track)
    Track.objects.bulk_create(tracks, batch_size=500)
    made = list(Track.objects.filter(owner=owner, sha256__in=[t.sha256 for t in tracks]))
    jobs = Job.objects.bulk_create([Job(track=t, kind=Job.Kind.ANALYSIS, status=Job.Status.SUCCEEDED, progress=1.0,
                                        finished=now) for t in made], batch_size=500)
    AnalysisResult.objects.bulk_create([
        AnalysisResult(track=t, job=j, analyzer_version="3", tempo=round(rng.uniform(70, 180), 2),
                       key_label=rng.choice(labels), data={}) for t, j in zip(made, jobs, strict=True)],
        batch_size=500)
    # What AnalysisResult.save does for one, for all: each track's current analysis.
    newest = AnalysisResult.objects.filter(track=OuterRef("pk")).order_by("-created", "-id").values("pk")[:1]
    Track.objects.filter(pk__in=[t.pk for t in made]).update(current_analysis=Subquery(newest))
    Comment.objects.bulk_create([Comment(track=t, author=owner, at=1.0, text="the chorus comes in late")
                                 for t in made[::10]], batch_size=500)


def timed(client, path: str, htmx: bool, runs: int) -> tuple[list[float], int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    times, queries, body = [], 0, ""
    for n in range(runs + 2):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.get(path, **headers)
            took = time.perf_counter() - began
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        if n >= 2:  # two to warm up
            times.append(took * 1000)
        queries, body = len(captured), response.content.decode()
    return times, queries, body


def next_page(body: str) -> str:
    import re

    found = re.search(r'hx-get="(/\?list=mine&amp;cursor=[^"]+)"', body)
    assert found, "the first page has a next page"
    return found.group(1).replace("&amp;", "&")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def measure(client, runs: int) -> dict[str, tuple[list[float], int, int]]:
    out = {}
    first = ""
    for name, path in REQUESTS.items():
        times, queries, body = timed(client, path or next_page(first), name in HTMX, runs)
        if name == "library page":
            first = body
        out[name] = (times, queries, body.count('class="row"'))
    return out


def every_row_at_once(user, runs: int) -> list[float]:
    """The list as the page built it before it was paged: every track's row rendered (the rows in three
    queries, then the template for each)."""
    from django.db.models import OuterRef, Subquery
    from django.template.loader import render_to_string

    from tracks import access
    from tracks.models import AnalysisResult, Job

    times = []
    for n in range(max(3, runs // 8) + 1):
        began = time.perf_counter()
        latest = {"track": OuterRef("pk")}
        tracks = list(access.viewable_tracks(user).select_related("owner__profile").annotate(
            latest_job_id=Subquery(Job.objects.filter(**latest, kind=Job.Kind.ANALYSIS).values("pk")[:1]),
            latest_analysis_id=Subquery(AnalysisResult.objects.filter(**latest).values("pk")[:1])))
        jobs = Job.objects.in_bulk([t.latest_job_id for t in tracks])
        analyses = AnalysisResult.objects.defer("data").in_bulk([t.latest_analysis_id for t in tracks])
        html = "".join(render_to_string("tracks/library/track-row.html", {
            "track": t, "job": jobs.get(t.latest_job_id), "analysis": analyses.get(t.latest_analysis_id),
            "q": "", "found_in": None}) for t in tracks)
        if n:
            times.append((time.perf_counter() - began) * 1000)
        assert html.count('class="row"') == len(tracks)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soundforge-bench-") as folder:
        setup(args.database_url or None, Path(folder))
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client

        settings.ALLOWED_HOSTS = ["*"]
        settings.DEBUG = False
        user = get_user_model().objects.create_user("dj", "dj@example.com", "a long bench password")
        client = Client()
        client.force_login(user)
        small = 60  # a page and a little more: the next page exists at both sizes
        fill(user, 0, small)
        few = measure(client, args.runs)
        began = time.perf_counter()
        fill(user, small, args.tracks - small)
        filled = time.perf_counter() - began
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        many = measure(client, args.runs)
        before = every_row_at_once(user, args.runs)

        print(f"database: {connection.vendor} · tracks: {small} then {args.tracks} for one person "
              f"(made in {filled:.1f} s) · runs: {args.runs} each after two to warm up · cpus: {os.cpu_count()}")
        print(f"{'':24}{'p50 ms':>9}{'p95 ms':>9}{'rows':>6}{'queries':>9}   at {small}: p95 ms, queries"
              f"   p95 ratio")
        for name in REQUESTS:
            t_many, q_many, rows = many[name]
            t_few, q_few, _ = few[name]
            print(f"{name:24}{statistics.median(t_many):9.1f}{p95(t_many):9.1f}{rows:6d}{q_many:9d}"
                  f"   {p95(t_few):10.1f} {q_few:3d}     {p95(t_many) / p95(t_few):9.2f}")
        print(f"{'every row at once':24}{statistics.median(before):9.1f}{p95(before):9.1f}{args.tracks:6d}"
              f"{3:9d}   (the list before it was paged)")
        worst = max(p95(times) for times, _, _ in many.values())
        same = all(many[n][1] == few[n][1] for n in REQUESTS)
        print(f"worst p95 at {args.tracks} tracks: {worst:.1f} ms (target <= 100) · queries the same at both "
              f"sizes: {'yes' if same else 'NO'} · paged page / every row at once, p95: "
              f"{p95(many['library page'][0]) / p95(before):.3f}")
    if args.database_url:
        import psycopg
        from django.db import connections

        connections.close_all()
        name = args.database_url.rpartition("/")[2]
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}_bench" WITH (FORCE)')  # the pool's idle connections


if __name__ == "__main__":
    main()
