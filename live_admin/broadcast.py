"""Recording changes per transaction, coalescing them per group, and the public bulk API.

Changes made inside a transaction are held until its outermost commit and dropped on rollback
(Django's own ``on_commit`` bookkeeping decides which survive). Each transaction then sends one
message per affected group, however many rows it touched. Messages name what changed, never the
values: pages re-fetch through the admin's views to see the rows as their user may.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.utils import timezone

from . import badges, groups
from .sender import CHANGED, LOGOUT, sender


def display_name(user: Any) -> str:
    """How live_admin names a user to others (``by``, presence): full name, else username."""
    return getattr(user, "get_full_name", str)() or user.get_username()


__all__ = ["acting", "batch", "notify"]

#: Objects one model or group message describes one by one (for row refreshes); past this,
#: pages refresh whole lists.
MAX_OBJECTS = 200

#: ``(by, origin)`` of the admin request being served, set by the admin mixin.
_actor: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "live_admin_actor", default=(None, None)
)
_local = threading.local()


@contextmanager
def acting(by: str | None, origin: str | None) -> Iterator[None]:
    """Attribute the changes made inside the block to a user's display name and a page."""
    reset = _actor.set((by, origin))
    try:
        yield
    finally:
        _actor.reset(reset)


@dataclass
class _Object:
    action: str
    fields: set[str]
    by: str | None
    origin: str | None
    created: bool = False

    def absorb(self, later: _Object, created: bool = False) -> None:
        """Fold a later change of the same object into this one; a delete sticks unless the
        object was created again, and so does a bulk change (what it changed is not known)
        unless a later delete or creation settles it."""
        sticky = self.action == "deleted" or (self.action == "bulk" and later.action == "saved")
        if not sticky or created:
            self.action = later.action
        self.fields |= later.fields
        self.created |= later.created
        self.by, self.origin = later.by or self.by, later.origin or self.origin


@dataclass
class _Model:
    objects: dict[str, _Object] = field(default_factory=dict)
    #: ``(field, value)`` -> pks of the changed objects in that object group.
    groups: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)
    any_object: bool = False
    any_group: bool = False


class Changes:
    """The changes of one transaction (or one :func:`batch`), coalesced per group."""

    def __init__(self) -> None:
        self.models: dict[str, _Model] = {}

    def __bool__(self) -> bool:
        return bool(self.models)

    def add(
        self,
        label: str,
        pk: object,
        action: str,
        fields: Iterable[str] = (),
        group_values: Iterable[tuple[str, object]] | None = (),
        *,
        created: bool = False,
    ) -> None:
        """Record that object ``pk`` of model ``label`` was saved, deleted or bulk-changed.

        ``group_values`` lists the ``(field, value)`` object groups it belongs to (old and new);
        ``None`` means they are unknown, and every group subscriber of the model is told.
        """
        entry = self.models.setdefault(label, _Model())
        key = str(pk)
        change = _Object(action, set(fields), *_actor.get(), created=created)
        known = entry.objects.setdefault(key, change)
        if known is not change:
            known.absorb(change, created)
        if group_values is None:
            entry.any_group = True
        else:
            for name, value in group_values:
                gkey = (name, None if value is None else str(value))
                entry.groups.setdefault(gkey, set()).add(key)

    def add_bulk(self, label: str, pks: Iterable[object] | None) -> None:
        """Record a change the ORM did not signal: some objects, or (``None``) any of them."""
        if pks is None:
            entry = self.models.setdefault(label, _Model())
            entry.any_object = entry.any_group = True
            return
        for pk in pks:
            self.add(label, pk, "bulk", group_values=None)

    def merge(self, other: Changes) -> None:
        for label, theirs in other.models.items():
            ours = self.models.get(label)
            if ours is None:
                self.models[label] = theirs
                continue
            for key, obj in theirs.objects.items():
                known = ours.objects.setdefault(key, obj)
                if known is not obj:
                    known.absorb(obj)
            for gkey, pks in theirs.groups.items():
                ours.groups.setdefault(gkey, set()).update(pks)
            ours.any_object |= theirs.any_object
            ours.any_group |= theirs.any_group

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        """One ``(group, message)`` pair per affected group."""
        at = timezone.now().isoformat()
        out: list[tuple[str, dict[str, Any]]] = []
        for label, entry in self.models.items():
            objects = entry.objects
            origin = _common({o.origin for o in objects.values()}) if objects else None
            told = {key: _told(obj) for key, obj in objects.items()}  # once, for every summary
            everything = _summary(label, objects.values(), told, not entry.any_object, origin, at)
            out.append((groups.model_group(label), everything))
            for key, obj in objects.items():
                message = {
                    "type": CHANGED,
                    "model": label,
                    "action": obj.action,
                    "pk": key,
                    "fields": sorted(obj.fields),
                    "by": obj.by,
                    "at": at,
                    "origin": obj.origin,
                }
                out.append((groups.object_group(label, key), message))
            for (name, value), pks in entry.groups.items():
                out.append(
                    (
                        groups.field_group(label, name, value),
                        _summary(
                            label,
                            [objects[k] for k in pks],
                            {k: told[k] for k in pks},
                            True,
                            origin,
                            at,
                        ),
                    )
                )
            if entry.any_object:
                out.append(
                    (groups.any_object_group(label), _summary(label, (), {}, False, origin, at))
                )
            if entry.any_group:
                out.append(
                    (groups.any_field_group(label), _summary(label, (), {}, False, origin, at))
                )
        return [(group, {**message, "group": group}) for group, message in out]


def _summary(
    label: str,
    chosen: Iterable[_Object],
    told: dict[str, dict[str, Any]],
    known: bool,
    origin: str | None,
    at: str,
) -> dict[str, Any]:
    """The message for a model or object group: what kind of change, and how many objects;
    for the sockets, not told to pages (see :mod:`live_admin.rows`), ``objects``: each changed
    object's part, None when they are not known or more than ``MAX_OBJECTS``."""
    chosen = list(chosen)
    actions = {o.action for o in chosen}
    return {
        "type": CHANGED,
        "model": label,
        "action": actions.pop() if len(actions) == 1 and known else "bulk",
        "count": len(chosen) if known else None,
        "origin": origin,
        "objects": told if known and len(told) <= MAX_OBJECTS else None,
        "at": at,
    }


def _told(obj: _Object) -> dict[str, Any]:
    told = {"action": obj.action, "fields": sorted(obj.fields), "by": obj.by, "origin": obj.origin}
    if obj.created:
        told["created"] = True
    return told


def _common(values: set[str | None]) -> str | None:
    return values.pop() if len(values) == 1 else None


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
        sender.send(changes.messages())
        badges.record_changes(changes.models, MAX_OBJECTS)


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


def logged_out(request: Any = None, **kwargs: Any) -> None:
    """Close the sockets of a session that logged out (``user_logged_out`` receiver)."""
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        group = groups.session_group(key)
        sender.send([(group, {"type": LOGOUT, "group": group})])
