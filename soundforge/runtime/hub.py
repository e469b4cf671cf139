"""One channel-layer subscription per group per process, handing each push to that group's sockets in order
(Channels' own way: every socket receives every push through the layer itself). Fenced: see PATCHES.md."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any, Protocol

import redis
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class Member(Protocol):
    """A socket in a hub: it takes the group's messages in order, and reconnects when the hub is lost."""

    async def deliver(self, message: dict[str, Any]) -> None: ...

    async def reconnect(self) -> None: ...


class GroupHub:
    """The sockets of one group (a track's page, a person's library) in this web process, behind one
    channel-layer subscription. A push comes out of Redis once per process and is handed to each socket here
    in order; through the layer, each socket would receive it itself (two hundred people on a page: two
    hundred receives a progress line, each with its own tasks and lock hand-over, one after another). If
    Redis goes away under the subscription, its sockets are asked to reconnect (which catches them up).
    """

    _hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, GroupHub]] = weakref.WeakKeyDictionary()

    def __init__(self, group: str) -> None:
        self.group = group
        self.members: set[Member] = set()
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._run())

    @classmethod
    def _here(cls) -> dict[str, GroupHub]:
        return cls._hubs.setdefault(asyncio.get_running_loop(), {})

    @classmethod
    async def join(cls, group: str, member: Member) -> None:
        """Return once everything sent to the group from now on reaches ``member``."""
        hubs = cls._here()
        hub = hubs.get(group)
        if hub is None:
            hub = hubs[group] = cls(group)
        hub.members.add(member)
        try:
            await asyncio.shield(hub.subscribed)
        except BaseException:
            hub.members.discard(member)
            raise

    @classmethod
    def leave(cls, group: str, member: Member) -> None:
        hubs = cls._here()
        hub = hubs.get(group)
        if hub is not None:
            hub.members.discard(member)
            if not hub.members:  # the next to join subscribes afresh
                del hubs[group]
                hub.task.cancel()

    async def _run(self) -> None:
        layer = get_channel_layer()
        channel = None
        try:
            channel = await layer.new_channel()
            await layer.group_add(self.group, channel)
            self.subscribed.set_result(None)
            while True:
                await self._deliver(await layer.receive(channel))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away (restarted, say), or worse: its pages start over
            if not self.subscribed.done():
                self.subscribed.set_exception(exc)
            elif isinstance(exc, redis.ConnectionError | redis.TimeoutError):
                logger.warning("%s lost Redis (%s); asking its %d pages to reconnect", self.group, exc,
                               len(self.members))
            else:
                logger.exception("%s stopped; asking its %d pages to reconnect", self.group, len(self.members))
            if self._here().get(self.group) is self:
                del self._here()[self.group]
            for member in list(self.members):
                await member.reconnect()
        finally:
            if channel is not None:
                with contextlib.suppress(Exception):
                    await layer.group_discard(self.group, channel)

    async def _deliver(self, message: dict[str, Any]) -> None:
        members = list(self.members)
        if message.get("type") == "fragment":  # the common case: each socket's send, in turn, no task each
            for member in members:
                try:
                    await member.deliver(message)
                except Exception:  # one socket's trouble is not the others'
                    logger.exception("could not push to a socket of %s", self.group)
        else:
            await asyncio.gather(*(member.deliver(message) for member in members), return_exceptions=True)
