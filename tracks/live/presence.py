"""Who is on a track's page right now: one Redis hash per track, socket -> person, each entry refreshed by
its socket, so a server that died without saying goodbye leaves nobody behind for long."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings

from ..models import display_name

TTL_S = 90
REFRESH_S = 30


def _key(track_uuid: object) -> str:
    return f"soundforge:presence:{track_uuid}"


def person(user: Any, socket_id: str) -> dict[str, str]:
    """How someone shows: a user once however many tabs they have open; each link holder as a guest."""
    if user is not None and user.is_authenticated:
        name = display_name(user)
        return {"who": f"user-{user.pk}", "name": name, "initials": name[:2].upper()}
    return {"who": f"socket-{socket_id}", "name": "a guest with a share link", "initials": "?"}


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def _redis() -> aioredis.Redis:
    """One client (and its pool of connections) per event loop: a web process has one loop for all its
    sockets, which refresh their presence every REFRESH_S (a connection each time, before)."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return _clients[loop]


async def join(track_uuid: object, socket_id: str, who: dict[str, str]) -> None:
    async with _redis().pipeline(transaction=False) as pipe:
        pipe.hset(_key(track_uuid), socket_id, json.dumps({**who, "at": time.time()}))
        pipe.expire(_key(track_uuid), TTL_S * 4)
        await pipe.execute()


async def leave(track_uuid: object, socket_id: str) -> None:
    await _redis().hdel(_key(track_uuid), socket_id)


async def people(track_uuid: object) -> list[dict[str, str]]:
    """Everyone on the page, once each, by name; entries not refreshed for TTL_S are dropped."""
    client = _redis()
    entries = await client.hgetall(_key(track_uuid))
    now = time.time()
    stale = [k for k, v in entries.items() if now - json.loads(v).get("at", 0) > TTL_S]
    if stale:
        await client.hdel(_key(track_uuid), *stale)
    found: dict[str, dict[str, str]] = {}
    for channel, raw in entries.items():
        if channel in stale:
            continue
        entry = json.loads(raw)
        found.setdefault(entry["who"], {k: entry[k] for k in ("who", "name", "initials")})
    return sorted(found.values(), key=lambda p: p["name"])
