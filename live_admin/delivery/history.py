"""The recent changes of each model, so that a page that was away catches up from a cursor.

The sender appends each batch's changes of a model as one entry before it sends them, and
stamps the messages with the entry's id: the *cursor* a page keeps. A page that reconnects says
its cursor; the socket reads the entries after it and tells them again (``realtime``), or, when
the history cannot say (too far behind, a cursor it never gave, a gap, a history lost), says so,
and the page checks everything it shows, as it did before there was a history.

The history lives where the events go: a capped Redis stream per model on the channel layer's
first Redis host (as the badge store), or this process's memory for the in-memory layer. It
keeps the last ``LIVE_ADMIN["HISTORY"]`` entries of each model; 0 turns it off.
Entries are content-free, like the messages: groups, pks, field names, actions.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from functools import cache
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import REDIS_LAYERS, get_config, layer_backend
from ..logs import Throttled
from ..protocol import CHANGED
from .layer_store import layer_host, redis_pool

Message = tuple[str, dict[str, Any]]
#: One entry: a batch's messages of one model; None stands for a gap (what it held is unknown).
Entry = list[Message] | None
#: Entries as read, each with its cursor.
Entries = list[tuple[str, Entry]]
#: An entry larger than this (a change of very many objects) is kept as a gap: a page that
#: missed it checks what it shows.
MAX_ENTRY_BYTES = 64 * 1024
#: How long one call to the history's Redis may take, and how long the history is not written
#: after a failure (the sender goes on sending, without cursors).
TIMEOUT = 0.25
PAUSE_SECONDS = 1.0
#: How long a model's stream outlives its last entry.
KEEP_SECONDS = 86400
PREFIX = "live_admin:history:"
_warnings = Throttled()


class History(Protocol):
    """Where each model's recent changes are kept."""

    def append(self, entries: dict[str, list[Message]]) -> dict[str, str]:
        """Keep one entry per model; each one's cursor (none for a model not kept)."""

    def read(self, label: str, since: str) -> Entries | None:
        """The entries of ``label`` after ``since``; None when they are not all known."""

    def head(self, label: str) -> str:
        """The cursor of ``label``'s newest entry ("" when there is none)."""


def _encoded(messages: list[Message]) -> str:
    """An entry as stored: its messages without their cursors, or a gap when too large."""
    text = json.dumps([[group, message] for group, message in messages], separators=(",", ":"))
    return text if len(text) <= MAX_ENTRY_BYTES else "null"


def _decoded(text: str | bytes) -> Entry:
    value = json.loads(text)
    return None if value is None else [(group, message) for group, message in value]


class Off:
    """No history (``HISTORY`` 0): every page that was away checks what it shows."""

    def append(self, entries: dict[str, list[Message]]) -> dict[str, str]:
        return {}

    def read(self, label: str, since: str) -> Entries | None:
        return None

    def head(self, label: str) -> str:
        return ""


class Local:
    """This process's memory: the in-memory layer's pages are all in this process. Cursors are
    numbered across models and name the process's run, so that a page that outlived a restart
    is told to check everything."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.run = uuid.uuid4().hex[:8]
        self.last = 0
        #: Each model's entries, and the number of the newest one dropped from it.
        self.models: dict[str, deque[tuple[int, str]]] = {}
        self.floors: dict[str, int] = {}
        self.lock = threading.Lock()

    def append(self, entries: dict[str, list[Message]]) -> dict[str, str]:
        out = {}
        with self.lock:
            for label, messages in entries.items():
                kept = self.models.setdefault(label, deque())
                self.last += 1
                kept.append((self.last, _encoded(messages)))
                if len(kept) > self.size:
                    self.floors[label] = kept.popleft()[0]
                out[label] = f"{self.run}-{self.last}"
        return out

    def read(self, label: str, since: str) -> Entries | None:
        run, _, number = since.partition("-")
        if run != self.run or not number.isdigit() or len(number) > 20:
            return None
        after = int(number)
        with self.lock:
            if not self.floors.get(label, 0) <= after <= self.last:  # dropped, or never given
                return None
            kept = [(n, text) for n, text in self.models.get(label, ()) if n > after]
        return [(f"{self.run}-{n}", _decoded(text)) for n, text in kept]

    def head(self, label: str) -> str:
        with self.lock:
            return f"{self.run}-{self.last}"


_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}\Z")
#: The entry that starts a stream, so that a quiet model's pages have a cursor too.
_START = "[]"


class Streams:
    """A Redis stream per model on the channel layer's first host: its entry ids are the
    cursors, and a cursor is good while its entry is kept. A stream lost (Redis restarted
    empty, or a day unused) loses the cursors with it."""

    def __init__(self, host: dict[str, Any], size: int) -> None:
        self.size = size
        self.pool = redis_pool(host)
        # Appends are on the sender's path: a Redis that hangs costs each send this much at
        # most (the host's own, longer, time-outs are for the layer's blocking reads).
        self.pool.connection_kwargs.update(socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self.paused_until = 0.0
        #: Models whose entries could not be kept: their next entry is preceded by a gap.
        self.lost: set[str] = set()

    def _client(self) -> Any:
        import redis

        return redis.Redis(connection_pool=self.pool)

    def append(self, entries: dict[str, list[Message]]) -> dict[str, str]:
        if time.monotonic() < self.paused_until:
            self.lost.update(entries)
            return {}
        try:
            pipe = self._client().pipeline(transaction=False)
            for label, messages in entries.items():
                key = PREFIX + label
                if label in self.lost:
                    pipe.xadd(key, {"e": "null"}, maxlen=self.size, approximate=False)
                pipe.xadd(key, {"e": _encoded(messages)}, maxlen=self.size, approximate=False)
                pipe.expire(key, KEEP_SECONDS)
            replies = iter(pipe.execute())
        except Exception as exc:
            self.lost.update(entries)
            self.paused_until = time.monotonic() + PAUSE_SECONDS
            _warnings.log("could not keep changes for replay: %s", exc)
            return {}
        out = {}
        for label in entries:
            if label in self.lost:
                next(replies)
                self.lost.discard(label)
            out[label] = _text(next(replies))
            next(replies)
        return out

    def read(self, label: str, since: str) -> Entries | None:
        if not _STREAM_ID.match(since):
            return None
        found = self._client().xrange(PREFIX + label, min=since, count=self.size + 1)
        if not found or _text(found[0][0]) != since:  # dropped, never given, or lost
            return None
        return [(_text(i), _decoded(fields[b"e"])) for i, fields in found[1:]]

    def head(self, label: str) -> str:
        """The newest entry's id; a stream with none is started with an empty entry."""
        client = self._client()
        found = client.xrevrange(PREFIX + label, count=1)
        if found:
            return _text(found[0][0])
        started = client.xadd(PREFIX + label, {"e": _START}, maxlen=self.size, approximate=False)
        client.expire(PREFIX + label, KEEP_SECONDS)
        return _text(started)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@cache
def history() -> History:
    """This process's history: Redis streams on a channels-redis layer, else its memory."""
    size = get_config()["HISTORY"]
    if size <= 0:
        return Off()
    host = layer_host()
    if layer_backend() in REDIS_LAYERS and host is not None:
        return Streams(host, size)
    return Local(size)


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LIVE_ADMIN", "CHANNEL_LAYERS"):
        history.cache_clear()


def stamp(batch: list[Message]) -> list[Message]:
    """Keep ``batch``'s changes, one entry per model, and give each change message its cursor.
    Never raises: a history that fails leaves the messages as they are."""
    entries: dict[str, list[Message]] = {}
    for group, message in batch:
        if message.get("type") == CHANGED:
            entries.setdefault(message["model"], []).append((group, message))
    if not entries:
        return batch
    try:
        cursors = history().append(entries)
    except Exception as exc:
        _warnings.log("could not keep changes for replay: %s", exc)
        return batch
    return [
        (group, {**message, "cursor": cursors[message["model"]]})
        if message.get("type") == CHANGED and message["model"] in cursors
        else (group, message)
        for group, message in batch
    ]
