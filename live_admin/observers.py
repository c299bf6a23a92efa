"""Signal receivers that record the changes of the models live ModelAdmins show.

Connected once per model class when a ModelAdmin using the mixin is registered (on any site), so
they exist in every process that autodiscovers the admin: web servers, workers, shells and
management commands. Receivers read only what the instance already holds: no query, no
serialization on the save path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Model, signals
from django.forms.models import _get_foreign_key
from model_utils import FieldTracker

from .broadcast import Changes, recording

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import Field, ManyToManyField

TRACKER_NAME = "_live_admin_tracker"
UNKNOWN = object()


@dataclass
class View:
    """How one live ModelAdmin's model (or proxy) is watched."""

    fields: set[str] | None  # None: every field counts
    group_by: tuple[str, ...]

    def counts(self, name: str) -> bool:
        return self.fields is None or name in self.fields or name in self.group_by


@dataclass
class ParentLink:
    """An inline relation: a change of this model's row is a change of its parent object."""

    fk: Field[Any, Any]
    parent: type[Model]
    accessor: str


@dataclass
class Spec:
    """Everything observed for one concrete model."""

    tracker: str = ""
    #: field name -> (key in the tracker's saved data, attribute name)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    parents: list[ParentLink] = field(default_factory=list)
    senders: set[type[Model]] = field(default_factory=set)


_specs: dict[type[Model], Spec] = {}


def observe(admin: ModelAdmin[Any]) -> None:
    """Observe the model of a live ModelAdmin, its inlines' models and its many-to-many fields."""
    model = admin.model
    live_fields = getattr(admin, "live_fields", None)
    view = View(
        fields=None if live_fields is None else set(live_fields),
        group_by=tuple(getattr(admin, "live_group_by", ())),
    )
    spec = _spec(model)
    known = spec.views.get(model._meta.label_lower)
    if known is not None:  # registered on another site too: watch the union
        view.fields = None if None in (known.fields, view.fields) else known.fields | view.fields
        view.group_by = tuple(dict.fromkeys(known.group_by + view.group_by))
    spec.views[model._meta.label_lower] = view
    for inline in admin.inlines:
        inline_model = inline.model
        try:
            fk = _get_foreign_key(model, inline_model, fk_name=getattr(inline, "fk_name", None))
        except (ValueError, TypeError):
            continue  # generic inlines and the like: not followed
        child = _spec(inline_model)
        if not any(link.fk is fk for link in child.parents):
            accessor = fk.remote_field.get_accessor_name(model=False)
            child.parents.append(ParentLink(fk, model._meta.concrete_model, accessor))
    for m2m in model._meta.many_to_many:
        through = m2m.remote_field.through
        signals.m2m_changed.connect(
            _m2m_receiver(m2m),
            sender=through,
            weak=False,
            dispatch_uid=f"live_admin.m2m.{through._meta.label_lower}.{m2m.name}",
        )


def _spec(model: type[Model]) -> Spec:
    concrete = model._meta.concrete_model
    spec = _specs.get(concrete)
    if spec is None:
        spec = _specs[concrete] = Spec()
        _track(concrete, spec)
    if model not in spec.senders:
        spec.senders.add(model)
        uid = f"live_admin.{model._meta.label_lower}"
        signals.post_save.connect(_saved, sender=model, dispatch_uid=uid)
        signals.post_delete.connect(_deleted, sender=model, dispatch_uid=uid)
    return spec


def _track(model: type[Model], spec: Spec) -> None:
    """Use the model's own FieldTracker when it tracks every concrete field, else attach one."""
    concrete = list(model._meta.concrete_fields)
    for klass in model.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, FieldTracker) and getattr(value, "model_class", None):
                keys = _keys(concrete, value.fields)
                if len(keys) == len(concrete):
                    spec.tracker, spec.keys = name, keys
                    return
    tracker = FieldTracker()
    tracker.name, tracker.attname = TRACKER_NAME, "_" + TRACKER_NAME
    tracker.finalize_class(model)
    setattr(model, tracker.attname, _LateState(tracker))
    spec.tracker, spec.keys = TRACKER_NAME, _keys(concrete, tracker.fields)


class _LateState:
    """Starts tracking an instance made before live_admin attached its tracker, so it still saves.

    FieldTracker sets its per-instance state in ``__init__``; the instance's own attribute hides
    this class attribute from then on.
    """

    def __init__(self, tracker: FieldTracker) -> None:
        self.tracker = tracker

    def __get__(self, instance: Model | None, owner: type[Model]) -> Any:
        if instance is None:
            return self
        self.tracker.initialize_tracker(owner, instance)
        return instance.__dict__[self.tracker.attname]


def _keys(fields: list[Field[Any, Any]], tracked: Any) -> dict[str, tuple[str, str]]:
    keys = {}
    for f in fields:
        for key in (f.name, f.attname):
            if key in tracked:
                keys[f.name] = (key, f.attname)
    return keys


def _changed(
    instance: Model, spec: Spec, created: bool, update_fields: frozenset[str] | None
) -> dict[str, Any]:
    """Changed field names with their previous values (``UNKNOWN`` when not known)."""
    if created:
        return dict.fromkeys(spec.keys, UNKNOWN)
    saved = getattr(instance, spec.tracker).saved_data
    changed = {}
    for name, (key, attname) in spec.keys.items():
        if update_fields is not None and name not in update_fields and attname not in update_fields:
            continue
        # A deferred field is missing from saved_data until it is loaded or assigned (the
        # tracker loads its old value then): until that, it has not changed.
        if key in saved and saved[key] != instance.__dict__.get(attname, saved[key]):
            changed[name] = saved[key]
    return changed


def _group_values(instance: Model, view: View, changed: dict[str, Any]) -> list[tuple[str, object]]:
    values: list[tuple[str, object]] = []
    for name in view.group_by:
        attname = instance._meta.get_field(name).attname
        if attname in instance.__dict__:
            values.append((name, instance.__dict__[attname]))
        previous = changed.get(name, UNKNOWN)
        if previous is not UNKNOWN:
            values.append((name, previous))
    return values


def _record_parents(instance: Model, spec: Spec, changed: dict[str, Any], changes: Changes) -> None:
    for link in spec.parents:
        current = instance.__dict__.get(link.fk.attname)
        previous = changed.get(link.fk.name, UNKNOWN)
        parent_pks = {pk for pk in (current, previous) if pk is not None and pk is not UNKNOWN}
        parent = link.fk.get_cached_value(instance, None)
        for label, view in _specs[link.parent].views.items():
            for pk in parent_pks:
                values: list[tuple[str, object]] = []
                if parent is not None and parent.pk == pk:
                    values = _group_values(parent, view, {})
                changes.add(label, pk, "saved", [link.accessor], values)


def _record(
    instance: Model, action: str, changed: dict[str, Any], using: str, created: bool
) -> None:
    spec = _specs[instance._meta.concrete_model]
    with recording(using) as changes:
        for label, view in spec.views.items():
            fields = [name for name in changed if view.counts(name)]
            if action == "saved" and not fields:
                continue
            values = _group_values(instance, view, changed)
            changes.add(label, instance.pk, action, fields, values, created=created)
        if changed or action == "deleted":
            _record_parents(instance, spec, changed, changes)


def _saved(
    sender: type[Model],
    instance: Model,
    created: bool,
    update_fields: frozenset[str] | None,
    raw: bool,
    using: str,
    **kwargs: Any,
) -> None:
    if raw:  # loaddata: fixtures are not live changes
        return
    spec = _specs[instance._meta.concrete_model]
    _record(instance, "saved", _changed(instance, spec, created, update_fields), using, created)


def _deleted(sender: type[Model], instance: Model, using: str, **kwargs: Any) -> None:
    _record(instance, "deleted", {}, using, False)


def _m2m_receiver(m2m: ManyToManyField[Any, Any]) -> Any:
    owner = m2m.model

    def receiver(
        sender: type[Model],
        instance: Model,
        action: str,
        reverse: bool,
        pk_set: set[Any] | None,
        using: str,
        **kwargs: Any,
    ) -> None:
        if action not in ("post_add", "post_remove", "post_clear"):
            return
        with recording(using) as changes:
            for label, view in _specs[owner._meta.concrete_model].views.items():
                if not view.counts(m2m.name):
                    continue
                if not reverse:
                    values = _group_values(instance, view, {})
                    changes.add(label, instance.pk, "saved", [m2m.name], values)
                elif pk_set is None:
                    changes.add_bulk(label, None)
                else:
                    for pk in pk_set:
                        changes.add(label, pk, "saved", [m2m.name], None)

    return receiver
