"""What an observed instance was loaded with, kept so that a save can tell what changed.

Django documents ``Model.from_db`` as the hook for remembering the loaded values. live_admin
wraps it on observed models, and ``refresh_from_db`` too, so that a deferred field loaded later
(or a reload) is remembered as well. Both wrappers call the model's own method first and only
add one attribute to the instance: field descriptors, ``__init__``, pickling and the queries a
read runs stay as they are. After each save the observer remembers what was saved.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import functools
import inspect
import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import BinaryField, Model
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.files import FieldFile

#: The instance attribute that holds the loaded values. On the instance, not on ``_state``: one
#: more key in the dict of every ModelState, shared by all models, makes CPython give each
#: ModelState a dict of its own (626 bytes a loaded row instead of 386, measured), and a
#: ModelState subclass with a slot costs a second object per load (load 1.32x instead of 1.09x);
#: neither makes a pass over many instances' fields cheaper (`bench/run.py --only reads`).
ATTR = "_live_admin_loaded"
#: Marks the wrappers, so that a model inheriting them is not wrapped twice.
MARK = "_live_admin_wrapped"
#: Field classes whose values Django loads as immutable objects: kept without a copy.
_PLAIN_MODULES = frozenset(
    {"django.db.models.fields", "django.db.models.fields.related", "django.db.models.fields.files"}
)
_IMMUTABLE = (
    str,
    int,
    float,
    bytes,
    bool,
    type(None),
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
)

#: Concrete models whose values need copying when kept (JSON, arrays, custom fields).
_copying: set[type[Model]] = set()


def watch(model: type[Model]) -> None:
    """Keep the loaded values of ``model``'s instances (and its subclasses')."""
    copying = any(
        type(f).__module__ not in _PLAIN_MODULES or isinstance(f, BinaryField)
        for f in model._meta.concrete_fields
    )
    if copying:
        _copying.add(model)
    inherited = getattr(model.from_db, MARK, None)  # the copying flag of a wrapper above
    if inherited is not None and (inherited or not copying):
        return
    from_db = _own(model, "from_db")
    refresh = model.refresh_from_db
    signature = inspect.signature(refresh)
    every = len(model._meta.concrete_fields)

    # One frame and one attribute on the load path: a full row is kept as a tuple in the order
    # of concrete_fields (as Model.from_db itself assumes), a partial one by name. Keywords
    # (Django 6.1's fetch_mode) are passed on; a call without them costs no argument packing.
    @functools.wraps(from_db)
    def load(cls: type[Model], db: str, field_names: Any, values: Any, **kw: Any) -> Model:
        instance: Model = (
            from_db(cls, db, field_names, values, **kw)
            if kw
            else from_db(cls, db, field_names, values)
        )
        if copying:
            values = [_copy(v, True) for v in values]
        if len(values) != (every if cls is model else len(cls._meta.concrete_fields)):
            values = dict(zip(field_names, values, strict=True))
        elif type(values) is not tuple:  # one compact object, not the row's own list
            values = tuple(values)
        # An attribute set, not a write through __dict__: reading __dict__ would give the
        # instance a dict object of its own where CPython keeps its values inline (+64 bytes a
        # row, and slower reads of its fields).
        instance._live_admin_loaded = values  # type: ignore[attr-defined]  # ATTR
        return instance

    @functools.wraps(refresh)
    def refresh_from_db(self: Model, *args: Any, **kwargs: Any) -> None:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # as the model's own method would say
            return refresh(self, *args, **kwargs)
        fields = bound.arguments.get("fields")
        if fields is not None:  # read once: it may be a generator
            fields = bound.arguments["fields"] = list(fields)
        refresh(*bound.args, **bound.kwargs)
        remember(self, _refreshed(self, fields, bound.arguments.get("from_queryset")))

    setattr(load, MARK, copying)
    setattr(refresh_from_db, MARK, copying)
    model.from_db = classmethod(load)  # type: ignore[arg-type,assignment,method-assign]
    model.refresh_from_db = refresh_from_db  # type: ignore[method-assign]


def _refreshed(instance: Model, fields: list[str] | None, queryset: Any) -> set[str] | None:
    """The attnames a ``refresh_from_db`` call loaded (None: every loaded field)."""
    if fields is not None:
        return _attnames(instance, fields)
    if queryset is None:
        return None
    names, defer = queryset.query.deferred_loading
    if not names:
        return None
    named = {name.split(LOOKUP_SEP)[0] for name in names}
    chosen = {
        f.attname for f in instance._meta.concrete_fields if f.name in named or f.attname in named
    }
    every = {f.attname for f in instance._meta.concrete_fields}
    return every - chosen if defer else chosen | {instance._meta.pk.attname}


def _own(model: type[Model], name: str) -> Any:
    """The function behind the classmethod ``name`` that ``model`` inherits or defines."""
    for klass in model.__mro__:
        if name in vars(klass):
            return vars(klass)[name].__func__
    raise AttributeError(name)  # pragma: no cover (every model has Model.from_db)


def _copy(value: Any, deep: bool) -> Any:
    """What to keep of a value: a name for a file, bytes for a memoryview (both pickle and stay
    put), a deep copy of a mutable value where the field may hold one."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, FieldFile):
        return value.name
    if not deep:
        return value
    try:
        return copy.deepcopy(value)
    except Exception:  # values that cannot be copied are compared as they are
        return value


def _attnames(instance: Model, names: Iterable[str]) -> set[str]:
    attnames = set()
    for f in instance._meta.concrete_fields:
        if f.name in names or f.attname in names:
            attnames.add(f.attname)
    return attnames


def loaded(instance: Model) -> dict[str, Any] | None:
    """The values (by attname) ``instance`` was loaded or last saved with; None if unknown."""
    kept = instance.__dict__.get(ATTR)
    if kept is None or isinstance(kept, dict):
        return kept
    # A full row, as from_db left it: named on first use.
    names = [f.attname for f in instance._meta.concrete_fields]
    if len(names) != len(kept):  # a subclass (multi-table) loaded through an inherited wrapper
        return None
    kept = dict(zip(names, kept, strict=True))
    instance.__dict__[ATTR] = kept
    return kept


def remember(instance: Model, attnames: set[str] | None = None) -> None:
    """Keep the current values of ``attnames`` (default: every loaded concrete field). An
    expression (``F("n") + 1``) is not a value: until reloaded, that field's value is unknown."""
    values = instance.__dict__
    kept = dict(loaded(instance) or {})  # a new dict: copies of the instance may share the old
    deep = instance._meta.concrete_model in _copying
    for f in instance._meta.concrete_fields:
        name = f.attname
        if name in values and (attnames is None or name in attnames):
            if hasattr(values[name], "resolve_expression"):
                kept.pop(name, None)
            else:
                kept[name] = _copy(values[name], deep)
    instance.__dict__[ATTR] = kept
