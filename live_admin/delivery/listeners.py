"""Which of a batch's groups anyone listens to, asked of channels-redis in one round trip.

channels-redis's ``group_send`` costs two round trips and their Python even for a group nobody
is in, and most groups a save tells have nobody in them: one per changed object, watched only
while a change form shows it. For channels-redis's ``RedisChannelLayer`` the sender first asks
each shard, in one pipeline, how many live members each group has, and sends only to groups
that have one. Any other layer is sent every group, as before.

This reads four parts of that layer: ``_group_key``, ``consistent_hash``, ``connection`` and
``group_expiry`` (docs/architecture.md). A layer without them is sent every group.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from channels.layers import BaseChannelLayer

_PARTS = ("_group_key", "consistent_hash", "connection", "group_expiry")


def knows_groups(layer: BaseChannelLayer) -> bool:
    """Whether ``layer`` is a channels-redis layer whose group sets can be read."""
    return any(
        k.__module__ == "channels_redis.core" and k.__name__ == "RedisChannelLayer"
        for k in type(layer).__mro__
    ) and all(hasattr(layer, part) for part in _PARTS)


async def listened(layer: BaseChannelLayer, groups: Iterable[str]) -> set[str] | None:
    """The groups of ``groups`` that have a member now; None when ``layer`` cannot say."""
    if not knows_groups(layer):
        return None
    redis: Any = layer
    shards: dict[int, list[str]] = {}
    for group in dict.fromkeys(groups):
        shards.setdefault(redis.consistent_hash(group), []).append(group)
    # group_send drops members whose score is at or below this; the rest are live.
    live_after = f"({int(time.time()) - redis.group_expiry}"
    heard: set[str] = set()
    for index, names in shards.items():
        pipe = redis.connection(index).pipeline(transaction=False)
        for name in names:
            pipe.zcount(redis._group_key(name), live_after, "+inf")
        counts = await pipe.execute()
        heard.update(name for name, count in zip(names, counts, strict=True) if count)
    return heard
