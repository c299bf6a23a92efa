"""The hub's reader of the channel layer: the wait between retries, how events are handed to
sockets, and how a reader is ended.
Here the package leans on channels-redis's internals (its ``receive_buffer``): see
docs/architecture.md."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

logger = logging.getLogger("live_admin")

MAX_RETRY_DELAY = 2.0
#: What the hub sends itself to end its reader, and how long it waits for each step.
STOP = {"type": "live_admin.stop"}
STOP_SECONDS = 5.0
#: Sockets handed an event in one pass of a loop that writes on its next pass.
HAND_OVER = 32


class Backoff:
    """Waits between retries: 0.1 s, doubling up to MAX_RETRY_DELAY, until reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.delay = 0.1

    async def wait(self) -> None:
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_RETRY_DELAY)


class Member(Protocol):
    """What the hub needs of a socket."""

    def deliver(self, event: dict[str, Any]) -> None:
        """Take an event for the socket; must not block."""


def writes_on_next_pass() -> bool:
    """Whether the running loop is driven by Twisted's asyncio reactor (daphne's): its
    transports buffer a write until the loop's next pass, where asyncio's and uvloop's write at
    once. Importing daphne's server installs that reactor on a loop of its own, so the test is
    whether this is that loop (Twisted keeps it in ``_asyncioEventloop``)."""
    reactor = sys.modules.get("twisted.internet.reactor")
    loop = getattr(reactor, "_asyncioEventloop", None)
    return loop is not None and loop is asyncio.get_running_loop()


async def hand_over(sockets: list[Member], event: dict[str, Any], per_pass: int) -> None:
    """Give ``event`` to ``sockets``, ``per_pass`` a pass of the loop. On a loop that writes on
    its next pass, the first frames then go out while later sockets make theirs, instead of
    every frame after the last socket's; where writes go at once, passes only cost time."""
    for start in range(0, len(sockets), per_pass):
        if start:
            await asyncio.sleep(0)
        for socket in sockets[start : start + per_pass]:
            socket.deliver(event)


async def stop_reader(
    layer: BaseChannelLayer,
    channel_task: asyncio.Task[str],
    reader: asyncio.Task[None],
    probe: str | None,
) -> None:
    """End the reader of a run whose last socket left.

    On channels-redis the reader is sent a message that makes it return: a receive cancelled
    in Redis's blocking read can miss the cancel (redis-py takes it for the read's own
    time-out) and go on reading. Elsewhere, and if that fails, it is cancelled: the channel
    has no member left to miss an event, and the pub/sub layer unsubscribes its channel only
    then.
    """
    buffers = getattr(layer, "receive_buffer", None)
    if isinstance(buffers, dict) and channel_task.done() and not channel_task.cancelled():
        try:
            # Through a probe group: sharded, channels-redis places a send to a
            # process-local channel by its full name but reads it by the shared part.
            if probe is not None:
                sent = layer.group_send(probe, STOP)
            else:
                sent = layer.send(channel_task.result(), STOP)
            await asyncio.wait_for(sent, STOP_SECONDS)
            await asyncio.wait_for(asyncio.shield(reader), STOP_SECONDS)
        except Exception as exc:  # time-outs included
            logger.debug("live_admin: could not stop the hub's reader by message: %s", exc)
        else:
            return
    reader.cancel()
    channel_task.cancel()
    await asyncio.wait([reader, channel_task], timeout=STOP_SECONDS)
    cleaned = isinstance(buffers, dict) and reader.done() and channel_task.done()
    if cleaned and not channel_task.cancelled():  # channels-redis keeps a cancelled one's
        buffers.pop(channel_task.result(), None)  # type: ignore[union-attr]
