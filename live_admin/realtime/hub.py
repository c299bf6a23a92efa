"""One channel-layer reader per process, shared by every live admin socket.

A :class:`Hub` per (event loop, layer) owns one channel, joins a group when its first local
socket asks for it and leaves it with the last, reads the layer in one task and hands each event
to the sockets of its group: a change reaches Redis's group once per process, not per socket.
The hub runs while it has sockets: its channel and reader start with the first and end with the
last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

from channels.layers import BaseChannelLayer

from ..capture.database import listener
from ..conf import get_config
from ..logs import Throttled
from ..protocol import DELAYED, RESYNC, ROUTED
from .probes import PROBE, PROBE_EVERY, Probes, Round
from .reader import HAND_OVER, STOP, Backoff, Member, hand_over, stop_reader, writes_on_next_pass

logger = logging.getLogger("live_admin")

#: Concurrent group joins and leaves of one hub (each holds a Redis connection while it runs).
MAX_LAYER_CALLS = 50
#: How long a join waits for the run's channel before it fails and is retried in the background.
CHANNEL_WAIT_SECONDS = 2.0


class Hub:
    """The layer channel, group memberships and reader of one event loop's sockets."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        #: Local sockets of each group this process listens to.
        self.members: dict[str, set[Member]] = {}
        #: Groups the layer has this hub's channel in, as far as the hub knows.
        self.joined: set[str] = set()
        self.sockets: set[Member] = set()
        self.channel: asyncio.Task[str] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.slots = asyncio.Semaphore(MAX_LAYER_CALLS)
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._rejoin_task: asyncio.Task[None] | None = None
        self._rejoin_again = False
        #: Sockets that may have missed events until a rejoin succeeds.
        self._resync_due: set[Member] = set()
        self._warnings = Throttled()
        self.probes = Probes(layer)
        #: The probe round that ended the last recovery: a loss in an earlier one is covered by
        #: the resync that recovery sent.
        self._healed = -1
        self.per_pass = HAND_OVER if writes_on_next_pass() else 1 << 30

    # -- sockets ------------------------------------------------------------------------------

    def attach(self, socket: Member) -> None:
        """Count ``socket`` in; the first one starts the hub's channel and reader."""
        self.sockets.add(socket)
        if self.channel is None:
            self.channel = asyncio.ensure_future(self._new_channel())
            self.tasks = [
                asyncio.create_task(self._read(self.channel)),
                asyncio.create_task(self._refresh_forever(self.channel)),
            ]

    async def detach(self, socket: Member) -> None:
        """Count ``socket`` out (after it left its groups); the last one stops the reader."""
        self.sockets.discard(socket)
        self._resync_due.discard(socket)
        if self.sockets or self.channel is None:
            return
        _forget(self)
        channel_task, (reader, *others) = self.channel, self.tasks
        if self._rejoin_task is not None:
            others.append(self._rejoin_task)
        self.channel, self.tasks = None, []
        for task in others:
            task.cancel()
        await asyncio.shield(self._wind_down(channel_task, reader))

    async def _wind_down(self, channel_task: asyncio.Task[str], reader: asyncio.Task[None]) -> None:
        """Stop the reader, then take the channel out of its probe groups (else only
        ``group_expiry`` would)."""
        probe = self.probes.groups[0]
        await stop_reader(self.layer, channel_task, reader, probe if probe in self.joined else None)
        if not channel_task.done() or channel_task.cancelled():
            return
        for group in self.probes.groups:
            if group in self.joined:
                self.joined.discard(group)
                try:
                    await self.layer.group_discard(group, channel_task.result())
                except Exception as exc:
                    logger.debug("live_admin: leaving %s failed: %s", group, exc)

    async def _new_channel(self) -> str:
        """The run's channel; retried while the layer fails (the pub/sub layer subscribes)."""
        backoff = Backoff()
        while True:
            try:
                return await self.layer.new_channel()
            except Exception as exc:
                self._warnings.log("making a channel on the layer failed: %s", exc)
                await backoff.wait()

    # -- groups -------------------------------------------------------------------------------

    async def join(self, group: str, socket: Member) -> bool:
        """Route ``group``'s events to ``socket``; False if the layer refused (retried later)."""
        self.members.setdefault(group, set()).add(socket)
        if group in self.joined:
            return True
        async with self._group_lock(group):
            if group in self.joined or socket not in self.members.get(group, ()):
                return True
            if await self._add(group):
                return True
        self._retry_joins([socket])
        return False

    async def leave(self, group: str, socket: Member) -> None:
        """Stop routing ``group`` to ``socket``; the layer is told when no socket is left."""
        sockets = self.members.get(group)
        if sockets is None or socket not in sockets:
            return
        sockets.discard(socket)
        if sockets:
            return
        del self.members[group]
        async with self._group_lock(group):
            # A socket that joined meanwhile found the group joined and relies on it.
            if group in self.members or group not in self.joined:
                return
            self.joined.discard(group)
            try:
                async with self.slots:
                    await self.layer.group_discard(group, await self._channel())
            except Exception as exc:  # the layer's group_expiry drops the member in the end
                logger.debug("live_admin: leaving %s failed: %s", group, exc)

    async def _add(self, group: str) -> bool:
        try:
            async with self.slots:
                await self.layer.group_add(group, await self._channel())
        except Exception as exc:
            self._warnings.log("joining %s failed: %s", group, exc)
            return False
        self.joined.add(group)
        return True

    async def _channel(self) -> str:
        """The run's channel, once made; joins fail (and are retried) while it cannot be."""
        if self.channel is None:
            raise RuntimeError("the hub has no socket")
        done, _ = await asyncio.wait([self.channel], timeout=CHANNEL_WAIT_SECONDS)
        if not done:
            raise RuntimeError("the channel layer has not made the hub's channel yet")
        return self.channel.result()

    @contextlib.asynccontextmanager
    async def _group_lock(self, group: str) -> AsyncIterator[None]:
        """Orders one group's joins and leaves; the lock goes once nobody holds or waits."""
        lock, users = self._locks.setdefault(group, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._locks[group]

    async def rejoin(self) -> bool:
        """Join every group again (Redis may have restarted, or expired them); True if all did."""
        results = [await self._add(group) for group in self.probes.groups]
        for group in list(self.members):
            async with self._group_lock(group):
                results.append(group not in self.members or await self._add(group))
        return all(results)

    def _retry_joins(self, sockets: Iterable[Member]) -> None:
        """Re-join every group in the background until the layer takes them all; tell
        ``sockets`` at once that changes may not reach them, and once whole again that they may
        have missed some meanwhile."""
        for socket in sockets:
            if socket not in self._resync_due:
                socket.deliver({"type": DELAYED})
                self._resync_due.add(socket)
        self._rejoin_again = True  # also tells a running task to make another pass
        if self.channel is not None and (self._rejoin_task is None or self._rejoin_task.done()):
            self._rejoin_task = asyncio.create_task(self._rejoin_until_done(self.channel))

    async def _rejoin_until_done(self, channel_task: asyncio.Task[str]) -> None:
        """Done when every join is taken and a probe comes back: the pub/sub layer takes joins
        it already had without asking Redis, even while Redis is away."""
        backoff = Backoff()
        while self._rejoin_again and self.channel is channel_task:
            self._rejoin_again = False
            sent = await self._probe() if await self.rejoin() else None
            if sent is None or not await self.probes.all_back(sent):
                self._rejoin_again = True
                await backoff.wait()
            else:  # what earlier rounds lost, the resync below covers
                self._healed = sent.number
        due = [socket for socket in self._resync_due if socket in self.sockets]
        self._resync_due.clear()
        for socket in due:
            socket.deliver({"type": RESYNC})

    async def _refresh_forever(self, channel_task: asyncio.Task[str]) -> None:
        """Probe about every PROBE_EVERY seconds; re-join every RECHECK_SECONDS (``group_expiry``
        drops memberships), just after a round came back, so that a re-join does not mend a
        loss unnoticed. A probe that fails or does not come back means that events may have
        been missed: pages are told to resync once the layer is whole again."""
        for group in self.probes.groups:
            await self._add(group)
        loop = asyncio.get_running_loop()
        rejoined = loop.time()
        while self.channel is channel_task:
            recheck = get_config()["RECHECK_SECONDS"]
            await asyncio.sleep(min(PROBE_EVERY, recheck))
            sent = await self._probe()
            held = sent is not None and (
                await self.probes.all_back(sent) or sent.number < self._healed
            )
            joined = True
            if held and loop.time() - rejoined >= recheck:
                joined, rejoined = await self.rejoin(), loop.time()
            if not held or not joined:
                self._retry_joins(self.sockets)

    async def _probe(self) -> Round | None:
        """Send a round of probes; None if the layer refused one."""
        try:
            return await self.probes.send(self.slots)
        except Exception as exc:
            self._warnings.log("probing the channel layer failed: %s", exc)
            return None

    # -- events -------------------------------------------------------------------------------

    async def _read(self, channel_task: asyncio.Task[str]) -> None:
        channel = await channel_task
        backoff = Backoff()
        while self.channel is channel_task:  # until the last socket detaches
            try:
                event = await self.layer.receive(channel)
            except Exception as exc:
                if self.channel is not channel_task:  # a cancel the layer turned into an error
                    return
                self._warnings.log("receiving from the channel layer failed: %s", exc)
                # A read time-out leaves memberships and queued messages where they were; any
                # other error may mean Redis restarted and forgot the hub's groups.
                if type(exc).__name__ != "TimeoutError":
                    self._retry_joins(self.sockets)
                await backoff.wait()
                continue
            backoff.reset()
            if event.get("type") == PROBE:
                self.probes.heard(event)
            elif event.get("type") != STOP["type"]:
                await self.route(event)

    async def route(self, event: dict[str, Any]) -> None:
        """Hand ``event`` to every local socket of its group."""
        if event.get("type") not in ROUTED:
            logger.debug("live_admin: dropped a message of type %r", event.get("type"))
            return
        await hand_over(list(self.members.get(event.get("group", ""), ())), event, self.per_pass)


#: The running hubs of each event loop, by their layer's id (a hub holds its layer).
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Hub]] = (
    weakref.WeakKeyDictionary()
)


def hub_for(layer: BaseChannelLayer) -> Hub:
    """The running event loop's hub on ``layer``; attach a socket to it at once."""
    hubs = _hubs.setdefault(asyncio.get_running_loop(), {})
    hub = hubs.get(id(layer))
    if hub is None:
        hub = hubs[id(layer)] = Hub(layer)
        listener.start()  # database capture's one listener per process (if it is on)
    return hub


def _forget(hub: Hub) -> None:
    """Drop a hub that lost its last socket; the next socket starts a new one."""
    hubs = _hubs.get(asyncio.get_running_loop(), {})
    if hubs.get(id(hub.layer)) is hub:
        del hubs[id(hub.layer)]
