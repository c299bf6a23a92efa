"""Change badges: how many objects of a model changed since a user last opened its changelist.

Each committed change of a live model is recorded, off the saving thread, as a numbered *batch*
(the pks it touched) in the badge store, a Django cache: ``LIVE_ADMIN["BADGE_CACHE"]`` (an alias
of ``CACHES``) if set, else the channel layer's own Redis (:mod:`.layer_store`), else (the
in-memory layer, one process) a private in-process one. The store keeps the last ``RING``
batches of each model and, per user and model, the number of the last batch they had seen
when they last opened the changelist. A socket counts the distinct pks of
the batches after that one; once a batch is stored, a ``live_admin.badge`` message tells the
model's badge group, and opening a changelist tells the user's other pages with
``live_admin.seen``.

Like the model subscription whose check grants them, badges count every object of the model: an
admin whose ``get_queryset`` hides rows per user sets ``live_badges = False``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from ..conf import badges_shared, get_config
from ..protocol import BADGE, MAX_OBJECTS, SEEN, badge_group, user_group
from .layer_store import layer_cache
from .sender import sender
from .worker import Worker

#: Batches kept per model; a user who missed more sees "N+".
RING = 200
#: How long the store keeps a batch, and what a user last saw.
BATCH_SECONDS = 7 * 86400
SEEN_SECONDS = 90 * 86400
#: Work waiting for the recorder; past this the oldest is dropped (a store that hangs).
MAX_QUEUED = 10_000
PREFIX = "live_admin:badges:"
#: Distinct pks one count keeps (a badge shows "99+" past 99); past it, the count is "N+".
MAX_PKS = 100
#: Batches a count waits for while their writer stores them; older missing ones count as lost.
MAX_PENDING_BATCHES = 20


@cache
def store() -> BaseCache:
    """The badge store: ``LIVE_ADMIN["BADGE_CACHE"]``, the channel layer's Redis, or this
    process's own memory."""
    alias = get_config()["BADGE_CACHE"]
    if alias is None:
        own = LocMemCache("live_admin_badges", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
        return layer_cache() or own
    return caches[alias]


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LIVE_ADMIN", "CACHES", "CHANNEL_LAYERS"):
        store.cache_clear()


def _seq_key(label: str) -> str:
    return f"{PREFIX}{label}:seq"


def _batch_key(label: str, number: int) -> str:
    return f"{PREFIX}{label}:{number % RING}"


def _seen_key(user: object, label: str) -> str:
    return f"{PREFIX}seen:{user}:{label}"


# -- the store --------------------------------------------------------------------------------


def record(label: str, pks: Iterable[str] | None, count: int | None) -> int:
    """Store a batch of ``label``'s changes (``pks`` None: not known which, ``count`` how many
    if known); its number."""
    cache_ = store()
    cache_.add(_seq_key(label), 0, timeout=None)
    number = cache_.incr(_seq_key(label))
    stored = None if pks is None else tuple(pks)
    cache_.set(_batch_key(label, number), (number, stored, count), timeout=BATCH_SECONDS)
    return number


def latest(labels: Iterable[str]) -> dict[str, int]:
    """The number of each model's last batch (0 before its first)."""
    labels = list(labels)
    found = store().get_many([_seq_key(label) for label in labels])
    return {label: found.get(_seq_key(label), 0) for label in labels}


def seen(user: object, labels: Iterable[str]) -> dict[str, int | None]:
    """The last batch ``user`` saw of each model; None if the store has no record of it."""
    labels = list(labels)
    found = store().get_many([_seen_key(user, label) for label in labels])
    return {label: found.get(_seen_key(user, label)) for label in labels}


def set_seen(user: object, label: str, number: int) -> None:
    store().set(_seen_key(user, label), number, timeout=SEEN_SECONDS)


Batch = tuple[int, "tuple[str, ...] | None", "int | None"]


def batches(label: str, first: int, last: int) -> dict[int, Batch]:
    """The stored batches ``first`` to ``last`` of ``label`` (those still kept)."""
    first = max(first, last - RING + 1, 1)
    numbers = range(first, last + 1)
    found = store().get_many([_batch_key(label, n) for n in numbers])
    out = {}
    for n in numbers:
        batch = found.get(_batch_key(label, n))
        if batch is not None and batch[0] == n:  # not overwritten by a later turn of the ring
            out[n] = batch
    return out


@dataclass
class Tally:
    """One socket's count of one model: batches after ``seen`` up to ``read``."""

    seen: int
    read: int
    pks: set[str] = field(default_factory=set)
    #: Changes of unknown objects; and whether some were not counted one by one (the count is
    #: "N+": batches no longer kept, pk-less batches, more pks than MAX_PKS).
    unknown: int = 0
    more: bool = False
    #: Numbers taken but not stored yet when read (another process between its INCR and SET):
    #: read again with the next batch.
    pending: set[int] = field(default_factory=set)

    def wanted(self, upto: int) -> tuple[int, int]:
        """The numbers to read for a batch ``upto``: from the oldest pending one, or after
        ``read``."""
        first = min(self.pending, default=self.read + 1)
        return max(first, upto - RING + 1, 1), upto

    def add(self, found: dict[int, Batch], upto: int) -> None:
        """Count the batches after ``read`` up to ``upto``, and the pending ones, from ``found``."""
        oldest = upto - RING + 1
        if self.read + 1 < oldest:  # fell out of the ring unread
            self.more = True
        numbers = [*sorted(self.pending), *range(max(self.read + 1, oldest), upto + 1)]
        self.pending = set()
        for n in numbers:
            batch = found.get(n)
            if batch is None:
                if n >= oldest and n > upto - MAX_PENDING_BATCHES:
                    self.pending.add(n)
                else:
                    self.more = True
            elif batch[1] is None:
                self.unknown += batch[2] or 1
                self.more = True
            elif len(self.pks) < MAX_PKS:
                self.pks.update(batch[1][: MAX_PKS - len(self.pks)])
                self.more |= len(self.pks) >= MAX_PKS and not self.pks.issuperset(batch[1])
            else:
                self.more |= not self.pks.issuperset(batch[1])
        self.read = max(self.read, upto)

    @property
    def count(self) -> int:
        return max(len(self.pks) + self.unknown, 1 if self.more else 0)

    def told(self) -> dict[str, Any]:
        return {"count": self.count, "more": self.more}


# -- the recorder: the store's writes, off the saving thread -------------------------------------


class Recorder(Worker):
    """Writes batches and opened changelists to the store in a thread of its own, then tells
    the pages; :meth:`changed` and :meth:`opened` return at once and never raise. (Made after
    the sender, so its wait at exit runs first: what it records is then still told.)"""

    name = "live-admin-badges"

    def changed(self, label: str, pks: list[str] | None, count: int | None) -> None:
        self._queue(("changed", label, pks, count))

    def opened(self, user: object, label: str) -> None:
        """``user`` opened ``label``'s changelist (or closed it, having watched it)."""
        self._queue(("opened", str(user), label))

    def _queue(self, item: tuple[Any, ...]) -> None:
        try:
            if self._put([item], MAX_QUEUED):
                self._warnings.log("badge store too slow, a change was not counted")
        except Exception as exc:  # never into a save
            self._warnings.log("could not queue a badge change: %s", exc)

    def _work(self, batch: list[tuple[Any, ...]]) -> None:
        for item in _folded(batch):
            try:
                self._handle(item)
            except Exception as exc:
                self._warnings.log("the badge store failed: %s", exc)

    def _handle(self, item: tuple[Any, ...]) -> None:
        if item[0] == "changed":
            _, label, pks, count = item
            _tell(BADGE, model_group(label), label, record(label, pks, count))
        else:
            _, user, label = item
            number = latest([label])[label]
            if seen(user, [label])[label] == number:
                return
            set_seen(user, label, number)
            _tell(SEEN, users_group(user), label, number)

    def _unfinished(self) -> str:
        return "change badges not recorded before exit"


def _folded(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``items`` with each run of changes between two opened changelists stored as one batch
    per model: the pks together (None if any is unknown or past ``MAX_OBJECTS``), and their
    count."""
    out: list[tuple[Any, ...]] = []
    run: dict[str, tuple[Any, ...]] = {}
    for item in items:
        if item[0] != "changed":
            out += run.values()
            run = {}
            out.append(item)
            continue
        _, label, pks, count = item
        known = run.get(label)
        if known is not None:
            _, _, known_pks, known_count = known
            if pks is not None and known_pks is not None:
                pks = list(dict.fromkeys(known_pks + pks))
                count = len(pks)
                if count > MAX_OBJECTS:  # counted, not kept one by one, as a save's own are
                    pks = None
            else:
                pks = None
                count = None if count is None or known_count is None else count + known_count
        run[label] = ("changed", label, pks, count)
    return out + list(run.values())


def _tell(kind: str, group: str, label: str, number: int) -> None:
    """Tell the pages that follow ``group`` (a group of :func:`scope`), through the layer."""
    message = {"type": kind, "group": group, "model": label, "seq": number}
    sender.send([(group, message)], captured=False)


_process = uuid.uuid4().hex[:8]


def scope() -> str:
    """What badge group names carry: nothing when the store is shared; this process's own mark
    when each process keeps its own store (its numbers mean nothing to another's pages)."""
    if badges_shared():
        return ""
    return f"{_process}-{os.getpid()}"


def model_group(label: str) -> str:
    """The group of the pages showing ``label``'s badge, told when a batch of it is stored."""
    return badge_group(label, scope())


def users_group(user: object) -> str:
    """The group of one user's badge-showing pages, told when they open a changelist."""
    return user_group(user, scope())


#: The process's recorder.
recorder = Recorder()


def record_changes(batches: list[tuple[str, list[str] | None, int | None]]) -> None:
    """Hand one transaction's badge batches (model, pks, count) to the recorder."""
    if not get_config()["BADGES"]:
        return
    for label, pks, count in batches:
        recorder.changed(label, pks, count)
