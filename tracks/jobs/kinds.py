"""Every kind of job, one entry each: its queue, its body, its time limit, who may start it, what it reserves
of the owner's quota, the panel that shows it and the facts its success changes.

Enqueueing, running, recovering, cancelling and pushing read these entries and nothing else about a kind.
Adding a kind: a ``Job.Kind`` choice (and its migration), a module in this package with its body (see
analysis.py: a function of the claimed job that runs a port through ``running.run_and_record``), an entry
below, its panel (tracks/live/panels.py; templates know the kind's latest job as ``<kind>_job``) and the view
that starts it through ``actions.start``. An entry names its body by path: the bodies import the running
code, which reads these entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from .. import access, limits
from ..files import storage
from ..live import panels
from ..models import Job, Track
from ..ports import contract

Who = Callable[[access.Actor, Track], bool]


def may_render(who: access.Actor, track: Track) -> bool:
    """A render is a download made by a worker: for signed-in people who may download the track."""
    return who.is_authenticated and access.can_download(who, track)


def long_job_timeout(track: Track) -> float:
    """A separation, a render or a transcription: a base time plus so much per minute of audio."""
    return settings.SEPARATION_TIMEOUT_S + settings.SEPARATION_TIMEOUT_PER_MINUTE_S * track.duration / 60


def analysis_timeout(track: Track) -> float:
    return settings.ANALYSIS_TIMEOUT_S


@dataclass(frozen=True)
class Kind:
    kind: Job.Kind
    queue: str  # contract.QUEUES
    body: str  # the dotted path of the work on a claimed job (running.run calls it with the row)
    timeout: Callable[[Track], float]  # the port's time limit; RQ's is a minute more
    panel: str  # the element id (less the track's uuid) of the panel that shows this kind's latest job
    # The fact (panels.FACTS) its success changes besides the job panels and the activity: a separation's is the
    # stems, not the analysis (the page's largest panel: pushed to two hundred people when a separation
    # ended, for nothing, it was most of 55 MB of websocket writes).
    results: str
    noun: str  # "this separation": what a refusal names
    may: Who = access.can_edit  # who may start one (checked again at enqueue, whatever door it came through)
    # What it will store, counted against the owner's quota before it is queued (None: nothing kept).
    reserve: Callable[[Track, dict[str, Any]], int] | None = None
    # What an attempt that stopped leaves behind, removed when recovery retries or fails it.
    abandoned: Callable[[Job], None] | None = None


KINDS: dict[str, Kind] = {entry.kind: entry for entry in (
    Kind(Job.Kind.ANALYSIS, contract.ANALYSIS_QUEUE, "tracks.jobs.analysis.analyse", analysis_timeout,
         panel="job-panel", results=panels.ANALYSIS, noun="this analysis"),
    Kind(Job.Kind.SEPARATION, contract.PROCESSING_QUEUE, "tracks.jobs.separation.separate", long_job_timeout,
         panel="separation-job-panel", results=panels.STEMS, noun="this separation",
         reserve=lambda track, options: limits.separation_bytes(track, options["model"], options["format"]),
         abandoned=storage.delete_stem_files),
    Kind(Job.Kind.RENDER, contract.PROCESSING_QUEUE, "tracks.jobs.render.render", long_job_timeout,
         panel="render-panel", results=panels.JOB, noun="this render", may=may_render,
         reserve=limits.render_bytes),
    Kind(Job.Kind.TRANSCRIPTION, contract.PROCESSING_QUEUE, "tracks.jobs.transcription.transcribe", long_job_timeout,
         panel="transcription-panel", results=panels.STEMS,
         noun="this transcription", may=may_render),
)}
QUEUES = {kind: entry.queue for kind, entry in KINDS.items()}


def of(job: Job) -> Kind:
    return KINDS[job.kind]
