"""Form values as a person reads them, for conflict messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.files.base import File
from django.db.models import Model
from django.utils import formats
from django.utils.text import Truncator
from django.utils.translation import gettext as _

#: How much of a long value a conflict message shows.
MAX_CHARS = 120


def shown(field: forms.Field, value: Any) -> str:
    """``value`` (an initial or a cleaned value of ``field``) as the form would label it; a
    value the form never shows (a password) is not shown here either."""
    widget = field.widget
    if widget.is_hidden or (
        isinstance(widget, forms.PasswordInput) and not getattr(widget, "render_value", False)
    ):
        return _("(not shown)")
    return Truncator(_label(field, value)).chars(MAX_CHARS)


def _label(field: forms.Field, value: Any) -> str:
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(field, forms.ModelMultipleChoiceField):
        return ", ".join(_object(field, item) for item in _items(value)) or _("(empty)")
    if isinstance(field, forms.ModelChoiceField):
        return _object(field, value)
    if isinstance(field, forms.ChoiceField):
        choices: Any = field.choices
        labels = {str(key): label for key, label in _flat(choices)}
        if isinstance(value, (list, tuple)):
            return ", ".join(str(labels.get(str(item), item)) for item in value)
        return str(labels.get(str(value), value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, File):  # by name: a stored file's other attributes open it
        return value.name or _("(empty)")
    return str(formats.localize(value))


def _items(value: Any) -> Iterable[Any]:
    return value if not isinstance(value, (str, Model)) else [value]


def _object(field: forms.ModelChoiceField[Any], value: Any) -> str:
    if isinstance(value, Model) or field.queryset is None:
        return str(value)
    key = field.to_field_name or "pk"
    found = field.queryset.filter(**{key: value}).first()
    return str(found) if found is not None else str(value)


def _flat(choices: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    for key, label in choices:
        if isinstance(label, (list, tuple)):
            yield from _flat(label)
        else:
            yield key, label


def field_text(obj: Model, field: Any) -> str:
    """Model field ``field`` of ``obj`` as the admin's list shows it: a choice by its label, a
    related object by its ``str``, dates localised. A related object not loaded yet is read."""
    value = getattr(obj, field.name)
    if value is None or value == "":
        return _("(empty)")
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, File):
        return value.name or _("(empty)")
    text = str(formats.localize(value))
    return text if len(text) <= MAX_CHARS else Truncator(text).chars(MAX_CHARS)
