"""Every change a person makes to a track, each one function: it changes the models, records the activity and
announces what changed (``events.changed(track, *facts)``: once the transaction commits, the panels that
show those facts go to everyone on the track's page, and the library rows that show them to everyone who
has it). Views ask access.py and check the form first, then call one of these, then answer with a panel;
the coming API calls the same functions.

Adding an action: a function here that ends with ``events.changed`` naming the facts it changed (panels.py);
its view and route; its row in the access table (tests/test_sharing.py).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import Truncator

from . import access, accounts, jobs, limits, search
from .files import storage, uploads
from .live import events
from .live.panels import ACCESS, ACTIVITY, ANALYSIS, COMMENTS, CUES, JOB, TITLE
from .models import Activity, AnalysisResult, Comment, Cue, Job, Share, ShareLink, Track
from .music import cues, tempo
from .music.labels import clock

# -- tracks ----------------------------------------------------------------------------------------------------


def upload(file: Any, user: Any) -> Track:
    """Store an upload as the person's track and queue its analysis, in one transaction (uploads.AudioRejected
    or limits.QuotaFull, with nothing kept, when it cannot be)."""

    def started(track: Track) -> None:
        Activity.record(track, Activity.Verb.UPLOADED, user, detail=track.original_name)
        jobs.enqueue(Job.Kind.ANALYSIS, track, by=user, limited=False)

    track = uploads.store_upload(file, user, then=started)
    events.library_changed(user.pk)
    events.track_created(track)
    return track


DETAILS = ("title", "artist", "album", "year", "genre")  # what a person may say about a track (forms.DetailsForm)


@transaction.atomic
def describe(track: Track, user: Any, **details: Any) -> None:
    """A track's title and tags (DETAILS) as a person set them: only those given, only if they differ."""
    changed = {name: value for name, value in details.items() if getattr(track, name) != value}
    if not changed:
        return
    old = track.title
    for name, value in changed.items():
        setattr(track, name, value)
    track.save(update_fields=list(changed))
    if "title" in changed:  # both names, each cut to fit the detail's 200 characters
        Activity.record(track, Activity.Verb.RENAMED, user,
                        detail=f"from “{Truncator(old).chars(90)}” to “{Truncator(track.title).chars(90)}”")
    if tags := [name for name in DETAILS if name in changed and name != "title"]:
        Activity.record(track, Activity.Verb.TAGGED, user, detail=", ".join(tags))
    events.changed(track, TITLE, ACTIVITY)


def delete(track: Track) -> None:
    """The track, its files once the deletion commits, and its jobs: queued ones leave Redis now; running
    ones see their row go and stop their port. Open pages of it end; it leaves every library."""
    audience = list(access.audience(track))
    for job in track.jobs.filter(status__in=Job.ACTIVE):
        jobs.cancel(job)
    with transaction.atomic():
        track.delete()
        transaction.on_commit(lambda: storage.delete_files(track))
        for user_id in audience:
            events.library_changed(user_id)
        events.changed(track, ACCESS)


# -- jobs ------------------------------------------------------------------------------------------------------


def start(kind: str, track: Track, user: Any, options: dict[str, Any] | None = None) -> Job | None:
    """Queue a job of this kind (tracks/jobs/kinds.py) with these checked options, unless one is under way
    (None then); what it will store counts against the owner's quota before it exists (what a newer
    separation with the same model replaces is counted too: a safe overestimate). The job made, queued or
    waiting its turn; limits.Busy when too many of the person's wait already, limits.QuotaFull when it would
    not fit."""
    if track.working_on(kind):
        return None
    entry = jobs.KINDS[kind]
    with transaction.atomic():
        if entry.reserve:
            limits.reserve(track.owner, entry.reserve(track, options or {}), entry.noun)
        job = jobs.enqueue(kind, track, options, by=user)
        events.changed(track, JOB)
    return job


def cancel(job: Job) -> None:
    if jobs.cancel(job):
        events.changed(job.track, JOB)
        events.job_event(job, "job.cancelled")


@transaction.atomic
def retime(track: Track, user: Any, factor: float | None) -> AnalysisResult | None:
    """A tempo correction (None: back to the tracked tempo); None when it leads to no sensible tempo. The
    proposed cues move to the corrected bar lines (a person's stay where they are)."""
    analysis = track.correct_tempo(factor)
    if analysis is None:
        return None
    Cue.propose(track, cues.found(analysis.shown, track.duration))
    Activity.record(track, Activity.Verb.RETIMED, user,
                    detail=f"to {analysis.tempo:.1f} BPM" + (f" ({tempo.label(analysis.factor)})"
                                                             if analysis.factor != 1 else " (as tracked)"))
    events.changed(track, ANALYSIS, ACTIVITY)
    return analysis


# -- sharing ---------------------------------------------------------------------------------------------------


@transaction.atomic
def share(request: HttpRequest, track: Track, role: str, user: Any = None, email: str = "") -> Share:
    """Share with an account or an address (accounts.share, which records it and mails them); pages the
    person has open (through a link, say) gain their controls."""
    found, _ = accounts.share(request, track, role, user=user, email=email)
    if found.user_id:
        events.library_changed(found.user_id)
    events.changed(track, ACCESS, ACTIVITY)
    return found


@transaction.atomic
def change_role(track: Track, by: Any, found: Share, role: str) -> None:
    found.role = role
    found.save(update_fields=["role"])
    Activity.record(track, Activity.Verb.ROLE_CHANGED, by, detail=f"of {found.in_activity} to {role}")
    events.changed(track, ACCESS, ACTIVITY)


@transaction.atomic
def unshare(track: Track, by: Any, found: Share) -> None:
    found.delete()
    Activity.record(track, Activity.Verb.UNSHARED, by, detail=found.in_activity)
    if found.user_id:
        events.library_changed(found.user_id)
    events.changed(track, ACCESS, ACTIVITY)


@transaction.atomic
def add_link(track: Track, by: Any, **fields: Any) -> ShareLink:
    link = ShareLink.objects.create(track=track, **fields)
    Activity.record(track, Activity.Verb.LINKED, by, detail=link.access)
    events.changed(track, ACTIVITY)
    return link


@transaction.atomic
def revoke_link(track: Track, by: Any, link: ShareLink) -> None:
    link.revoke()
    Activity.record(track, Activity.Verb.UNLINKED, by, detail=link.access)
    events.changed(track, ACCESS, ACTIVITY)


# -- comments --------------------------------------------------------------------------------------------------


@transaction.atomic
def comment(track: Track, author: Any, at: float, text: str) -> Comment:
    made = Comment.objects.create(track=track, author=author, at=at, text=text)
    Activity.record(track, Activity.Verb.COMMENTED, author, detail=f"at {clock(at)}")
    search.refresh(track)
    events.changed(track, COMMENTS, ACTIVITY)
    return made


def edit_comment(found: Comment, text: str) -> None:
    found.text, found.edited = text, timezone.now()
    found.save(update_fields=["text", "edited"])
    search.refresh(found.track)
    events.changed(found.track, COMMENTS)


def delete_comment(found: Comment) -> None:
    found.delete()
    search.refresh(found.track)
    events.changed(found.track, COMMENTS)


# -- cues ------------------------------------------------------------------------------------------------------


@transaction.atomic
def add_cue(track: Track, user: Any, at: float, name: str, colour: str) -> Cue:
    made = Cue.objects.create(track=track, at=at, name=name, colour=colour, changed_by=user)
    Activity.record(track, Activity.Verb.CUED, user, detail=f"added {name} at {clock(at)}")
    events.changed(track, CUES, ACTIVITY)
    return made


@transaction.atomic
def change_cue(found: Cue, user: Any, at: float, name: str, colour: str) -> None:
    """A cue renamed, recoloured or moved; one the analysis proposed is the person's from now on."""
    found.at, found.name, found.colour, found.auto, found.changed_by = at, name, colour, False, user
    found.save(update_fields=["at", "name", "colour", "auto", "changed_by"])
    Activity.record(found.track, Activity.Verb.CUED, user, detail=f"changed {name} at {clock(at)}")
    events.changed(found.track, CUES, ACTIVITY)


@transaction.atomic
def delete_cue(found: Cue, user: Any) -> None:
    found.delete()
    Activity.record(found.track, Activity.Verb.CUED, user, detail=f"removed {found.name}")
    events.changed(found.track, CUES, ACTIVITY)
