"""The job-kind registry (tracks/jobs/kinds.py): every kind's entry is whole, and a new kind is one entry and
its body: enqueued, run by a real worker through a real port, cancelled and recovered with no other change."""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from tests.helpers import track_row
from tracks import jobs
from tracks.files import storage
from tracks.jobs import kinds
from tracks.live import events, panels
from tracks.models import Job, Track
from tracks.ports import contract


def test_every_kind_has_a_whole_entry() -> None:
    assert set(kinds.KINDS) == set(Job.Kind)
    for kind, entry in kinds.KINDS.items():
        assert entry.kind == kind
        assert entry.queue in contract.QUEUES
        assert callable(import_string(entry.body)), entry.body
        assert entry.panel in panels.PANELS and panels.JOB in panels.PANELS[entry.panel].facts
        assert entry.results in panels.FACTS
    assert kinds.KINDS[Job.Kind.ANALYSIS].queue == contract.ANALYSIS_QUEUE  # never behind a separation
    assert {kinds.KINDS[k].queue for k in (Job.Kind.SEPARATION, Job.Kind.RENDER, Job.Kind.TRANSCRIPTION)} == {
        contract.PROCESSING_QUEUE}


def test_the_panel_data_names_each_kinds_latest_job(alice) -> None:
    track = track_row(alice)
    made = {kind: Job.objects.create(track=track, kind=kind) for kind in Job.Kind}
    data = panels.jobs_data(track)
    assert data["job"] == made[Job.Kind.ANALYSIS]
    for kind in (Job.Kind.SEPARATION, Job.Kind.RENDER, Job.Kind.TRANSCRIPTION):
        assert data[f"{kind}_job"] == made[kind]


# A kind that is not in the product: probe the original again and keep its duration on the row.
def probe_again(job: Job) -> None:
    def record(data: dict[str, Any]) -> None:
        Job.objects.filter(pk=job.pk).update(options={**job.options, "probed": data["duration"]})

    with storage.local_file(job.track.file) as path:
        jobs.run_and_record(job, "probe", [os.fspath(path), "--max-duration", "600"], on_success=record)


ECHO = "probe_again"


@pytest.fixture
def echo_kind(monkeypatch: pytest.MonkeyPatch) -> kinds.Kind:
    entry = kinds.Kind(ECHO, contract.ANALYSIS_QUEUE, f"{__name__}.probe_again", lambda track: 60.0,
                       panel="job-panel", results=panels.ANALYSIS, noun="this probe")
    monkeypatch.setitem(kinds.KINDS, ECHO, entry)
    return entry


def stored_track(owner: Any, path: Path) -> Track:
    track = track_row(owner, size=path.stat().st_size)
    storage.track_path(track).parent.mkdir(parents=True)
    shutil.copyfile(path, storage.track_path(track))
    return track


@pytest.mark.django_db(transaction=True)
def test_a_new_kind_is_one_entry_and_its_body(alice, bob, echo_kind: kinds.Kind, c_major_wav: Path,
                                              run_worker: Callable[[str], bool],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    track = stored_track(alice, c_major_wav)
    pushed: list[tuple[str, ...]] = []
    monkeypatch.setattr(events, "changed", lambda t, *facts: pushed.append(facts))
    with pytest.raises(PermissionDenied):
        jobs.enqueue(ECHO, track, by=bob)  # the entry's `may`: the owner and editors
    with transaction.atomic():
        job = jobs.enqueue(ECHO, track, {"asked": True}, by=alice)
    assert job.rq_id in django_rq.get_queue(echo_kind.queue).get_job_ids()
    assert run_worker(echo_kind.queue)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.options == {"asked": True, "probed": pytest.approx(12.0, abs=0.1)}
    assert (panels.JOB,) in pushed  # claimed
    assert pushed[-1] == (panels.JOB, panels.ANALYSIS, panels.ACTIVITY)  # its results, from the entry


@pytest.mark.django_db(transaction=True)
def test_a_new_kind_is_cancelled_and_recovered_like_the_others(alice, echo_kind: kinds.Kind,
                                                               c_major_wav: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    track = stored_track(alice, c_major_wav)
    left: list[Job] = []
    monkeypatch.setitem(kinds.KINDS, ECHO, dataclasses.replace(echo_kind, abandoned=left.append))
    queue = django_rq.get_queue(echo_kind.queue)
    with transaction.atomic():
        cancelled = jobs.enqueue(ECHO, track)
    assert jobs.cancel(cancelled)
    assert cancelled.rq_id not in queue.get_job_ids()

    with transaction.atomic():
        stopped = jobs.enqueue(ECHO, track)
    assert stopped.claim()  # a worker took it, then died without a heartbeat
    queue.empty()
    later = timezone.now() + timedelta(hours=1)
    assert jobs.recover(now=later)["retried"] == 1
    stopped.refresh_from_db()
    assert stopped.status == Job.Status.QUEUED and stopped.rq_id in queue.get_job_ids()
    assert [j.pk for j in left] == [stopped.pk]  # what the stopped attempt left behind, by the entry


def test_a_job_whose_inputs_are_gone_fails_and_says_so(alice, monkeypatch: pytest.MonkeyPatch) -> None:
    track = track_row(alice)
    job = Job.objects.create(track=track, kind=Job.Kind.RENDER, options={"separation": str(uuid.uuid4())})
    assert job.claim()
    pushed: list[tuple[str, ...]] = []
    monkeypatch.setattr(events, "changed", lambda t, *facts: pushed.append(facts))
    import_string(kinds.of(job).body)(job)
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.FAILED, "the stems of this mix are gone")
    assert pushed == [(panels.JOB,)]
