"""RQ job functions: thin, keyed by primary key, sharing one run-and-record helper.

A job claims its row (QUEUED -> RUNNING) atomically, runs a port through ports/runner.py, records the
result or a clear error on the row, and pushes every change to the pages through events.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import django_rq
import redis
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from . import access, cues, events, limits, logs, panels, storage
from .models import Activity, AnalysisResult, Cue, Job, Stem, Track
from .ports import contract, runner

logger = logging.getLogger(__name__)

ANALYSIS_FEATURES = ",".join(contract.FEATURES)
PUSH_INTERVAL_S = 0.1
HEARTBEAT_S = 5.0
QUEUES = {Job.Kind.ANALYSIS: "analysis", Job.Kind.SEPARATION: "processing", Job.Kind.RENDER: "processing",
          Job.Kind.TRANSCRIPTION: "processing"}


def enqueue_analysis(track: Track, by: Any = None, limited: bool = True) -> Job:
    """Queue an analysis of the track once the surrounding transaction commits. The caller has asked
    access.py, and says what to push to the pages (a new track changes the library list, a re-run only the
    track). An upload's own analysis is not ``limited`` (uploads have their rate and the storage quota)."""
    job = Job.objects.create(track=track, kind=Job.Kind.ANALYSIS, requested_by=_user(by, track, limited))
    _enqueue(job)
    return job


def enqueue_separation(track: Track, model: str, fmt: str, by: Any = None) -> Job:
    """Queue a separation on the processing queue once the transaction commits (the caller has asked
    access.py); it may run for a base time plus so much per minute of audio."""
    job = Job.objects.create(track=track, kind=Job.Kind.SEPARATION, options={"model": model, "format": fmt},
                             requested_by=_user(by, track, limited=True))
    _enqueue(job)
    return job


def may_render(who: access.Actor, track: Track) -> bool:
    """A render is a download made by a worker: for signed-in people who may download the track."""
    return who.is_authenticated and access.can_download(who, track)


def enqueue_render(track: Track, separation: Job, options: dict[str, Any], by: Any = None) -> Job:
    """Queue a render of one separation's mix (``options``: gains, pans, rate, semitones, start, end, format;
    the caller has asked access.py and checked them) on the processing queue once the transaction commits."""
    job = Job.objects.create(track=track, kind=Job.Kind.RENDER, options={**options, "separation": str(separation.uuid)},
                             requested_by=_user(by, track, limited=True, may=may_render))
    _enqueue(job)
    return job


def enqueue_transcription(track: Track, separation: Job, stems: list[str], by: Any = None) -> Job:
    """Queue the transcription of some of a separation's stems to MIDI (the caller has asked access.py and
    checked that the separation has them) on the processing queue once the transaction commits. Like a
    render, for those who may take the track away: a piano roll and a .mid are a download."""
    job = Job.objects.create(track=track, kind=Job.Kind.TRANSCRIPTION,
                             options={"separation": str(separation.uuid), "stems": stems},
                             requested_by=_user(by, track, limited=True, may=may_render))
    _enqueue(job)
    return job


def _enqueue(job: Job) -> None:
    if job.kind == Job.Kind.ANALYSIS:
        function, timeout = analyse_track, settings.ANALYSIS_TIMEOUT_S
    elif job.kind == Job.Kind.RENDER:
        function, timeout = render_mix, separation_timeout(job.track)
    elif job.kind == Job.Kind.TRANSCRIPTION:
        function, timeout = transcribe_stems, separation_timeout(job.track)
    else:
        function, timeout = separate_track, separation_timeout(job.track)
    django_rq.get_queue(QUEUES[job.kind]).enqueue(function, job.pk, job_id=job.rq_id, job_timeout=timeout + 60)


def recover(now: datetime | None = None) -> dict[str, int]:
    """Make sure no job stays queued or running for nobody; run at start-up and every little while.

    - Running, but its worker stopped (no heartbeat for ``JOB_STALE_S``, or RQ itself says the job failed,
      as when a work-horse is killed): queued again under a new RQ id while it has attempts left
      (``JOB_ATTEMPTS``), else failed with "the worker stopped".
    - Queued in the database but not in Redis (Redis restarted without its data): enqueued again.

    Every change is pushed to the pages. Returns how many jobs were retried, failed and re-enqueued."""
    now = now or timezone.now()
    counts = {"retried": 0, "failed": 0, "requeued": 0}
    stale = now - timedelta(seconds=settings.JOB_STALE_S)
    for job in Job.objects.select_related("track").filter(status=Job.Status.RUNNING):
        rq_job = django_rq.get_queue(QUEUES[job.kind]).fetch_job(job.rq_id)
        rq_failed = rq_job is not None and rq_job.get_status(refresh=False) in ("failed", "stopped", "canceled")
        if not rq_failed and (job.heartbeat or job.started or now) >= stale:
            continue
        if job.attempts < settings.JOB_ATTEMPTS:
            if job.requeue(f"{job.uuid}-{job.attempts + 1}", "retrying: the worker stopped"):
                _enqueue(job)
                counts["retried"] += 1
                logger.warning("job %s: its worker stopped; queued again (attempt %d)", job.uuid, job.attempts + 1)
        elif job.fail(f"the worker stopped while running this job ({job.attempts} attempts)"):
            counts["failed"] += 1
            logger.warning("job %s: its worker stopped; failed after %d attempts", job.uuid, job.attempts)
        if job.kind == Job.Kind.SEPARATION and job.status != Job.Status.RUNNING:
            storage.delete_stem_files(job)
        events.changed(job.track, panels.JOB)
    grace = now - timedelta(seconds=settings.JOB_ENQUEUE_GRACE_S)
    for job in Job.objects.select_related("track").filter(status=Job.Status.QUEUED, created__lt=grace):
        queue = django_rq.get_queue(QUEUES[job.kind])
        rq_job = queue.fetch_job(job.rq_id)
        if rq_job is None or rq_job.get_status(refresh=False) not in ("queued", "started", "deferred", "scheduled"):
            _enqueue(job)
            counts["requeued"] += 1
            logger.warning("job %s was queued but not in Redis; enqueued again", job.uuid)
    return counts


def _user(by: Any, track: Track, limited: bool, may: Callable[[access.Actor, Track], bool] | None = None) -> Any:
    """Who asked for a job, checked once more here: whatever door the request came through, only those who
    may change a track (or, for a render, ``may``) start work on it, and no one more than
    SOUNDFORGE_MAX_ACTIVE_JOBS at once."""
    if by is None:
        return None
    if not (may or access.can_edit)(access.Actor(by), track):
        raise PermissionDenied("You may not start jobs on this track.")
    if limited:
        limits.check_active_jobs(by)
    return by


def separation_timeout(track: Track) -> float:
    return settings.SEPARATION_TIMEOUT_S + settings.SEPARATION_TIMEOUT_PER_MINUTE_S * track.duration / 60


def cancel(job: Job) -> bool:
    """Cancel a queued or running job: a queued one never starts, a running one's port is killed by its
    worker (run_and_record's should_cancel), which also removes what it had written."""
    if not job.cancel():
        return False
    rq_job = django_rq.get_queue(QUEUES[job.kind]).fetch_job(job.rq_id)
    if rq_job is not None and rq_job.get_status(refresh=False) == "queued":
        rq_job.cancel()
    return True


# Which separation models can load here is the separation port's to say (tracks/ports/demucs_repo.py: the
# models folder, demucs's download caches, a download that can start), and asking takes a process and up to
# a few seconds of network: never in a page's request. A worker asks (check_models) and keeps the answer in
# Redis for every process; `manage.py recover` asks again when it is MODELS_FRESH_S old, a page that finds
# none queues the question and offers the built-in engine meanwhile.
MODELS_FRESH_S = 300
MODELS_KEEP_S = 3600
MODELS_ASKED_S = 60


def _redis() -> Any:
    return django_rq.get_connection(QUEUES[Job.Kind.ANALYSIS])


def _models_key() -> str:
    return f"soundforge:separation-models:{settings.MODELS_DIR}"


def separation_models() -> list[dict[str, Any]]:
    """The separation models, each with whether it can load here now and, if not, why and what to do: the
    last check's answer. Before there is one: the built-in engine, the others being checked (queued)."""
    try:
        known = _stored_models()
    except (redis.ConnectionError, redis.TimeoutError):
        known = None
    if _stale(known):
        _ask_about_models()
    if known is not None:
        return known["models"]
    checking = "being checked; reload the page in a moment"
    return [contract.BUILT_IN, *({"name": name, "available": False, "reason": checking, "source": ""}
                        for name in contract.DEMUCS_MODELS)]


def _stored_models() -> dict[str, Any] | None:
    """The last check's answer as check_models stored it ({"checked": unix time, "models": [...]}), if any."""
    raw = _redis().get(_models_key())
    return json.loads(raw) if raw else None


def _stale(known: dict[str, Any] | None) -> bool:
    return known is None or time.time() - known["checked"] > MODELS_FRESH_S


def _ask_about_models() -> None:
    """Queue check_models once, however many pages ask meanwhile."""
    try:
        if _redis().set(f"{_models_key()}:asked", 1, nx=True, ex=MODELS_ASKED_S):
            django_rq.get_queue(QUEUES[Job.Kind.ANALYSIS]).enqueue(check_models, job_timeout=120)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        logger.warning("could not queue a check of the separation models: %s", exc)


def check_models() -> list[dict[str, Any]]:
    """Ask the separation port which models can load here now, and keep the answer for every process."""
    try:
        result = runner.run_port(runner.port("demucs_separate"), ["--list-models"], timeout=60,
                                 python=settings.PORT_PYTHON or None, env=port_env())
    except runner.PortError as exc:
        logger.warning("could not list separation models: %s", exc.message)
        models = [contract.BUILT_IN]
    else:
        models = result.data["models"]
    connection = _redis()
    connection.set(_models_key(), json.dumps({"checked": time.time(), "models": models}), ex=MODELS_KEEP_S)
    connection.delete(f"{_models_key()}:asked")
    return models


def models_stale() -> bool:
    return _stale(_stored_models())


def port_limits() -> dict[str, Any]:
    """What every job's port runs under: its memory, file size and nice limits, its interpreter and
    environment (runner.run_port's keyword arguments)."""
    return {"memory_limit_mb": settings.PORT_MEMORY_MB, "max_file_mb": settings.PORT_MAX_FILE_MB,
            "nice": settings.PORT_NICE, "python": settings.PORT_PYTHON or None, "env": port_env()}


def port_env() -> dict[str, str]:
    settings.NUMBA_CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "NUMBA_CACHE_DIR": str(settings.NUMBA_CACHE_DIR),
        "PYTHONUNBUFFERED": "1",
        "SOUNDFORGE_MODELS_DIR": settings.MODELS_DIR,
    }


def run_and_record(job: Job, port: str, args: list[str], timeout: float,
                   on_success: Callable[[dict[str, Any]], None],
                   before_success: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Run a claimed job's port, keep its row and every open page up to date, record the outcome.

    ``on_success`` records the port's output in the transaction that marks the job done; ``before_success``,
    slow work on it (storing files in a bucket), runs first, outside any transaction: a write transaction
    held open meanwhile would stop every other writer of a SQLite database."""
    track = job.track

    def on_progress(p: runner.Progress) -> None:
        # The runner hands over at most one line per PUSH_INTERVAL_S on average, the newest: recorded, then
        # pushed.
        eta, at = p.extra.get("eta"), p.extra.get("read_at")
        job.set_progress(p.fraction, p.stage, float(eta) if isinstance(eta, int | float) else None,
                         float(at) if isinstance(at, int | float) else None)
        events.progressed(track)

    last_beat = time.monotonic()

    def should_cancel() -> bool:
        # The track was deleted, the job cancelled, or (our heartbeat having stopped) retried elsewhere: stop
        # the port rather than finish for nobody. Asked twice a second; the heartbeat is written less often.
        nonlocal last_beat
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            return not job.beat()
        return not job.this_run().exists()

    try:
        result = runner.run_port(
            runner.port(port),
            args,
            timeout=timeout,
            progress_interval=PUSH_INTERVAL_S,
            on_progress=on_progress,
            should_cancel=should_cancel,
            warm_socket=str(settings.ANALYZER_SOCKET) if port == "analyzer" and settings.WARM_ANALYZER else None,
            **port_limits(),
        )
        if before_success:
            before_success(result.data)
        with transaction.atomic():
            # Recorded only if the job is still ours: a job cancelled or deleted at the last moment keeps
            # nothing, and a failure to record leaves it running for the except below to fail.
            if job.succeed():
                on_success(result.data)
    except runner.PortError as exc:
        if exc.kind == "cancelled":
            logger.info("job %s cancelled", job.uuid)
            return
        logger.warning("job %s failed: %s: %s\n%s", job.uuid, exc.kind, exc.message, exc.stderr_tail)
        job.fail(exc.message)
    except Exception as exc:
        logger.exception("job %s failed unexpectedly", job.uuid)
        job.fail(f"internal error: {type(exc).__name__}")
        raise
    else:
        logger.info("job %s finished as %s in %.1f s", job.uuid, job.status, result.seconds)
    finally:
        if Track.objects.filter(pk=track.pk).exists():
            events.job_ended(track, job)


def _claim(job_pk: int) -> Job | None:
    """The job's row, now RUNNING and ours, or None when it is gone, cancelled or another worker's."""
    job = Job.objects.select_related("track").filter(pk=job_pk).first()
    if job is None or not job.claim():
        logger.info("job %s is gone, cancelled or already taken", job_pk)
        return None
    events.changed(job.track, panels.JOB)
    return job


def _run_claimed(job_pk: int, body: Callable[[Job], None]) -> None:
    """An RQ job function's work: ``body`` on the job's row once this worker has claimed it, logged as it."""
    job = _claim(job_pk)
    if job is None:
        return
    with logs.job_context(job.uuid):
        body(job)


def analyse_track(job_pk: int) -> None:
    _run_claimed(job_pk, _analyse)


def _analyse(job: Job) -> None:
    def record(data: dict[str, Any]) -> None:
        AnalysisResult.record(job, data)
        Cue.propose(job.track, cues.found(data, job.track.duration))
        Activity.record(job.track, Activity.Verb.ANALYSED, job.requested_by)

    # Once the track has stems, the analysis listens to them too: drums for the beats, bass for the chord
    # roots, and a loudness for each. The port reads local files: copies, when the storage is a bucket.
    with contextlib.ExitStack() as files:
        path = files.enter_context(storage.local_file(job.track.file))
        if not job.track.preview:
            _make_preview(job, path)
        stems = [f"--stem={name}={files.enter_context(storage.local_file(file))}"
                 for name, file in job.track.newest_stems().items()
                 if name in contract.STEMS and default_storage.exists(file)]
        run_and_record(
            job,
            "analyzer",
            [os.fspath(path), "--features", ANALYSIS_FEATURES, "--output", "json", *stems],
            timeout=settings.ANALYSIS_TIMEOUT_S,
            on_success=record,
        )


PREVIEW_TIMEOUT_S = 300


def _make_preview(job: Job, path: Path) -> None:
    """The track's preview for listen-only links (tracks/ports/preview.py), made once, as the first stage of
    its first analysis. Without one such a link plays nothing: a failure is logged, not the job's."""
    track = job.track
    name = storage.preview_name(track.file)

    def on_progress(p: runner.Progress) -> None:
        job.set_progress(0.0, p.stage)
        events.progressed(track)

    with tempfile.TemporaryDirectory(prefix="soundforge-preview-") as folder:
        out = Path(folder) / Path(name).name
        try:
            runner.run_port(runner.port("preview"), [os.fspath(path), "--output", os.fspath(out)],
                            timeout=PREVIEW_TIMEOUT_S, progress_interval=PUSH_INTERVAL_S, on_progress=on_progress,
                            should_cancel=lambda: not job.this_run().exists(), **port_limits())
        except runner.PortError as exc:
            logger.warning("job %s: no preview for track %s: %s: %s", job.uuid, track.uuid, exc.kind, exc.message)
            return
        default_storage.delete(name)  # a preview stored by an attempt that stopped before recording it
        storage.store(name, out)
    if not Track.objects.filter(pk=track.pk).update(preview=name):
        default_storage.delete(name)  # the track was deleted meanwhile
    track.preview = name


def separate_track(job_pk: int) -> None:
    _run_claimed(job_pk, _separate)


def _separate(job: Job) -> None:
    # The port writes the stems into their own folder of a local storage, else into a scratch folder from
    # which they are stored in the bucket before the job is recorded as done.
    local = storage.is_local()
    folder = storage.stems_dir(job) if local else Path(tempfile.mkdtemp(prefix="soundforge-stems-"))
    prefix = storage.stems_prefix(job)
    model, fmt = job.options.get("model", settings.DEFAULT_SEPARATION_MODEL), job.options.get("format", "wav")

    def store(data: dict[str, Any]) -> None:
        for path in [*data["stems"].values(), *(data.get("previews") or {}).values()]:
            storage.store(f"{prefix}/{Path(path).name}", Path(path))

    def record(data: dict[str, Any]) -> None:
        replaced = Stem.record(job, data, folder, prefix)
        Activity.record(job.track, Activity.Verb.SEPARATED, job.requested_by, detail=f"with {data['model']}")
        transaction.on_commit(lambda: [storage.delete_stem_files(old) for old in replaced])
        # The new stems make the analysis steadier and give each its loudness: analyse again with them.
        enqueue_analysis(job.track)

    try:
        with storage.local_file(job.track.file) as original:
            run_and_record(
                job,
                "demucs_separate",
                [os.fspath(original), "--output-dir", os.fspath(folder), "--model", model, "--format", fmt,
                 "--previews"],
                timeout=separation_timeout(job.track),
                on_success=record,
                before_success=None if local else store,
            )
    finally:
        if job.status != Job.Status.SUCCEEDED:
            # Failed, timed out, killed or cancelled: nothing half-written stays behind.
            storage.delete_prefix(prefix)
        if not local:
            shutil.rmtree(folder, ignore_errors=True)


def render_name(job: Job) -> str:
    """Where a render's file is stored: beside the track's other files, so it goes with the track."""
    return f"tracks/{job.track.uuid}/renders/{job.uuid}.{job.options.get('format', 'wav')}"


def render_mix(job_pk: int) -> None:
    _run_claimed(job_pk, _render)


def _render(job: Job) -> None:
    """The render port over the separation's stems; the file is stored, the track's older render removed."""
    options = job.options
    stems = list(job.track.stems.filter(job__uuid=options["separation"]))
    if not stems:
        job.fail("the stems of this mix are gone")
        events.job_ended(job.track, job)
        return
    name = render_name(job)
    with tempfile.TemporaryDirectory(prefix="soundforge-render-") as folder, contextlib.ExitStack() as files:
        out = Path(folder) / Path(name).name
        args = []
        for stem in stems:
            path = files.enter_context(storage.local_file(stem.file))
            gain, pan = options["gains"].get(stem.name, 1.0), options["pans"].get(stem.name, 0.0)
            args += ["--stem", f"{path}:{gain}:{pan}"]
        args += ["--rate", str(options["rate"]), "--semitones", str(options["semitones"]),
                 "--start", str(options["start"]), "--format", options["format"], "--output", os.fspath(out)]
        if options.get("end") is not None:
            args += ["--end", str(options["end"])]

        def store(data: dict[str, Any]) -> None:
            storage.store(name, out)

        def record(data: dict[str, Any]) -> None:
            older = list(Job.objects.filter(track=job.track, kind=Job.Kind.RENDER, status=Job.Status.SUCCEEDED)
                         .exclude(pk=job.pk))
            Job.objects.filter(pk=job.pk).update(options={**options, "file": name, "bytes": data["bytes"],
                                                          "duration": data["duration"]})
            for old in older:  # their files go: the quota stops counting them
                Job.objects.filter(pk=old.pk).update(options={**old.options, "bytes": 0})
            transaction.on_commit(lambda: [default_storage.delete(render_name(old)) for old in older])

        run_and_record(job, "render_mix", args, timeout=separation_timeout(job.track), on_success=record,
                       before_success=store)
        if job.status != Job.Status.SUCCEEDED:
            default_storage.delete(name)  # nothing half-written stays behind


def transcribe_stems(job_pk: int) -> None:
    _run_claimed(job_pk, _transcribe)


def _transcribe(job: Job) -> None:
    """The transcription port over the separation's stems that were asked for; each stem keeps its notes."""
    stems = {s.name: s for s in job.track.stems.filter(job__uuid=job.options["separation"],
                                                       name__in=job.options["stems"])}
    if not stems:
        job.fail("the stems to transcribe are gone")
        events.job_ended(job.track, job)
        return

    def record(data: dict[str, Any]) -> None:
        for name, notes in data["stems"].items():
            if name in stems:
                Stem.objects.filter(pk=stems[name].pk).update(notes=notes)
        Job.objects.filter(pk=job.pk).update(options={**job.options, "model": data.get("model", ""),
                                                      "notes": {k: len(v) for k, v in data["stems"].items()}})
        Activity.record(job.track, Activity.Verb.TRANSCRIBED, job.requested_by, detail=", ".join(data["stems"]))

    with contextlib.ExitStack() as files:
        args = [f"--stem={name}={files.enter_context(storage.local_file(stem.file))}"
                for name, stem in stems.items()]
        run_and_record(job, "transcribe", args, timeout=separation_timeout(job.track), on_success=record)
