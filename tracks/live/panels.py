"""The parts of the pages that change: each panel's template, the data it shows and the facts it depends on.

A track's page is its panels (``templates/tracks/panels/<name>.html``, each an element with a stable id such
as ``job-panel-<uuid>``); the library is its rows. The page, the htmx replies and the pushes all render them
from here, so a panel is one entry below and one template. ``events.changed(track, *facts)`` pushes exactly
the panels that show one of the facts that changed; the panels rendered for one person (their controls)
are fetched again by the page when the ``access`` fact changes.

Adding a panel: its template, an entry in ``PANELS`` (name, facts, data), and an include in
``track_detail.html``; the actions that change what it shows already announce their facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Max, Q, Sum, When
from django.template.loader import get_template, render_to_string
from django.utils.functional import SimpleLazyObject

from .. import access
from ..models import Job, Track
from ..music import charts, cues
from ..ports import contract

# What can change about a track; each action announces the facts it changed.
JOB = "job"  # a job was queued, moved on, or ended (the job panels show every kind)
ANALYSIS = "analysis"  # a new analysis, or its tempo corrected
STEMS = "stems"  # a separation's stems arrived or went
COMMENTS = "comments"
ACTIVITY = "activity"
TITLE = "title"
ACCESS = "access"  # who may see or do what: open pages ask again (events.access_changed)
CUES = "cues"  # a cue added, changed or removed (an analysis proposes them: ANALYSIS covers those)
FACTS = frozenset({JOB, ANALYSIS, STEMS, COMMENTS, ACTIVITY, TITLE, ACCESS, CUES})


def jobs_data(track: Track) -> dict[str, Any]:
    """The job panels: the latest job of each kind (tracks/jobs/kinds.py), and the analysis's headline
    figures."""
    jobs = track.latest_jobs()
    return {**{job_name(kind): jobs.get(kind) for kind in Job.Kind}, "analysis": track.latest_analysis(with_data=False)}


def job_name(kind: str) -> str:
    """The name the panels' templates give the latest job of a kind: ``job`` for the analysis (the page's
    first), ``<kind>_job`` for the others."""
    return "job" if kind == Job.Kind.ANALYSIS else f"{kind}_job"


def follow_data(track: Track) -> dict[str, Any]:
    """The chords, bars and sections the page follows the playhead through; cached by the analysis and its
    tempo correction (templates/tracks/panels/follow-panel.html), so the analysis's data is read only when the
    cache misses."""
    analysis = track.latest_analysis(with_data=False)
    return {"follow_version": (analysis.pk, analysis.tempo_factor) if analysis else None,
            # Called by the template, inside its cache block.
            "follow": lambda: charts.follow(analysis.shown) if analysis else None}


def results_data(track: Track) -> dict[str, Any]:
    """The analysis with its pictures, and the stems with their mixer. Both panels are cached by what they
    show (templates/tracks/panels/*.html), so the analysis's data, the pictures and the waveforms are loaded
    only when the cache misses."""
    analysis = track.latest_analysis(with_data=False)
    return {
        "analysis": analysis,
        "charts": SimpleLazyObject(lambda: charts.for_analysis(analysis.shown)) if analysis else None,
        "stem_sets": SimpleLazyObject(lambda: stem_sets(track)),
        # The stems panel shows the separations, the beats of its click track, the title in its download
        # names, and the notes of the latest transcription.
        "stems_version": (list(track.stems.order_by("job_id").values_list("job_id", flat=True).distinct()),
                          analysis.pk if analysis else None, analysis.tempo_factor if analysis else "",
                          track.title, track.jobs.filter(kind=Job.Kind.TRANSCRIPTION, status=Job.Status.SUCCEEDED)
                          .values_list("pk", flat=True).first()),
    }


def stem_sets(track: Track) -> list[dict[str, Any]]:
    """The track's separations that have stems, newest first: the first one is the mixer's."""
    sets: dict[int, dict[str, Any]] = {}
    for stem in track.stems.select_related("job").order_by("-job__created", "-job_id", "id"):
        entry = sets.setdefault(stem.job_id, {"job": stem.job, "model": stem.model, "format": stem.format,
                                               "stems": []})
        entry["stems"].append(stem)
    for entry in sets.values():
        entry["strips"] = [{"stem": s, "notes": charts.note_range(s.notes)} for s in entry["stems"]]
        entry["melodic"] = [s.name for s in entry["stems"] if s.name in contract.MELODIC_STEMS]
    found = list(sets.values())
    if found:  # the mixer's stems are the timeline's lanes
        found[0]["lanes"] = charts.lanes(found[0]["stems"])
    return found


ACTIVITY_SHOWN = 30


def comments_data(track: Track) -> dict[str, Any]:
    """The comments, each with its marker's place on the timeline."""
    comments = list(track.comments.select_related("author__profile"))
    for comment in comments:
        comment.x = round(comment.at / track.duration * charts.WIDTH, 1) if track.duration else 0
    return {"comments": comments}


def cues_data(track: Track) -> dict[str, Any]:
    """The cues, each with its marker's place on the timeline, and the colours a cue may take."""
    found = list(track.cues.all())
    for cue in found:
        cue.x = round(cue.at / track.duration * charts.WIDTH, 1) if track.duration else 0
        cue.hex = cues.COLOURS.get(cue.colour, cue.colour)
    return {"cues": found, "cue_colours": cues.COLOURS}


def activity_data(track: Track) -> dict[str, Any]:
    return {"activities": track.activities.select_related("actor__profile")[:ACTIVITY_SHOWN]}


def no_data(track: Track) -> dict[str, Any]:
    """A panel that shows the track itself, or whose data the caller gives (who is on the page; a person's
    rights and forms)."""
    return {}


@dataclass(frozen=True)
class Panel:
    name: str  # its template is templates/tracks/panels/<name>.html, its element's id <name>-<track uuid>
    facts: frozenset[str]  # what it shows: a change to any of them pushes it again
    data: Callable[[Track], dict[str, Any]]  # what it shows, beside the track
    per_person: bool = False  # rendered for one person (never pushed: fetched when access changes)

    @property
    def template(self) -> str:
        return f"tracks/panels/{self.name}.html"


PANELS = {panel.name: panel for panel in (
    Panel("presence-panel", frozenset(), no_data),  # pushed by presence.py with who is there
    Panel("title-panel", frozenset({TITLE, ANALYSIS}), results_data),
    Panel("follow-panel", frozenset({ANALYSIS}), follow_data),
    Panel("stems-panel", frozenset({STEMS, ANALYSIS, TITLE}), results_data),
    Panel("render-panel", frozenset({JOB}), jobs_data),
    Panel("transcription-panel", frozenset({JOB}), jobs_data),
    Panel("job-panel", frozenset({JOB}), jobs_data),
    Panel("separation-job-panel", frozenset({JOB}), jobs_data),
    Panel("separate-panel", frozenset({ACCESS}), no_data, per_person=True),
    Panel("cues-panel", frozenset({CUES, ANALYSIS}), cues_data),
    Panel("comments-panel", frozenset({COMMENTS}), comments_data),
    Panel("comment-box", frozenset({ACCESS}), no_data, per_person=True),
    Panel("analysis-panel", frozenset({ANALYSIS}), results_data),
    Panel("controls", frozenset({ACCESS, TITLE}), no_data, per_person=True),
    Panel("sharing-panel", frozenset(), no_data, per_person=True),  # the owner's, in htmx replies
    Panel("activity-panel", frozenset({ACTIVITY}), activity_data),
)}
# Pushed to the page whenever one of their facts changes.
LIVE = tuple(name for name, panel in PANELS.items() if panel.facts and not panel.per_person)
# The facts a library row shows (its job, tempo and key, title).
ROW_FACTS = frozenset({JOB, ANALYSIS, TITLE})


def affected(facts: set[str] | frozenset[str]) -> tuple[str, ...]:
    """The live panels that show any of ``facts``, in page order."""
    unknown = set(facts) - FACTS
    if unknown:
        raise ValueError(f"unknown facts: {', '.join(sorted(unknown))}")
    return tuple(name for name in LIVE if PANELS[name].facts & facts)


def data(track: Track, names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The context of the panels ``names`` of a track: each data function once."""
    context: dict[str, Any] = {"track": track}
    for function in dict.fromkeys(PANELS[name].data for name in names):
        context.update(function(track))
    return context


def render(track: Track, names: tuple[str, ...] | list[str], request: Any = None, /, **extra: Any) -> str:
    """The panels ``names`` of a track, one after the other (``extra`` adds to their context)."""
    context = {**data(track, names), **extra}
    return "".join(render_to_string(PANELS[name].template, context, request) for name in names)


def page_data(track: Track) -> dict[str, Any]:
    """Everything the track page's panels show but the person's own controls."""
    return data(track, [name for name, panel in PANELS.items() if not panel.per_person])


def row_data(track: Track) -> dict[str, Any]:
    """A library row: its job (work under way of any kind, else the latest analysis: Job.on_row) and the
    analysis's headline figures."""
    return {"track": track, "job": Job.on_row(track).first(),
            "analysis": track.latest_analysis(with_data=False), "q": "", "found_in": None}


ROW_TEMPLATE = "tracks/library/track-row.html"
CHANGED_TEMPLATE = "tracks/library/changed.html"
RECENT_ROWS = 50


def render_row(track: Track) -> str:
    return render_to_string(ROW_TEMPLATE, row_data(track))


def library_version(user: Any) -> str:
    """What the person's library holds, in a word: it differs once a track is added to it or leaves it (the
    count, the newest id and the sum of the ids of the tracks they may see)."""
    found = access.viewable_tracks(user).order_by().aggregate(n=Count("id"), newest=Max("id"), ids=Sum("id"))
    return f"{found['n']}-{found['newest'] or 0}-{found['ids'] or 0}"


def render_library_changed(user: Any) -> str:
    """The library page's #library-changed, which has the page fetch its list again when the version differs
    from the one it shows (static/js/library.js)."""
    return render_to_string(CHANGED_TEMPLATE, {"version": library_version(user)})


def library_state(user: Any, since: float | None) -> str:
    """What a library page's socket is sent as it opens: the library's version, the person's queue, and the
    rows of the tracks whose jobs moved since the page was rendered (``since``, Unix time; those with work
    under way without one), so a page misses nothing that happened before its socket opened."""
    moved = Q(jobs__status__in=Job.ACTIVE)
    if since is not None:
        at = datetime.fromtimestamp(since, tz=UTC)
        moved |= Q(jobs__created__gte=at) | Q(jobs__finished__gte=at) | Q(jobs__started__gte=at)
    recent = access.viewable_tracks(user).filter(moved).distinct().order_by("-created")[:RECENT_ROWS]
    return (render_library_changed(user) + render_queue(user.pk)
            + "".join(render_row(track) for track in recent))


QUEUE_TEMPLATE = "tracks/library/job-queue.html"
QUEUE_SHOWN = 8
_QUEUE_ORDER = Case(When(status=Job.Status.RUNNING, then=0), When(status=Job.Status.QUEUED, then=1), default=2)


def queue_data(user_id: int) -> dict[str, Any]:
    """The library's queue: how many of the jobs a person asked for are running, queued and waiting their
    turn, and the first few in the order they will run."""
    mine = Job.objects.filter(requested_by_id=user_id, status__in=Job.ACTIVE)
    counts = dict(mine.order_by().values_list("status").annotate(n=Count("id")))
    total = sum(counts.values())
    first = list(mine.select_related("track").annotate(place=_QUEUE_ORDER).order_by("place", "created", "id")
                 [:QUEUE_SHOWN]) if total else []
    return {"queue": first, "more": total - len(first), "at_once": settings.MAX_ACTIVE_JOBS,
            **{status: counts.get(status, 0) for status in Job.ACTIVE}}


def render_queue(user_id: int) -> str:
    return render_to_string(QUEUE_TEMPLATE, queue_data(user_id))


def load_templates() -> None:
    """Compile the templates pushes render: a worker does this once, before it forks a work-horse per job,
    which would otherwise compile them for its first push (the track page's panels took ~90 ms)."""
    for name in (*(PANELS[n].template for n in (*LIVE, "presence-panel")), ROW_TEMPLATE, CHANGED_TEMPLATE,
                 QUEUE_TEMPLATE):
        get_template(name)
