"""A live ModelAdmin's options, read as the observers and its pages use them. A value the system
checks refuse (``live_admin.E009``, ``E011``) counts as unset, so a bad option never breaks a
save or a page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def valid_names(value: Any, none_allowed: bool) -> bool:
    """Is ``value`` a list, tuple or set of field names (or None, meaning every field)?"""
    if value is None:
        return none_allowed
    return isinstance(value, (list, tuple, set, frozenset)) and all(
        isinstance(name, str) for name in value
    )


def _as_names(model: type[Model], names: Any) -> set[str]:
    """Field names, attnames read as their fields' names; unknown names as they are (E009)."""
    found = set()
    for name in names:
        try:
            found.add(model._meta.get_field(name).name)
        except FieldDoesNotExist:
            found.add(name)
    return found


def fields(admin: ModelAdmin[Any]) -> set[str] | None:
    """``live_fields`` as field names; None: every field."""
    value = getattr(admin, "live_fields", None)
    return _as_names(admin.model, value) if valid_names(value, False) else None


def group_by(admin: ModelAdmin[Any]) -> list[str]:
    """``live_group_by`` as the admin lists it (names or attnames), concrete fields only."""
    value = getattr(admin, "live_group_by", None)
    if not valid_names(value, False):
        return []
    concrete = {n for f in admin.model._meta.concrete_fields for n in (f.name, f.attname)}
    return [name for name in value or () if name in concrete]


def excluded(admin: ModelAdmin[Any]) -> set[str]:
    """``live_exclude`` as field names; unset (None), :func:`default_excluded` less what
    ``live_fields`` or ``live_group_by`` name."""
    value = getattr(admin, "live_exclude", None)
    if value is None:
        named = (fields(admin) or set()) | _as_names(admin.model, group_by(admin))
        return default_excluded(admin.model) - named
    return _as_names(admin.model, value) if valid_names(value, False) else set()


def default_excluded(model: type[Model]) -> set[str]:
    """The user model's ``last_login``, which every login saves."""
    meta = (model._meta.concrete_model or model)._meta
    if meta.label_lower != settings.AUTH_USER_MODEL.lower():
        return set()
    return {"last_login"} if any(f.name == "last_login" for f in meta.concrete_fields) else set()
