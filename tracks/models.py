"""Tracks, the jobs that work on them, and what the jobs found. State transitions are model methods."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property

from .music import tempo

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
FILENAME_MAX = 150


def safe_filename(name: str) -> str:
    """A name for a downloaded file or an archive entry, whatever the title it comes from: no path
    separators or parent steps, no control or reserved characters, no reserved Windows device name, no
    leading dot, at most FILENAME_MAX characters with the extension kept."""
    cleaned = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "-", name)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(" .-") or "track"
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or len(ext) > 8 or " " in ext:
        stem, dot, ext = cleaned, "", ""
    if stem.split(" ")[0].upper() in WINDOWS_RESERVED or stem.upper() in WINDOWS_RESERVED:
        stem = "_" + stem
    stem = stem[: FILENAME_MAX - len(dot + ext)].rstrip(" .")
    return f"{stem}{dot}{ext}"


def display_name(user: Any) -> str:
    """How a person is shown to others (collaborators and link holders alike): the display name they chose,
    never their email address."""
    if user is None:
        return "Someone"
    try:
        return user.profile.display_name
    except (Profile.DoesNotExist, AttributeError):
        return Profile.free_name(user.email or user.get_username())


def fold(text: str) -> str:
    """Lower case, accents off ("Beyoncé" → "beyonce"): how search compares (tracks/search.py)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Profile(models.Model):
    """What a person shows of themselves: a display name, unique whatever its case, chosen at sign-up and
    editable; accounts made otherwise (``createsuperuser``) get one from their address (apps.py)."""

    NAME_MAX = 40

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=NAME_MAX)
    # Sign-up leaves it false until the link mailed to the address is opened (accounts.py); an account made
    # by an operator is taken as verified. Only verified accounts receive shares.
    email_verified = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("display_name"), name="one_display_name_whatever_its_case")]

    def __str__(self) -> str:
        return self.display_name

    @classmethod
    def taken(cls, name: str, user: Any = None) -> bool:
        others = cls.objects.filter(display_name__iexact=name)
        return (others.exclude(user=user) if user is not None and user.pk else others).exists()

    @classmethod
    def free_name(cls, address: str) -> str:
        """A display name made from an address's part before the @, numbered when it is taken."""
        base = re.sub(r"[^\w .'-]+", "", address.split("@")[0])[: cls.NAME_MAX - 4].strip() or "someone"
        name, n = base, 1
        while cls.taken(name):
            n += 1
            name = f"{base}{n}"
        return name


class TrackQuerySet(models.QuerySet):
    def with_figures(self) -> TrackQuerySet:
        """Each track with its latest analysis's tempo (as corrected) and key label, as ``tempo`` and
        ``key_label`` (None without one): what lists sort, filter and match by, in the same query."""
        return self.annotate(tempo=models.F("current_analysis__tempo"),
                             key_label=models.F("current_analysis__key_label"))

    def storage_used(self, owner: Any) -> int:
        """Bytes of a person's own tracks: originals, stems and each track's rendered mix (what the storage
        quota counts)."""
        originals = self.filter(owner=owner).aggregate(total=models.Sum("size"))["total"] or 0
        stems = Stem.objects.filter(track__owner=owner).aggregate(total=models.Sum("size"))["total"] or 0
        renders = Job.objects.filter(track__owner=owner, kind=Job.Kind.RENDER, status=Job.Status.SUCCEEDED)
        return originals + stems + sum(o.get("bytes", 0) for o in renders.values_list("options", flat=True))


class Track(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracks")
    title = models.CharField(max_length=200)
    # What the file's tags said at upload (ports/lib/file_tags.py), editable by its owner and editors.
    artist = models.CharField(max_length=200, blank=True)
    album = models.CharField(max_length=200, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    genre = models.CharField(max_length=64, blank=True)
    # The embedded picture, made a small JPEG by the probe (storage.cover_name); empty without one.
    cover = models.CharField(max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    # Relative to MEDIA_ROOT, chosen by the server (tracks/<uuid>/original.<ext>), never the user's name.
    file = models.CharField(max_length=255)
    # A compressed copy for listening (tracks/<uuid>/original.preview.mp3), made by the analysis job: what a
    # listen-only link plays. Empty until then.
    preview = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=16)
    codec = models.CharField(max_length=32)
    duration = models.FloatField()
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    # The tempo its owner or an editor said the song has (tempo.py): each analysis is shown at the metrical
    # level nearest it. Null: as tracked.
    tempo_target = models.FloatField(null=True, blank=True)
    # What search reads (tracks/search.py keeps it): title, artist, album, file name and comments, folded.
    search_text = models.TextField(blank=True, editable=False)
    # The newest analysis (AnalysisResult.save keeps it): what lists filter and sort by, one join away.
    current_analysis = models.ForeignKey("AnalysisResult", on_delete=models.SET_NULL, null=True, blank=True,
                                         related_name="+", editable=False)

    objects = TrackQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.title

    SEARCHED = ("title", "artist", "album", "original_name")

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved with what search reads brought up to date whenever a field it reads is saved."""
        fields = kwargs.get("update_fields")
        if fields is None or set(fields) & set(self.SEARCHED):
            self.search_text = self.searched_text()
            if fields is not None:
                kwargs["update_fields"] = {*fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def download_name(self) -> str:
        """What the original is called once downloaded: its title and its format's extension (what a crate's
        M3U and Rekordbox's Location name too)."""
        return safe_filename(f"{self.title}{Path(self.file).suffix}")

    def searched_text(self, comments: list[str] | None = None) -> str:
        """What search reads (tracks/search.py): the title, tags, file name and comments, folded."""
        if comments is None:
            comments = list(Comment.objects.filter(track=self).values_list("text", flat=True)) if self.pk else []
        return fold(" \n".join(p for p in (self.title, self.artist, self.album, self.original_name, *comments) if p))

    def newest_stems(self) -> dict[str, str]:
        """The stored names of the newest separation's stems, by stem (what an analysis listens to as well)."""
        newest = self.stems.order_by("-job__created", "-job_id").values_list("job_id", flat=True).first()
        return {s.name: s.file for s in self.stems.filter(job_id=newest)} if newest else {}

    def latest_job(self, kind: str) -> Job | None:
        return self.jobs.filter(kind=kind).order_by("-created", "-id").first()

    def latest_jobs(self) -> dict[str, Job]:
        """The latest job of each kind, in one query."""
        latest = Job.objects.filter(track=models.OuterRef("track"), kind=models.OuterRef("kind"))
        return {job.kind: job for job in self.jobs.filter(pk=models.Subquery(latest.values("pk")[:1]))}

    def working_on(self, kind: str) -> bool:
        """Whether the latest job of this kind is queued or running."""
        job = self.latest_job(kind)
        return job is not None and job.is_active

    def latest_analysis(self, with_data: bool = True) -> AnalysisResult | None:
        analyses = self.analyses.order_by("-created", "-id")
        found = (analyses if with_data else analyses.defer("data")).first()
        if found is not None:
            found.track = self
        return found

    def correct_tempo(self, step: Fraction | None) -> AnalysisResult | None:
        """Move the latest analysis's beat grid by ``step`` (x2, /2, x3/2, x2/3; None: back to the tracked
        tempo) and keep the tempo that gives for later analyses. Returns the analysis, or None when there is
        no tempo to correct or the step leads nowhere sensible (tempo.can_step)."""
        analysis = self.latest_analysis()
        tracked = analysis.data.get("tempo") if analysis else None
        if not tracked:
            return None
        factor = Fraction(1) if step is None else analysis.factor * step
        if step is not None and not tempo.can_step(tracked, analysis.factor, step):
            return None
        self.tempo_target = None if factor == 1 else tracked * factor
        self.save(update_fields=["tempo_target"])
        analysis.apply_factor(factor)
        return analysis


class Job(models.Model):
    class Kind(models.TextChoices):
        ANALYSIS = "analysis", "Analysis"
        SEPARATION = "separation", "Separation"
        RENDER = "render", "Mix render"
        TRANSCRIPTION = "transcription", "MIDI transcription"

    class Status(models.TextChoices):
        # Asked for while the person had as many jobs queued or running as they may (SOUNDFORGE_MAX_ACTIVE_JOBS):
        # not in Redis yet; queued in the order asked as theirs end (jobs.queueing.promote).
        WAITING = "waiting", "Waiting its turn"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.WAITING, Status.QUEUED, Status.RUNNING)
    IN_REDIS = (Status.QUEUED, Status.RUNNING)  # what SOUNDFORGE_MAX_ACTIVE_JOBS counts

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    progress_at = models.FloatField(null=True, blank=True,
                                    help_text="when the worker read the progress shown off the port (Unix time)")
    stage = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    # Seconds left, as the port estimates it; null when it does not know yet.
    eta = models.FloatField(null=True, blank=True)
    # What the job was asked for (a separation's model and format), so the worker needs nothing else.
    options = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    # The RQ job id is ours (str(uuid), and uuid-N for the Nth attempt after a worker stopped), chosen before
    # enqueueing, so the row never needs it written back.
    rq_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # How many times a worker has claimed it, and when the worker running it last said it was alive: a
    # running job whose heartbeat stops is retried or failed by jobs.recover.
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        # A person's jobs under way (the active-job limit, the waiting list, the library's queue), read at
        # every job asked for and every library page, whatever the size of the jobs table.
        indexes = [models.Index(fields=["requested_by", "status"], name="job_requester_status")]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} ({self.track_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.rq_id:
            self.rq_id = str(self.uuid)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @classmethod
    def on_row(cls, track: Any) -> models.QuerySet[Job]:
        """The jobs a library row may show, the one it shows first: work under way of any kind (the newest),
        else the latest analysis. ``track`` is a Track or an OuterRef to one."""
        return (cls.objects.filter(models.Q(kind=cls.Kind.ANALYSIS) | models.Q(status__in=cls.ACTIVE), track=track)
                .annotate(idle=models.Case(models.When(status__in=cls.ACTIVE, then=0), default=1))
                .order_by("idle", "-created", "-id"))

    @property
    def seconds(self) -> float | None:
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None

    @property
    def percent(self) -> int:
        return round(self.progress * 100)

    def this_run(self) -> models.QuerySet[Job]:
        """This row while it is running this attempt: a worker that lost the job (cancelled, or retried
        elsewhere after its heartbeat stopped) can no longer change it."""
        return Job.objects.filter(pk=self.pk, status=self.Status.RUNNING, attempts=self.attempts)

    def claim(self) -> bool:
        """QUEUED -> RUNNING, atomically: False when another worker got it or it was cancelled."""
        now = timezone.now()
        claimed = Job.objects.filter(pk=self.pk, status=self.Status.QUEUED).update(
            status=self.Status.RUNNING, started=now, heartbeat=now, stage="starting", progress=0.0,
            attempts=models.F("attempts") + 1,
        )
        if claimed:
            self.refresh_from_db(fields=["status", "started", "heartbeat", "stage", "progress", "attempts"])
        return bool(claimed)

    def promote(self) -> bool:
        """WAITING -> QUEUED, atomically: False when it was cancelled or promoted meanwhile."""
        promoted = Job.objects.filter(pk=self.pk, status=self.Status.WAITING).update(status=self.Status.QUEUED)
        if promoted:
            self.status = self.Status.QUEUED
        return bool(promoted)

    def beat(self) -> bool:
        """Say this run is alive; False when it is no longer this worker's to run."""
        return bool(self.this_run().update(heartbeat=timezone.now()))

    def requeue(self, rq_id: str, note: str) -> bool:
        """RUNNING -> QUEUED for another attempt under a new RQ id (recovery, after a worker stopped)."""
        requeued = self.this_run().update(status=self.Status.QUEUED, rq_id=rq_id, stage=note[:64], progress=0.0,
                                           eta=None, heartbeat=None)
        if requeued:
            self.status, self.rq_id, self.stage = self.Status.QUEUED, rq_id, note[:64]
            self.progress, self.eta = 0.0, None
        return bool(requeued)

    def set_progress(self, fraction: float, stage: str, eta: float | None = None, at: float | None = None) -> None:
        # Progress never goes backwards on the page, whatever order lines arrive in.
        self.progress = max(self.progress, min(1.0, fraction))
        self.stage = stage[:64]
        self.eta = eta
        self.progress_at = at
        self.this_run().update(progress=self.progress, stage=self.stage, eta=eta, progress_at=at)

    def cancel(self) -> bool:
        """WAITING, QUEUED or RUNNING -> CANCELLED, atomically: False when it had already finished. A running port
        sees the change and is stopped by the runner (jobs.run_and_record's should_cancel)."""
        now = timezone.now()
        cancelled = Job.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
            status=self.Status.CANCELLED, finished=now, stage="cancelled", eta=None
        )
        if cancelled:
            self.status, self.finished, self.stage, self.eta = self.Status.CANCELLED, now, "cancelled", None
        return bool(cancelled)

    def succeed(self) -> bool:
        return self._finish(self.Status.SUCCEEDED, progress=1.0, stage="done", eta=None)

    def fail(self, error: str) -> bool:
        return self._finish(self.Status.FAILED, error=error[:2000], stage="failed", eta=None)

    def _finish(self, status: str, **fields: Any) -> bool:
        # An update, not save(): the row may have gone with its track, and then there is nothing to record.
        # Only a running job finishes: one cancelled meanwhile stays cancelled.
        now = timezone.now()
        finished = self.this_run().update(status=status, finished=now, **fields)
        if finished:
            self.status, self.finished = status, now
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(finished)


class AnalysisResult(models.Model):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="analyses")
    job = models.OneToOneField(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="result")
    data = models.JSONField()
    analyzer_version = models.CharField(max_length=16)
    # Copied out of ``data`` so that lists (and later sorting and filtering) never load the whole JSON; the
    # tempo as corrected (tempo_factor times the tracked one).
    tempo = models.FloatField(null=True, blank=True)
    tempo_factor = models.CharField(max_length=8, blank=True, help_text="the tempo correction, as 3/2; blank: none")
    key_label = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"analysis of {self.track_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved; a new one becomes its track's current analysis if it is the newest."""
        new = self._state.adding
        super().save(*args, **kwargs)
        if new:
            self.point(self.track_id)

    @classmethod
    def point(cls, track_id: int) -> None:
        """Make the track's current analysis its newest (after analyses were added in bulk, or one went)."""
        newest = cls.objects.filter(track_id=track_id).order_by("-created", "-id").values("pk")[:1]
        Track.objects.filter(pk=track_id).update(current_analysis=models.Subquery(newest))

    @classmethod
    def record(cls, job: Job, data: dict[str, Any]) -> AnalysisResult:
        """Store a port's output; a tempo correction the track has carries over (at the factor nearest the
        tempo the person chose)."""
        key = data.get("key") or {}
        target = Track.objects.filter(pk=job.track_id).values_list("tempo_target", flat=True).first()
        return cls.objects.create(
            track_id=job.track_id,
            job=job,
            data=data,
            analyzer_version=str(data.get("analyzer_version", "")),
            **_tempo_fields(data, tempo.factor_for(data.get("tempo"), target)),
            # An unclear key (the port's "clear": false) gets no label: the page names its two candidates.
            key_label=f"{key['key']} {key.get('mode', 'major')}" if key.get("key") and key.get("clear", True) else "",
        )

    @property
    def factor(self) -> Fraction:
        return tempo.parse(self.tempo_factor)

    @cached_property
    def shown(self) -> dict[str, Any]:
        """The analysis as the page and the exports show it: the port's output with the tempo correction
        applied to the tempo, beats and downbeats."""
        return tempo.corrected(self.data, self.factor)

    def apply_factor(self, factor: Fraction) -> None:
        fields = _tempo_fields(self.data, factor)
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=list(fields))
        self.__dict__.pop("shown", None)

    def steps(self) -> list[dict[str, Any]]:
        """The correction buttons: what each posts, its label, the tempo it leads to, and whether it may."""
        tracked = self.data.get("tempo")
        return [{"value": value, "label": tempo.label(step), "enabled": tempo.can_step(tracked, self.factor, step),
                 "bpm": tracked * self.factor * step if tracked else None}
                for value, step in tempo.STEPS.items()]


def _tempo_fields(data: dict[str, Any], factor: Fraction) -> dict[str, Any]:
    """An analysis's tempo columns at a correction ``factor``: the corrected tempo and the factor itself."""
    tracked = data.get("tempo")
    return {"tempo": None if tracked is None else round(tracked * float(factor), 2),
            "tempo_factor": "" if factor == 1 else str(factor)}


class Stem(models.Model):
    """One stem file of a finished separation; a separation's stems share its job."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="stems")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stems")
    name = models.CharField(max_length=32)
    model = models.CharField(max_length=64)
    format = models.CharField(max_length=8)
    # Relative to MEDIA_ROOT: tracks/<track uuid>/stems/<job uuid>/<name>.<format>; its compressed copy for
    # listening beside it (<name>.preview.opus, written by the separation port; .mp3 before 2026-12).
    file = models.CharField(max_length=255)
    preview = models.CharField(max_length=255, blank=True)
    duration = models.FloatField()
    size = models.BigIntegerField()
    rms = models.FloatField(default=0.0)
    # Waveform peaks for the mixer ({"points": n, "min": [...], "max": [...]}), from the port.
    peaks = models.JSONField(default=dict, blank=True)
    # Its notes, once transcribed ([[start s, end s, MIDI pitch, velocity], ...], tracks/ports/transcribe.py).
    notes = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job_id", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="one_stem_per_name_per_job")]

    def __str__(self) -> str:
        return f"{self.name} of {self.track_id} ({self.model})"

    @property
    def download_name(self) -> str:
        return safe_filename(f"{self.track.title} - {self.name} ({self.model}).{self.format}")

    @classmethod
    def record(cls, job: Job, data: dict[str, Any], folder: Path, prefix: str) -> list[Job]:
        """Record a separation port's stems (which must lie in ``folder``, stored under ``prefix``) and drop
        the rows of earlier separations of the track with the same model; returns those earlier jobs, whose
        files may go."""
        folder = folder.resolve()
        info = data.get("stem_info") or {}

        def inside(name: str, raw_path: str) -> Path:
            path = Path(raw_path).resolve()
            if path.parent != folder:
                raise ValueError(f"the port wrote {name} outside its folder: {path}")
            return path

        previews = data.get("previews") or {}
        for name, raw_path in data["stems"].items():
            path = inside(name, raw_path)
            preview = inside(name, previews[name]).name if name in previews else ""
            cls.objects.create(
                track_id=job.track_id,
                job=job,
                name=name,
                model=str(data["model"]),
                format=str(data["format"]),
                file=f"{prefix}/{path.name}",
                preview=f"{prefix}/{preview}" if preview else "",
                duration=float(data["duration"]),
                size=path.stat().st_size,
                rms=float(info.get(name, {}).get("rms", 0.0)),
                peaks=info.get(name, {}).get("peaks") or {},
            )
        replaced = list(
            Job.objects.filter(track_id=job.track_id, kind=Job.Kind.SEPARATION, stems__model=data["model"])
            .exclude(pk=job.pk)
            .distinct()
        )
        cls.objects.filter(job__in=replaced).delete()
        return replaced


class Share(models.Model):
    """A track shared with another user: viewers see, play and download; editors also change and run jobs.

    Shared with an address that has no verified account yet, it waits (``user`` null, ``email`` set) and
    takes effect when an account verifies that address (accounts.py). ``email`` is kept only when the owner
    shared by address: it is what the sharing panel shows them, and no one else sees it."""

    class Role(models.TextChoices):
        VIEWER = "viewer", "Viewer"
        EDITOR = "editor", "Editor"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares", null=True,
                             blank=True)
    email = models.EmailField(max_length=254, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(fields=["track", "user"], name="one_share_per_user_per_track")]

    def __str__(self) -> str:
        return f"{self.track_id} shared with {self.user_id or 'a pending address'} as {self.role}"

    @property
    def label(self) -> str:
        """What the sharing panel calls it: the address it was shared with, else the person's display name."""
        return self.email or display_name(self.user)

    @property
    def in_activity(self) -> str:
        """What the activity list, which everyone on the page reads, calls it: never the address."""
        return display_name(self.user) if self.user_id else "an invited address"


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


class Link(models.Model):
    """A read-only link for anyone who holds it (to a track, or to a crate and its owner's songs in it);
    revoked or expired, it is a plain 404. Its holder's session keeps its token (access.remember_link)."""

    token = models.CharField(max_length=64, unique=True, default=new_link_token, editable=False)
    allow_downloads = models.BooleanField(default=False)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-created", "-id"]

    @classmethod
    def usable(cls) -> models.QuerySet[Any]:
        now = timezone.now()
        unexpired = models.Q(expires__isnull=True) | models.Q(expires__gt=now)
        return cls.objects.filter(unexpired, revoked__isnull=True)

    @property
    def is_usable(self) -> bool:
        return self.revoked is None and (self.expires is None or self.expires > timezone.now())

    @property
    def access(self) -> str:
        """What the link lets its holder do, as the activity list says it."""
        return "with downloads" if self.allow_downloads else "listen only"

    def revoke(self) -> None:
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])


class ShareLink(Link):
    """A link to a track."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="links")

    class Meta(Link.Meta):
        pass

    def __str__(self) -> str:
        return f"link to {self.track_id}"


class Comment(models.Model):
    """A comment pinned to a moment of the song."""

    MAX_LENGTH = 1000

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    at = models.FloatField(help_text="seconds into the song")
    text = models.TextField(max_length=MAX_LENGTH)
    created = models.DateTimeField(default=timezone.now)
    edited = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "created", "id"]

    def __str__(self) -> str:
        return f"comment at {self.at:.1f} s on {self.track_id}"


class Practice(models.Model):
    """How a person last left a track's mixer (music/practice.py: speed, transpose, loop, stem levels,
    count-in), restored when they come back to it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="practices")
    settings = models.JSONField(default=dict)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "track"], name="one_practice_per_person_per_track")]

    def __str__(self) -> str:
        return f"practice of {self.user_id} on {self.track_id}"


class Crate(models.Model):
    """A named, ordered collection of tracks, a track in as many as its owner likes: a DJ's crate or a band's
    setlist (the same thing, named as its owner calls it). Shared with people (:class:`CrateShare`), it opens
    its owner's songs in it to them."""

    class Kind(models.TextChoices):
        CRATE = "crate", "Crate"
        SETLIST = "setlist", "Setlist"

    NAME_MAX = 100

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crates")
    name = models.CharField(max_length=NAME_MAX)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CRATE)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [Lower("name"), "id"]

    def __str__(self) -> str:
        return self.name


class CrateShare(models.Model):
    """A crate shared with another person: viewers open it, play it, export it, and open and practise the
    owner's songs in it for as long as both hold; editors also add, remove and reorder songs and agree each
    song's settings (access.py decides)."""

    crate = models.ForeignKey(Crate, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="crate_shares")
    role = models.CharField(max_length=16, choices=Share.Role.choices, default=Share.Role.VIEWER)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        constraints = [models.UniqueConstraint(fields=["crate", "user"], name="one_share_per_user_per_crate")]

    def __str__(self) -> str:
        return f"crate {self.crate_id} shared with {self.user_id} as {self.role}"


class CrateLink(Link):
    """A link to a crate: its holder opens the crate and plays it in order, and opens the owner's songs in it
    as a track link would (listening, or with downloads)."""

    crate = models.ForeignKey("Crate", on_delete=models.CASCADE, related_name="links")

    class Meta(Link.Meta):
        pass

    def __str__(self) -> str:
        return f"link to crate {self.crate_id}"


class CrateEntry(models.Model):
    """A track's place in a crate (1, 2, ...: its order, which its owner and editors change), and the practice
    settings its people agreed for it there (music/practice.py's; {}: none), which everyone who opens the song
    from the crate starts from."""

    crate = models.ForeignKey(Crate, on_delete=models.CASCADE, related_name="entries")
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="crate_entries")
    position = models.PositiveIntegerField()
    added = models.DateTimeField(default=timezone.now)
    agreed = models.JSONField(default=dict, blank=True)
    agreed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    agreed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["crate", "track"], name="a_track_once_in_a_crate")]

    def __str__(self) -> str:
        return f"{self.track_id} at {self.position} in {self.crate_id}"


class Cue(models.Model):
    """A place in the song to jump to: proposed by an analysis (``auto``) or set by a person; one an analysis
    proposed that a person changed is theirs from then on, kept when the song is analysed again."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="cues")
    at = models.FloatField(help_text="seconds into the song")
    name = models.CharField(max_length=40)
    colour = models.CharField(max_length=8)  # a name in cues.COLOURS
    auto = models.BooleanField(default=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"cue {self.name!r} at {self.at:.2f} s on {self.track_id}"

    @classmethod
    def propose(cls, track: Track, found: list[Any]) -> None:
        """An analysis's cues (``cues.Found``) replace the ones the last analysis proposed and nobody changed;
        none goes within a second of a person's cue (theirs is the one for that place)."""
        track.cues.filter(auto=True).delete()
        kept = list(track.cues.values_list("at", flat=True))
        cls.objects.bulk_create([cls(track=track, at=cue.at, name=cue.name, colour=cue.colour, auto=True)
                                 for cue in found if all(abs(cue.at - at) >= 1.0 for at in kept)])


class Activity(models.Model):
    """What happened to a track, by whom, when: the track page's activity list."""

    class Verb(models.TextChoices):
        UPLOADED = "uploaded", "uploaded the track"
        RENAMED = "renamed", "renamed the track"
        ANALYSED = "analysed", "analysed the track"
        SEPARATED = "separated", "separated the stems"
        SHARED = "shared", "shared the track"
        UNSHARED = "unshared", "stopped sharing with"
        ROLE_CHANGED = "role_changed", "changed the role"
        LINKED = "linked", "made a share link"
        UNLINKED = "unlinked", "revoked a share link"
        COMMENTED = "commented", "commented"
        RETIMED = "retimed", "corrected the tempo"
        TRANSCRIBED = "transcribed", "transcribed to MIDI"
        CUED = "cued", "changed the cues"
        TAGGED = "tagged", "edited the details"

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    verb = models.CharField(max_length=16, choices=Verb.choices)
    detail = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.verb} {self.track_id}"

    @classmethod
    def record(cls, track: Track, verb: str, actor: Any = None, detail: str = "") -> Activity:
        user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
        return cls.objects.create(track=track, actor=user, verb=verb, detail=detail[:200])


# -- the API ---------------------------------------------------------------------------------------------------


def digest(secret: str) -> str:
    """What is stored of a token or a webhook secret's key: its SHA-256 (tokens are random: no salt needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal access token: ``Authorization: Bearer sf_…`` acts as its owner with its scopes. Shown once,
    at creation; stored as its SHA-256 and the first characters, which the account page lists it by."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    PREFIX = "sf_"
    SHOWN = 10  # characters of the token kept to name it

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    start = models.CharField(max_length=16)
    hashed = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.start}…)"

    @classmethod
    def issue(cls, user: Any, name: str, scope: str) -> tuple[ApiToken, str]:
        """A new token and its secret, which exists only in this answer."""
        secret = cls.PREFIX + secrets.token_urlsafe(30)
        return cls.objects.create(user=user, name=name, scope=scope, start=secret[:cls.SHOWN],
                                  hashed=digest(secret)), secret

    @classmethod
    def find(cls, secret: str) -> ApiToken | None:
        """The live token with this secret (None: unknown or revoked), its owner loaded."""
        if not secret.startswith(cls.PREFIX):
            return None
        return cls.objects.select_related("user").filter(hashed=digest(secret), revoked__isnull=True,
                                                         user__is_active=True).first()

    @property
    def may_write(self) -> bool:
        return self.scope == self.Scope.WRITE

    def used(self) -> None:
        """Mark it used, at most once a minute (a script's every request would otherwise write a row)."""
        now = timezone.now()
        if self.last_used is None or (now - self.last_used).total_seconds() > 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used=now)
            self.last_used = now

    def revoke(self) -> None:
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])


class Upload(models.Model):
    """A resumable upload (tus 1.0) on its way: its bytes so far in a file of the uploads folder; once the
    last one is in, stored as a track like any upload (and this row goes)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resumable_uploads")
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    filename = models.CharField(max_length=255)
    created = models.DateTimeField(default=timezone.now)
    track = models.ForeignKey("Track", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.filename} ({self.offset}/{self.length})"


class Webhook(models.Model):
    """Where a person's job events are POSTed, signed as Standard Webhooks sign them (``whsec_`` secret)."""

    EVENTS = ("job.succeeded", "job.failed", "job.cancelled", "job.started", "track.created")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.url

    @staticmethod
    def new_secret() -> str:
        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Delivery(models.Model):
    """One event sent (or being sent) to one webhook: what the account page's delivery log shows."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # the webhook-id header
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    next_try = models.DateTimeField(null=True, blank=True, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.event} → {self.webhook.url}: {self.status}"
