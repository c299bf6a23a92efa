"""How a save is compared with what its instance was loaded with: the per-model spec of what
counts, and the changed fields with their previous values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

from . import snapshots

#: A previous value that is not known.
UNKNOWN = object()


def concrete(model: type[Model]) -> type[Model]:
    """The concrete model behind ``model`` (itself, unless it is a proxy)."""
    return model._meta.concrete_model or model


@dataclass
class View:
    """How one live ModelAdmin's model (or proxy) is watched."""

    fields: set[str] | None  # None: every field counts
    group_by: tuple[str, ...]
    exclude: frozenset[str] = frozenset()  # changes of these alone are not broadcast

    def counts(self, name: str) -> bool:
        if name in self.group_by:
            return True
        return name not in self.exclude and (self.fields is None or name in self.fields)


@dataclass
class ParentLink:
    """An inline relation: a change of this model's row is a change of its parent object."""

    fk: Any  # the inline's ForeignKey
    parent: type[Model]
    accessor: str


@dataclass
class Spec:
    """Everything observed for one concrete model."""

    #: The model's own FieldTracker, when it tracks every field that counts; else snapshots.
    tracker: str = ""
    #: field name -> (key in the tracker's saved data, attribute name), for ``tracker``
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: field name -> attribute name of every concrete field
    attnames: dict[str, str] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    parents: list[ParentLink] = field(default_factory=list)
    senders: set[type[Model]] = field(default_factory=set)


def changed_fields(
    instance: Model, spec: Spec, created: bool, update_fields: frozenset[str] | None
) -> dict[str, Any]:
    """Changed field names with their previous values (``UNKNOWN`` when not known).

    A deferred field that was never loaded nor assigned has not changed (a save does not write
    it). One assigned without being loaded has, from an unknown value.
    """
    if created:
        return dict.fromkeys(spec.attnames, UNKNOWN)
    current = instance.__dict__
    if spec.tracker:
        saved = getattr(instance, spec.tracker).saved_data
        before = {attname: saved[key] for _, (key, attname) in spec.keys.items() if key in saved}
    else:
        before = snapshots.loaded(instance) or {}
    changed = {}
    for name, attname in spec.attnames.items():
        if attname not in current:
            continue
        if update_fields is not None and name not in update_fields and attname not in update_fields:
            continue
        previous = before.get(attname, UNKNOWN)
        if previous is UNKNOWN or differ(previous, current[attname]):
            changed[name] = previous
    return changed


def differ(before: Any, after: Any) -> bool:
    try:
        # psycopg2 reads bytea as a memoryview of format "c", which equals no bytes object.
        if isinstance(before, memoryview):
            before = bytes(before)
        if isinstance(after, memoryview):
            after = bytes(after)
        return bool(before != after)
    except Exception:  # values that cannot be compared count as changed
        return True
