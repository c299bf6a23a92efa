"""Hands events to the channel layer without ever blocking or failing the code that saved.

One :class:`Sender` per process. For a network layer (channels-redis) it is a background
:class:`~live_admin.delivery.worker.Worker` with its own event loop and its own layer
instance, so the process keeps one set of connections however many saves it makes. For
channels' in-memory layer it schedules the sends on the event loop of this process's
websocket consumers, the only place they can be heard.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol, TypeVar

from channels.layers import (
    BaseChannelLayer,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.conf import settings

from ..conf import get_config
from ..logs import UNHEARD, logger
from ..protocol import LOGOUT, session_group
from .history import stamp
from .listeners import listened
from .worker import Worker

T = TypeVar("T")
Message = tuple[str, dict[str, Any]]
MAX_BACKOFF = 2.0


class Outgoing(Protocol):
    """A transaction's changes, as capture hands them over: foldable into one another by the
    package's one coalescing rule, and told as messages only when sent."""

    def merge(self, other: Any) -> None: ...

    def messages(self) -> list[Message]: ...

    def __len__(self) -> int: ...


#: What the sender's queue holds: a transaction's changes, or one message as it is.
Item = Outgoing | Message


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
        #: Messages ``sent`` and ``failed`` (layer errors and time-outs), queued items
        #: ``dropped`` (queue full: a transaction's changes, or a message), messages
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
        self._submit(list(messages))

    def send_changes(self, changes: Outgoing) -> None:
        """Queue a transaction's committed changes; changes queued while the sender is busy are
        folded into one another and go out as one message per group."""
        if self.captures:
            told = [message for _, message in changes.messages()]
            for capture in self.captures:
                capture.extend(told)
        self._submit([changes])

    def reaches_pages(self) -> bool:
        """Whether what this process sends can reach pages: a network layer, or the in-memory
        layer of the process that serves them."""
        if _local_layer() is None:
            return True
        return self.home_loop is not None and not self.home_loop.is_closed()

    def _submit(self, items: list[Item]) -> None:
        try:
            layer = _local_layer()
            if layer is not None:
                self._send_local(layer, items)
            else:
                self._enqueue(items)
        except Exception as exc:
            self._failed(_count(items), exc)

    def _unfinished(self) -> str:
        return f"{len(self._pending)} event(s) not sent before exit"

    # -- in-memory layer: the consumers' loop ---------------------------------------------

    def _send_local(self, layer: InMemoryChannelLayer, items: list[Item]) -> None:
        """Hand ``items`` to the consumers' loop, where they are told as messages and sent."""
        loop = self.home_loop
        if loop is None or loop.is_closed():
            if not self.stats["unheard"] and settings.DEBUG:  # once, in development
                logger.warning(f"live_admin: {UNHEARD}")
            self.stats["unheard"] += _count(items)
            return
        loop.call_soon_threadsafe(self._spawn_local, layer, items)

    def _spawn_local(self, layer: InMemoryChannelLayer, items: list[Item]) -> None:
        task = asyncio.ensure_future(self._deliver(layer, _messages(items)))
        self._local_tasks.add(task)
        task.add_done_callback(self._local_tasks.discard)

    # -- network layers: the worker's thread ----------------------------------------------

    def _enqueue(self, items: list[Item]) -> None:
        dropped = self._put(items, get_config()["MAX_PENDING"])
        if dropped:
            self.stats["dropped"] += dropped
            self._warn("queue full, %d event(s) dropped", dropped)

    def _work(self, batch: list[Item]) -> None:
        """In the worker's thread: fold the batch, and deliver on the thread's own loop."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        messages: list[Message] = []
        try:
            messages = _messages(batch)
            self._loop.run_until_complete(self._deliver_batch(messages))
        except Exception as exc:
            self._failed(len(messages) or len(batch), exc)

    async def _deliver_batch(self, messages: list[Message]) -> None:
        try:
            layer = await self._own_layer()
        except Exception as exc:  # a bad CHANNEL_LAYERS entry: fails here, not in the save
            self._failed(len(messages), exc)
            return
        if isinstance(layer, InMemoryChannelLayer):  # a subclass of it, named in the settings
            self._send_local(get_layer(), messages)  # type: ignore[arg-type]
            return
        await self._deliver(layer, messages)

    async def _own_layer(self) -> BaseChannelLayer:
        """The worker's own layer instance, remade when its ``CHANNEL_LAYERS`` entry changes."""
        alias = get_config()["CHANNEL_LAYER"]
        config = channel_layers.configs[alias]
        if self._layer is None or self._layer[0] != config:
            if self._layer is not None and hasattr(self._layer[1], "close_pools"):
                await self._layer[1].close_pools()
            self._layer = (config, channel_layers.make_backend(alias))
        return self._layer[1]

    async def _deliver(self, layer: BaseChannelLayer, batch: list[Message]) -> None:
        """Send ``batch`` in order, skipping groups the layer says nobody is in; a failure fails
        the rest, and holds sends back a moment."""
        queued = len(batch)
        if time.monotonic() < self._down_until:
            self._failed(queued, "the channel layer failed moments ago")
            return
        timeout = get_config()["SEND_TIMEOUT"]
        batch = stamp(batch)  # kept for pages that were away, and given cursors
        sent = 0
        try:
            heard = await _once_or_twice(partial(listened, layer, [g for g, _ in batch]), timeout)
            for group, message in batch:
                if heard is None or group in heard:  # to nobody: as sent as group_send makes it
                    await _once_or_twice(partial(layer.group_send, group, message), timeout)
                sent += 1
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


async def _once_or_twice(call: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Await ``call()``; on an error other than a time-out, once more at once: a connection the
    layer held before Redis restarted fails once, and the retry reconnects. A time-out is not
    retried."""
    try:
        return await _within(call(), timeout)
    except (TimeoutError, asyncio.TimeoutError):
        raise
    except Exception:
        return await _within(call(), timeout)


async def _within(awaitable: Awaitable[T], timeout: float) -> T:
    """``asyncio.wait_for`` without the task it makes per call on Python 3.11."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    else:  # pragma: no cover (3.10)
        return await asyncio.wait_for(awaitable, timeout)


def _count(items: list[Item]) -> int:
    """How many messages ``items`` make."""
    return sum(1 if isinstance(item, tuple) else len(item) for item in items)


def _messages(items: list[Item]) -> list[Message]:
    """The messages of queued items, in order: consecutive changes folded into one another
    (the first item is folded into, and is not used again)."""
    out: list[Message] = []
    pending: Outgoing | None = None
    for item in items:
        if isinstance(item, tuple):
            out.append(item)
        elif pending is None:
            pending = item
        else:
            pending.merge(item)
    return out + (pending.messages() if pending is not None else [])


def stats() -> dict[str, int]:
    """What this process's sender did so far: messages ``sent``, ``failed`` and ``unheard``,
    queued items ``dropped``."""
    return {key: sender.stats[key] for key in ("sent", "failed", "dropped", "unheard")}


def logged_out(request: Any = None, **kwargs: Any) -> None:
    """Close the sockets of a session that logged out (``user_logged_out`` receiver)."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        group = session_group(key)
        sender.send([(group, {"type": LOGOUT, "group": group})])


#: The process's sender.
sender = Sender()
