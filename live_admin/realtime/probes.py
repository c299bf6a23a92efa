"""A hub's check that its memberships still hold, on every shard of its channel layer.

A Redis shard that restarts empty forgets the groups it held without the hub noticing: its
reader reads another shard, or the same one reconnected, and joins only come round every
``RECHECK_SECONDS``. The pub/sub layer reconnects by itself and tells nobody. So each hub is a
member of probe groups of its own, one on each shard of a sharded ``RedisChannelLayer`` (the
pub/sub layer does not tell how it shards: one group there), and every second sends a message
through each: a probe that fails or does not come back means that events may have been missed.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, NamedTuple

from channels.layers import BaseChannelLayer

PROBE = "live_admin.probe"
#: Seconds between two probes of a hub (a message per shard; RECHECK_SECONDS, if shorter).
PROBE_EVERY = 1.0
#: How long a probe may take to come back before its shard counts as having lost the hub.
PROBE_SECONDS = 5.0
#: Names tried per shard before giving up on covering it (the hash spreads them evenly).
_TRIES_PER_SHARD = 64


def probe_groups(layer: BaseChannelLayer) -> list[str]:
    """Group names unique to one hub, one for each shard the layer says it hashes group names
    to (``ring_size`` and ``consistent_hash``, as ``RedisChannelLayer`` has); else one."""
    token = uuid.uuid4().hex[:16]
    shards = getattr(layer, "ring_size", 1)
    place = getattr(layer, "consistent_hash", None)
    if not isinstance(shards, int) or shards <= 1 or place is None:
        return [f"live_admin.probe.{token}.0"]
    chosen: dict[int, str] = {}
    for n in range(shards * _TRIES_PER_SHARD):
        chosen.setdefault(place(f"live_admin.probe.{token}.{n}"), f"live_admin.probe.{token}.{n}")
        if len(chosen) == shards:
            break
    return list(chosen.values())


class Round(NamedTuple):
    """One probe per group, sent together; each future is done when its probe is back."""

    number: int
    back: list[asyncio.Future[None]]


class Probes:
    """The probe groups of one hub, and the probes on their way."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.groups = probe_groups(layer)
        self._rounds = itertools.count()
        self._waiting: dict[tuple[int, str], asyncio.Future[None]] = {}

    async def send(self, slots: asyncio.Semaphore) -> Round:
        """Send a probe through each group. A probe's fate is sealed once sent: the layer
        delivers to the members it has then."""
        number = next(self._rounds)
        loop = asyncio.get_running_loop()
        for group in self.groups:
            self._waiting[number, group] = loop.create_future()
        sent = Round(number, [self._waiting[number, group] for group in self.groups])
        try:
            for group in self.groups:
                async with slots:
                    message = {"type": PROBE, "group": group, "round": number}
                    await self.layer.group_send(group, message)
        except BaseException:
            self._forget(sent)
            raise
        return sent

    async def all_back(self, sent: Round) -> bool:
        """True if every probe of a round came back within PROBE_SECONDS."""
        try:
            _, late = await asyncio.wait(sent.back, timeout=PROBE_SECONDS)
            return not late
        finally:
            self._forget(sent)

    def _forget(self, sent: Round) -> None:
        for group in self.groups:
            self._waiting.pop((sent.number, group), None)

    def heard(self, event: dict[str, Any]) -> None:
        """A probe came back (one of an earlier round is too late to count)."""
        future = self._waiting.get((event.get("round"), event.get("group")))  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(None)
