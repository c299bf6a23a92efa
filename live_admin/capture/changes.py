"""The changes of one transaction, coalesced per group: the package's one coalescing rule.

Several changes of one object fold into one (docs/protocol.md, "Coalescing"):
- its fields add up;
- a delete sticks unless the object is created again, and a bulk change (what it changed is not
  known) sticks unless a later delete or creation settles it; otherwise the later action wins;
- ``by`` and ``origin`` survive only when every folded change agrees (a page must not take a
  change that someone else's joined as its own echo).

The sender folds changes queued while it was busy with the same rule, through :meth:`Changes.merge`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from .. import protocol
from ..protocol import CHANGED, MAX_OBJECTS

#: ``(by, origin)`` of the admin request being served (set by ``record.acting``).
actor: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "live_admin_actor", default=(None, None)
)


@dataclass
class _Object:
    action: str
    fields: set[str]
    by: str | None
    origin: str | None
    created: bool = False

    def absorb(self, later: _Object) -> None:
        """Fold a later change of the same object into this one; a delete sticks unless the
        object was created again, and so does a bulk change (what it changed is not known)
        unless a later delete or creation settles it."""
        sticky = self.action == "deleted" or (self.action == "bulk" and later.action == "saved")
        if not sticky or later.created:
            self.action = later.action
        self.fields |= later.fields
        self.created |= later.created
        self.by = self.by if self.by == later.by else None
        self.origin = self.origin if self.origin == later.origin else None


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
        #: When they were committed (ISO 8601), once they are.
        self.at: str | None = None

    def __bool__(self) -> bool:
        return bool(self.models)

    def __len__(self) -> int:
        """How many messages :meth:`messages` makes (one per affected group), without them."""
        return sum(
            1 + len(e.objects) + len(e.groups) + e.any_object + e.any_group
            for e in self.models.values()
        )

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
        change = _Object(action, set(fields), *actor.get(), created=created)
        known = entry.objects.setdefault(key, change)
        if known is not change:
            known.absorb(change)
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
        """Fold ``other``, a later transaction's changes, into these (the same rule)."""
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
        self.at = other.at or self.at

    def badge_batches(self) -> list[tuple[str, list[str] | None, int | None]]:
        """``(model, pks, count)`` per model, as the change badges count them: pks None when not
        known which changed (or more than ``MAX_OBJECTS``), count None when not known how many."""
        out: list[tuple[str, list[str] | None, int | None]] = []
        for label, entry in self.models.items():
            objects = list(entry.objects)
            if entry.any_object:
                out.append((label, None, None))
            elif len(objects) > MAX_OBJECTS:  # counted, not told one by one: "N+"
                out.append((label, None, len(objects)))
            elif objects:
                out.append((label, objects, len(objects)))
        return out

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        """One ``(group, message)`` pair per affected group."""
        at = self.at or timezone.now().isoformat()
        out: list[tuple[str, dict[str, Any]]] = []
        for label, entry in self.models.items():
            objects = entry.objects
            origin = _common({o.origin for o in objects.values()}) if objects else None
            told = {key: _told(obj) for key, obj in objects.items()}  # once, for every summary
            everything = _summary(label, objects.values(), told, not entry.any_object, origin, at)
            out.append((protocol.model_group(label), everything))
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
                out.append((protocol.object_group(label, key), message))
            for (name, value), pks in entry.groups.items():
                out.append(
                    (
                        protocol.field_group(label, name, value),
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
                    (protocol.any_object_group(label), _summary(label, (), {}, False, origin, at))
                )
            if entry.any_group:
                out.append(
                    (protocol.any_field_group(label), _summary(label, (), {}, False, origin, at))
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
    for the sockets, not told to pages (see :mod:`live_admin.pages.rows`), ``objects``: each changed
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
    told: dict[str, Any] = {
        "action": obj.action,
        "fields": sorted(obj.fields),
        "by": obj.by,
        "origin": obj.origin,
    }
    if obj.created:
        told["created"] = True
    return told


def _common(values: set[str | None]) -> str | None:
    return values.pop() if len(values) == 1 else None
