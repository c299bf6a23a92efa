"""Signal receivers that record the changes of the models live ModelAdmins show.

Connected once per model class when a ModelAdmin using the mixin is registered (on any site), so
they exist in every process that autodiscovers the admin: web servers, workers, shells and
management commands. Receivers read only what the instance already holds: no query, no
serialization on the save path. What changed is found by comparing the instance with the values
it was loaded with (:mod:`.snapshots`), or through the model's own django-model-utils
``FieldTracker`` when it tracks every field that counts. A receiver never raises into the save:
anything unexpected is logged, and the write goes on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.admin.options import InlineModelAdmin
from django.db.models import Model, signals
from django.forms.models import _get_foreign_key
from model_utils import FieldTracker

from .. import options
from ..logs import Throttled
from . import snapshots
from .changes import Changes
from .detection import UNKNOWN, ParentLink, Spec, View, changed_fields, concrete
from .record import recording

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import ManyToManyField

_errors = Throttled()
_F = TypeVar("_F", bound=Callable[..., None])


def guarded(receiver: _F) -> _F:
    """Log what a receiver raises (rate-limited) instead of failing the caller's write."""

    @functools.wraps(receiver)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            receiver(*args, **kwargs)
        except Exception:
            _errors.log("%s failed; the change is not broadcast", receiver.__name__, exc_info=True)

    return run  # type: ignore[return-value]


_specs: dict[type[Model], Spec] = {}


def observe(admin: ModelAdmin[Any]) -> None:
    """Observe the model of a live ModelAdmin, its inlines' models and its many-to-many fields.

    A misconfigured admin (bad ``inlines``, ``live_fields`` or ``live_group_by``) is observed
    as far as it can be: the system checks report the rest.
    """
    model = admin.model
    spec = _spec(model)
    view = View(
        fields=options.fields(admin),
        group_by=tuple(options.group_by(admin)),
        exclude=frozenset(options.excluded(admin)),
    )
    known = spec.views.get(model._meta.label_lower)
    if known is not None:  # registered on another site too: watch the union
        if known.fields is None or view.fields is None:
            view.fields = None
        else:
            view.fields = known.fields | view.fields
        view.group_by = tuple(dict.fromkeys(known.group_by + view.group_by))
        view.exclude = known.exclude & view.exclude
    spec.views[model._meta.label_lower] = view
    _choose_detection(concrete(model), spec)
    for inline_model, fk_name in _inlines(admin):
        try:
            fk = _get_foreign_key(model, inline_model, fk_name=fk_name)
        except (ValueError, TypeError, AttributeError):
            continue  # generic inlines, and inlines Django's checks refuse: not followed
        child = _spec(inline_model)
        if not any(link.fk is fk for link in child.parents):
            accessor = fk.remote_field.get_accessor_name(model=None)
            child.parents.append(ParentLink(fk, concrete(model), accessor))
        _choose_detection(concrete(inline_model), child)
    for m2m in model._meta.many_to_many:
        through = m2m.remote_field.through
        signals.m2m_changed.connect(
            _m2m_receiver(m2m),
            sender=through,
            weak=False,
            dispatch_uid=f"live_admin.m2m.{through._meta.label_lower}.{m2m.name}",
        )


def forget(model: type[Model]) -> None:
    """Drop what is observed for ``model``'s admins, before admins observe it anew."""
    spec = _specs.get(concrete(model))
    if spec is not None:
        spec.views.pop(model._meta.label_lower, None)


def _inlines(admin: ModelAdmin[Any]) -> list[tuple[type[Model], str | None]]:
    """``(model, fk_name)`` of the admin's inlines that Django's checks accept."""
    inlines = getattr(admin, "inlines", ())
    if not isinstance(inlines, (list, tuple)):
        return []
    found = []
    for inline in inlines:
        model = getattr(inline, "model", None)
        if (
            isinstance(inline, type)
            and issubclass(inline, InlineModelAdmin)
            and isinstance(model, type)
            and issubclass(model, Model)
        ):
            found.append((model, getattr(inline, "fk_name", None)))
    return found


def _spec(model: type[Model]) -> Spec:
    base = concrete(model)
    spec = _specs.get(base)
    if spec is None:
        spec = _specs[base] = Spec()
        spec.attnames = {f.name: f.attname for f in base._meta.concrete_fields}
    if model not in spec.senders:
        spec.senders.add(model)
        uid = f"live_admin.{model._meta.label_lower}"
        signals.post_save.connect(_saved, sender=model, dispatch_uid=uid)
        signals.post_delete.connect(_deleted, sender=model, dispatch_uid=uid)
    return spec


def _counted(spec: Spec) -> set[str]:
    """The names of the fields whose changes count for some view (or for a parent)."""
    if spec.parents or not spec.views or any(v.fields is None for v in spec.views.values()):
        return set(spec.attnames)
    return {n for v in spec.views.values() for n in (*(v.fields or ()), *v.group_by)}


def _choose_detection(model: type[Model], spec: Spec) -> None:
    """Read the model's own FieldTracker if it tracks every field that counts; else keep the
    loaded values (``snapshots``). Chosen again as admins register."""
    counted = _counted(spec) & set(spec.attnames)
    for klass in model.__mro__:
        for name, value in vars(klass).items():
            if isinstance(value, FieldTracker) and getattr(value, "model_class", None):
                keys = _keys(spec.attnames, value.fields)
                if counted <= set(keys):
                    spec.tracker, spec.keys = name, keys
                    return
    spec.tracker, spec.keys = "", {}
    snapshots.watch(model)


def _keys(attnames: dict[str, str], tracked: Any) -> dict[str, tuple[str, str]]:
    keys = {}
    for name, attname in attnames.items():
        for key in (name, attname):
            if key in tracked:
                keys[name] = (key, attname)
    return keys


def _group_values(
    instance: Model, view: View, changed: dict[str, Any], created: bool = False
) -> list[tuple[str, object]] | None:
    """The object groups ``instance`` is in and was in; None when one of them is unknown."""
    values: list[tuple[str, object]] = []
    for name in view.group_by:  # a field name or an attname, as the admin lists it
        field: Any = instance._meta.get_field(name)
        if field.attname not in instance.__dict__:  # deferred: the group is unknown
            return None
        values.append((name, instance.__dict__[field.attname]))
        previous = changed.get(field.name, UNKNOWN)
        if previous is not UNKNOWN:
            values.append((name, previous))
        elif field.name in changed and not created:  # assigned while deferred: tell every group
            return None
    return values


def _record_parents(instance: Model, spec: Spec, changed: dict[str, Any], changes: Changes) -> None:
    for link in spec.parents:
        current = instance.__dict__.get(link.fk.attname)
        previous = changed.get(link.fk.name, UNKNOWN)
        parent_pks = {pk for pk in (current, previous) if pk is not None and pk is not UNKNOWN}
        parent = link.fk.get_cached_value(instance, None)
        for label, view in _specs[link.parent].views.items():
            for pk in parent_pks:
                values: list[tuple[str, object]] | None = []
                if parent is not None and parent.pk == pk:
                    values = _group_values(parent, view, {})
                elif view.group_by:  # the parent is not loaded: its groups are unknown
                    values = None
                changes.add(label, pk, "saved", [link.accessor], values)


def _quiet(spec: Spec, instance: Model) -> frozenset[str]:
    """Fields whose changes alone do not reach the parents: excluded by every view of the
    model, or (a model only inlined) excluded by default."""
    if spec.views:
        return frozenset.intersection(*(v.exclude for v in spec.views.values()))
    return frozenset(options.default_excluded(type(instance)))


def specs() -> dict[type[Model], Spec]:
    """What is observed, by concrete model: the live models, their inlines' models."""
    return dict(_specs)


def signalled(model: type[Model]) -> bool:
    """Whether the observers hear the saves and deletes of ``model`` (this very class)."""
    spec = _specs.get(concrete(model))
    return spec is not None and model in spec.senders


def record_into(
    changes: Changes, instance: Model, action: str, changed: dict[str, Any], created: bool
) -> None:
    """Record that ``instance`` was saved or deleted, ``changed`` naming the changed fields
    with their previous values (``UNKNOWN`` where not known), for every view and parent."""
    spec = _specs[concrete(type(instance))]
    for label, view in spec.views.items():
        fields = [name for name in changed if view.counts(name)]
        if action == "saved" and not fields:
            continue
        values = _group_values(instance, view, changed, created)
        changes.add(label, instance.pk, action, fields, values, created=created)
    if spec.parents and (action == "deleted" or not set(changed) <= _quiet(spec, instance)):
        _record_parents(instance, spec, changed, changes)


def record_bulk(changes: Changes, model: type[Model]) -> None:
    """Record that any object of ``model`` may have changed, for every view and parent."""
    spec = _specs[concrete(model)]
    parents = [_specs[link.parent] for link in spec.parents]
    for label in [*spec.views, *(label for parent in parents for label in parent.views)]:
        changes.add_bulk(label, None)


@guarded
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
    spec = _specs[concrete(type(instance))]
    changed = changed_fields(instance, spec, created, update_fields)
    if not spec.tracker:
        saved = None if update_fields is None else {spec.attnames.get(n, n) for n in update_fields}
        snapshots.remember(instance, saved)
    with recording(using) as changes:
        record_into(changes, instance, "saved", changed, created)


@guarded
def _deleted(sender: type[Model], instance: Model, using: str, **kwargs: Any) -> None:
    with recording(using) as changes:
        record_into(changes, instance, "deleted", {}, False)


def _m2m_receiver(m2m: ManyToManyField[Any, Any]) -> Any:
    owner = m2m.model

    @guarded
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
            for label, view in _specs[concrete(owner)].views.items():
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
