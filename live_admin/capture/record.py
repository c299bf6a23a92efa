"""Recording changes per transaction and batch, and the public bulk API.

Changes made inside a transaction are held until its outermost commit and dropped on rollback
(Django's own ``on_commit`` bookkeeping decides which survive). Each transaction then sends one
message per affected group, however many rows it touched. Messages name what changed, never the
values: pages re-fetch through the admin's views to see the rows as their user may.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.utils import timezone

from ..delivery import submit
from .changes import Changes, actor

__all__ = ["acting", "batch", "notify"]

_local = threading.local()


@contextmanager
def acting(by: str | None, origin: str | None) -> Iterator[None]:
    """Attribute the changes made inside the block to a user's display name and a page."""
    reset = actor.set((by, origin))
    try:
        yield
    finally:
        actor.reset(reset)


# -- transactions and batches ------------------------------------------------------------------


def changes_for(using: str) -> tuple[Changes, bool]:
    """The :class:`Changes` to record into on connection ``using``, and whether to deliver now.

    Outside a transaction a change is delivered at once. Inside one, changes gather per savepoint
    context in a :class:`Changes` whose delivery is registered with ``on_commit``: Django then
    drops it with a rolled-back savepoint and runs it only after the outermost commit. Commit,
    rollback and savepoint rollback each give the connection a new ``run_on_commit`` list, which
    tells us when a gathering is over.
    """
    conn = connections[using]
    if not conn.in_atomic_block:
        return Changes(), True
    states: dict[int, tuple[list[Any], dict[tuple[str, ...], Changes]]]
    states = _local.__dict__.setdefault("transactions", {})
    ref, parts = states.get(id(conn), (None, {}))
    if ref is not conn.run_on_commit:
        parts = {}
        states[id(conn)] = (conn.run_on_commit, parts)
    key = tuple(conn.savepoint_ids)
    changes = parts.get(key)
    if changes is None:
        changes = parts[key] = Changes()
        conn.on_commit(partial(deliver, changes))
    return changes, False


@contextmanager
def recording(using: str) -> Iterator[Changes]:
    """The :class:`Changes` to record into; delivered on leaving when no transaction is open."""
    changes, now = changes_for(using)
    yield changes
    if now:
        deliver(changes)


def deliver(changes: Changes) -> None:
    """Send committed changes, or hand them to the innermost open :func:`batch`."""
    stack: list[Changes] = _local.__dict__.setdefault("batches", [])
    if stack:
        stack[-1].merge(changes)
    elif changes:
        changes.at = timezone.now().isoformat()
        submit(changes)


@contextmanager
def batch() -> Iterator[None]:
    """Coalesce every change committed inside the block into one message per group.

    Use it around loops of saves made outside a transaction (each save commits on its own) so that
    watching pages refresh once. Changes made inside a transaction are coalesced already.
    """
    stack: list[Changes] = _local.__dict__.setdefault("batches", [])
    collected = Changes()
    stack.append(collected)
    try:
        yield
    finally:
        stack.pop()
        deliver(collected)


def notify(
    model: type[Model] | str, pks: Iterable[object] | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Tell watching pages that rows of ``model`` changed without ORM signals.

    For ``QuerySet.update()``, ``bulk_create()``, ``bulk_update()`` and raw SQL. ``pks`` names the
    changed rows; ``None`` means any row may have changed. Inside a transaction the message goes out
    on commit.
    """
    label = (apps.get_model(model) if isinstance(model, str) else model)._meta.label_lower
    with recording(using) as changes:
        changes.add_bulk(label, None if pks is None else list(pks))
