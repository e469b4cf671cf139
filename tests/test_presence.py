"""Who is on a track's page (tracks/live/presence.py), against the suite's real Redis: one entry per person however
many tabs, each link holder a guest of their own, stale entries dropped, leaving removes."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser

from tracks.live import presence


@pytest.fixture
def track_uuid() -> uuid.UUID:
    return uuid.uuid4()


def people(track_uuid: uuid.UUID) -> list[dict[str, str]]:
    return async_to_sync(presence.people)(track_uuid)


def join(track_uuid: uuid.UUID, channel: str, user: object) -> None:
    async_to_sync(presence.join)(track_uuid, channel, presence.person(user, channel))


@pytest.mark.django_db
def test_a_person_shows_once_however_many_tabs_and_guests_each_once(track_uuid: uuid.UUID, alice, bob) -> None:
    join(track_uuid, "tab-1", alice)
    join(track_uuid, "tab-2", alice)
    join(track_uuid, "tab-3", bob)
    join(track_uuid, "guest-1", AnonymousUser())
    join(track_uuid, "guest-2", AnonymousUser())
    found = people(track_uuid)
    assert [p["who"] for p in found].count(f"user-{alice.pk}") == 1
    assert sum(p["name"] == "a guest with a share link" for p in found) == 2
    assert len(found) == 4
    assert [p["name"] for p in found] == sorted(p["name"] for p in found)
    assert all(set(p) == {"who", "name", "initials"} for p in found)  # no address, no time
    assert "example.com" not in json.dumps(found)


@pytest.mark.django_db
def test_leaving_removes_one_tab_and_the_person_goes_with_the_last(track_uuid: uuid.UUID, alice) -> None:
    join(track_uuid, "tab-1", alice)
    join(track_uuid, "tab-2", alice)
    async_to_sync(presence.leave)(track_uuid, "tab-1")
    assert len(people(track_uuid)) == 1
    async_to_sync(presence.leave)(track_uuid, "tab-2")
    assert people(track_uuid) == []


@pytest.mark.django_db
def test_an_entry_not_refreshed_in_time_is_dropped(track_uuid: uuid.UUID, alice, bob, monkeypatch) -> None:
    join(track_uuid, "tab-alice", alice)
    now = time.time()
    monkeypatch.setattr(presence.time, "time", lambda: now - presence.TTL_S - 5)
    join(track_uuid, "tab-bob", bob)  # written long ago: a server that died without saying goodbye
    monkeypatch.setattr(presence.time, "time", lambda: now)
    assert [p["who"] for p in people(track_uuid)] == [f"user-{alice.pk}"]

    async def stored() -> dict:
        return await presence._redis().hgetall(presence._key(track_uuid))

    assert set(async_to_sync(stored)()) == {b"tab-alice"}  # and it is gone from Redis too


def test_pages_of_different_tracks_do_not_mix() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    join(a, "tab-a", AnonymousUser())
    assert people(b) == [] and len(people(a)) == 1
