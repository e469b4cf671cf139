"""What a person may use: the storage quota (originals and stems, counted before anything is stored), the
number of jobs they may have queued or running, and the request rates of uploads, sign-ups and log-ins.
Beside access.py, which says who may do what; these say how much."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Job, Track


class QuotaFull(ValueError):
    """What a person asked for would pass their storage quota (HTTP's 413)."""


# What a separation's stems take per second of song and stem (44.1 kHz stereo): 16-bit WAV, FLAC at about
# 60 % of it (music compresses little further), MP3 at 320 kbit/s.
STEM_BYTES_PER_S = {"wav": 44100 * 2 * 2, "flac": 44100 * 2 * 2 * 6 // 10, "mp3": 320_000 // 8}


def separation_bytes(track: Track, model: str, fmt: str) -> int:
    """What a separation of the track will store, counted against the quota before it is queued."""
    stems = 6 if model.endswith("_6s") else 4
    return int(track.duration * STEM_BYTES_PER_S.get(fmt, STEM_BYTES_PER_S["wav"]) * stems)


def render_bytes(track: Track, options: dict[str, Any]) -> int:
    """What a render of the track's mix will store (16-bit stereo WAV at the track's rate, or MP3 at 320
    kbit/s), counted against the owner's quota before it is queued: renders are kept with the track."""
    end = options.get("end") if options.get("end") is not None else track.duration
    seconds = max(0.0, end - options.get("start", 0.0)) / options.get("rate", 1.0)
    return int(seconds * (320_000 / 8 if options.get("format") == "mp3" else track.sample_rate * 4))


def lock_person(user_id: int) -> None:
    """Inside a transaction, lock the person's row until it ends: what is counted against them (their quota,
    their jobs under way) is then counted one request after another, each seeing what the others stored."""
    if transaction.get_connection().in_atomic_block:
        get_user_model().objects.select_for_update().filter(pk=user_id).first()


def reserve(owner: object, needed: int, what: str) -> None:
    """Refuse with QuotaFull unless ``needed`` more bytes fit the owner's quota. Called inside the
    transaction that stores the thing, it locks the owner's row first (``lock_person``)."""
    lock_person(owner.pk)
    used, quota = Track.objects.storage_used(owner), settings.USER_QUOTA_MB * 2**20
    if used + needed > quota:
        raise QuotaFull(
            f"Your storage is full: {used / 2**20:.0f} MB of your {settings.USER_QUOTA_MB} MB are used and {what} "
            f"needs {needed / 2**20:.1f} MB. Delete tracks or stems you no longer need."
        )


class Busy(Exception):
    """The person already has as many jobs waiting their turn as they may."""


def must_wait(user: Any) -> bool:
    """Whether a job the person asks for now waits its turn (Job.Status.WAITING) rather than being queued:
    they have SOUNDFORGE_MAX_ACTIVE_JOBS jobs queued or running already, or others waiting before it (an
    upload's own analysis is not asked this: uploads have their rate and the quota). Busy when
    SOUNDFORGE_MAX_WAITING_JOBS are waiting already. Called in the transaction that makes the job, it locks
    the person's row first (``lock_person``), as jobs.queueing.promote does."""
    lock_person(user.pk)
    waiting = Job.objects.filter(requested_by=user, status=Job.Status.WAITING).count()
    if waiting >= settings.MAX_WAITING_JOBS:
        raise Busy(f"You have {waiting} jobs waiting their turn, the most you may have; "
                   "ask for more when some of them have started.")
    return bool(waiting) or Job.objects.filter(requested_by=user, status__in=Job.IN_REDIS).count() >= \
        settings.MAX_ACTIVE_JOBS


# Request rates (django-ratelimit's "count/period"), per person for uploads and per client address for
# sign-ups and log-ins; read at each request so settings can change them.
def upload_rate(group: str, request: Any) -> str:
    return settings.UPLOAD_RATE


def signup_rate(group: str, request: Any) -> str:
    return settings.SIGNUP_RATE


def login_rate() -> str:
    return settings.LOGIN_RATE
