"""Hands events to the channel layer without ever blocking or failing the code that saved.

One :class:`Sender` per process. For a network layer (channels-redis) it is a background
:class:`~live_admin.worker.Worker` with its own event loop and its own layer instance, so the
process keeps one set of connections however many saves it makes. For channels' in-memory layer
it schedules the sends on the event loop of this process's websocket consumers, the only place
they can be heard.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from channels.layers import (
    BaseChannelLayer,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)

from .conf import get_config
from .worker import Worker

Message = tuple[str, dict[str, Any]]

#: The types of the messages live_admin puts on the channel layer.
CHANGED = "live_admin.changed"
LOGOUT = "live_admin.logout"
MAX_BACKOFF = 2.0


def get_layer() -> BaseChannelLayer:
    """The channel layer live_admin uses; an in-memory one when none is configured."""
    alias = get_config()["CHANNEL_LAYER"]
    layer = get_channel_layer(alias)
    if layer is None:
        layer = InMemoryChannelLayer()
        channel_layers.set(alias, layer)
    return layer


def _local_layer() -> InMemoryChannelLayer | None:
    """The in-memory layer when live_admin uses one; None for a network layer.

    Decided without building a network layer: building one imports its package (channels_redis
    takes about 200 ms), which the sender's worker does, off the saving thread.
    """
    alias = get_config()["CHANNEL_LAYER"]
    built = channel_layers.backends.get(alias)
    if built is None:
        backend = channel_layers.configs.get(alias, {}).get("BACKEND")
        if backend is not None:  # a class not imported yet is no in-memory layer
            module, _, name = backend.rpartition(".")
            cls = getattr(sys.modules.get(module), name, None)
            if not (isinstance(cls, type) and issubclass(cls, InMemoryChannelLayer)):
                return None
        built = get_layer()
    return built if isinstance(built, InMemoryChannelLayer) else None


class Sender(Worker):
    """Queues messages for the channel layer; :meth:`send` returns at once and never raises."""

    name = "live-admin-sender"

    def __init__(self) -> None:
        #: ``sent``, ``failed`` (layer errors and time-outs), ``dropped`` (queue full),
        #: ``unheard`` (in-memory layer, no consumer in this process).
        self.stats: Counter[str] = Counter()
        self.captures: list[list[dict[str, Any]]] = []
        super().__init__()

    def _reset(self) -> None:
        super()._reset()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer: tuple[dict[str, Any], BaseChannelLayer] | None = None
        self._down_until = 0.0
        self._failures = 0
        self._local_tasks: set[asyncio.Task[None]] = set()
        self.home_loop: asyncio.AbstractEventLoop | None = None

    # -- the caller's side ------------------------------------------------------------------

    def send(self, messages: list[Message], *, captured: bool = True) -> None:
        """Queue ``(group, message)`` pairs for delivery (shown to ``capture_broadcasts`` unless
        ``captured`` is False: live_admin's own bookkeeping)."""
        for capture in self.captures if captured else ():
            capture.extend(message for _, message in messages)
        try:
            layer = _local_layer()
            if layer is not None:
                self._send_local(layer, messages)
            else:
                self._enqueue(messages)
        except Exception as exc:
            self._failed(len(messages), exc)

    def _unfinished(self) -> str:
        return f"{len(self._pending)} event(s) not sent before exit"

    # -- in-memory layer: the consumers' loop ---------------------------------------------

    def _send_local(self, layer: InMemoryChannelLayer, messages: list[Message]) -> None:
        loop = self.home_loop
        if loop is None or loop.is_closed():
            self.stats["unheard"] += len(messages)
            return
        loop.call_soon_threadsafe(self._spawn_local, layer, messages)

    def _spawn_local(self, layer: InMemoryChannelLayer, messages: list[Message]) -> None:
        task = asyncio.ensure_future(self._deliver(layer, messages))
        self._local_tasks.add(task)
        task.add_done_callback(self._local_tasks.discard)

    # -- network layers: the worker's thread ----------------------------------------------

    def _enqueue(self, messages: list[Message]) -> None:
        dropped = self._put(messages, get_config()["MAX_PENDING"])
        if dropped:
            self.stats["dropped"] += dropped
            self._warn("queue full, %d event(s) dropped", dropped)

    def _work(self, batch: list[Message]) -> None:
        """In the worker's thread: deliver on its own event loop."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._deliver_batch(batch))
        except Exception as exc:
            self._failed(len(batch), exc)

    async def _deliver_batch(self, batch: list[Message]) -> None:
        try:
            layer = await self._own_layer()
        except Exception as exc:  # a bad CHANNEL_LAYERS entry: fails here, not in the save
            self._failed(len(batch), exc)
            return
        if isinstance(layer, InMemoryChannelLayer):  # a subclass of it, named in the settings
            self._send_local(get_layer(), batch)  # type: ignore[arg-type]
            return
        await self._deliver(layer, fold(batch), len(batch))

    async def _own_layer(self) -> BaseChannelLayer:
        """The worker's own layer instance, remade when its ``CHANNEL_LAYERS`` entry changes."""
        alias = get_config()["CHANNEL_LAYER"]
        config = channel_layers.configs[alias]
        if self._layer is None or self._layer[0] != config:
            if self._layer is not None and hasattr(self._layer[1], "close_pools"):
                await self._layer[1].close_pools()
            self._layer = (config, channel_layers.make_backend(alias))
        return self._layer[1]

    async def _deliver(
        self, layer: BaseChannelLayer, batch: list[Message], queued: int | None = None
    ) -> None:
        """Send ``batch``, which stands for ``queued`` messages (more, if some were folded)."""
        queued = len(batch) if queued is None else queued
        if time.monotonic() < self._down_until:
            self._failed(queued, "the channel layer failed moments ago")
            return
        timeout = get_config()["SEND_TIMEOUT"]
        for sent, (group, message) in enumerate(batch):
            try:
                await _send_once_or_twice(layer, group, message, timeout)
            except Exception as exc:
                self._failures += 1
                self._down_until = time.monotonic() + min(0.25 * 2**self._failures, MAX_BACKOFF)
                self.stats["sent"] += sent
                self._failed(queued - sent, exc)
                return
        self._failures = 0
        self.stats["sent"] += queued

    # -- failures -------------------------------------------------------------------------

    def _failed(self, count: int, reason: object) -> None:
        self.stats["failed"] += count
        self._warn("could not send %d event(s): %s", count, str(reason) or type(reason).__name__)

    def _warn(self, message: str, *args: object) -> None:
        self._warnings.log(message + " (%s so far)", *args, dict(self.stats))


def fold(batch: list[Message]) -> list[Message]:
    """One change message per group for messages that queued up while the sender was busy.

    Later changes fold into the group's first message as one transaction's would: an object's
    fields add up and its latest action wins; a group's counts add up and differing actions
    make ``bulk``; an origin or author survives only if all agree. Other messages pass as they are.
    """
    out: list[Message] = []
    first: dict[str, int] = {}
    for group, message in batch:
        if message.get("type") == CHANGED:
            index = first.get(group)
            if index is not None:
                out[index] = (group, _merged(out[index][1], message))
                continue
            first[group] = len(out)
        out.append((group, message))
    return out


def _merged(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    merged = dict(later)
    if earlier.get("origin") != later.get("origin"):
        merged["origin"] = None
    if "pk" in later:  # one object: as broadcast's _Object.absorb
        merged["fields"] = sorted({*earlier.get("fields", ()), *later.get("fields", ())})
        if earlier.get("by") != later.get("by"):
            merged["by"] = None
    else:
        if earlier["action"] != later["action"]:
            merged["action"] = "bulk"
        counts = earlier.get("count"), later.get("count")
        merged["count"] = None if None in counts else sum(counts)  # type: ignore[arg-type]
        if "objects" in earlier or "objects" in later:  # for row refreshes: None if not known
            merged["objects"] = _objects(earlier.get("objects"), later.get("objects"))
    return merged


def _objects(earlier: dict | None, later: dict | None) -> dict | None:
    """Two messages' objects as one's (see broadcast's ``_summary``): None if either is not
    known, or if there are too many."""
    from .broadcast import MAX_OBJECTS

    if earlier is None or later is None:
        return None
    merged = dict(earlier)
    for key, obj in later.items():
        known = merged.get(key)
        if known is None:
            merged[key] = obj
            continue
        merged[key] = {
            **obj,
            "fields": sorted({*known["fields"], *obj["fields"]}),
            "action": known["action"]
            if (
                known["action"] == "deleted"
                or (known["action"] == "bulk" and obj["action"] == "saved")
            )
            and not obj.get("created")
            else obj["action"],
            "by": obj["by"] if obj["by"] == known["by"] else None,
            "origin": obj["origin"] if obj["origin"] == known["origin"] else None,
        }
        if known.get("created") or obj.get("created"):
            merged[key]["created"] = True
    return merged if len(merged) <= MAX_OBJECTS else None


async def _send_once_or_twice(
    layer: BaseChannelLayer, group: str, message: dict[str, Any], timeout: float
) -> None:
    """Send; on an error other than a time-out, send again at once: a connection the layer held
    before Redis restarted fails once, and the retry reconnects. A time-out is not retried."""
    try:
        await _within(layer.group_send(group, message), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        raise
    except Exception:
        await _within(layer.group_send(group, message), timeout)


async def _within(awaitable: Awaitable[None], timeout: float) -> None:
    """``asyncio.wait_for`` without the task it makes per call on Python 3.11."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            await awaitable
    else:  # pragma: no cover (3.10)
        await asyncio.wait_for(awaitable, timeout)


#: The process's sender.
sender = Sender()
