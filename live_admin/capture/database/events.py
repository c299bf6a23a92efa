"""A trigger's notification, turned into the changes the observers would have recorded.

The payload names the model, the action, who (base64 JSON of ``(by, origin)``) and either the
rows (``[pk, changed columns or null, {column: [new, old]}]``) or, for a bulk statement, only a
count. Rows become light instances holding their pk and watched columns, recorded through the
observers' own :func:`~live_admin.capture.observers.record_into`, so groups, parents and the
coalescing rule are the same whatever wrote the row.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import decimal
import functools
import json
import logging
from typing import Any

from django.apps import apps
from django.db.models import Model
from django.db.models.base import ModelState

from ..changes import Changes, actor
from ..detection import UNKNOWN
from ..observers import record_bulk, record_into, specs

logger = logging.getLogger("live_admin")


def who(text: object) -> tuple[str | None, str | None]:
    """``(by, origin)`` from a payload's ``by``; nobody when absent or malformed."""
    if not isinstance(text, str):
        return None, None
    try:
        by, origin = json.loads(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error):
        return None, None
    return (
        by if isinstance(by, str) else None,
        origin if isinstance(origin, str) else None,
    )


def record(changes: Changes, payload: str) -> bool:
    """Record one notification into ``changes``; False if it is not one of ours."""
    try:
        event = json.loads(payload, parse_float=decimal.Decimal)
        model = apps.get_model(event["m"])
    except (ValueError, KeyError, TypeError, LookupError, AttributeError):
        logger.debug("live_admin: ignored a notification: %.200s", payload)
        return False
    if model not in specs():
        return True  # no longer live in this process
    reset = actor.set(who(event.get("by")))
    try:
        rows = event.get("rows")
        if not isinstance(rows, list):
            record_bulk(changes, model)
            return True
        for row in rows:
            _row(changes, model, str(event.get("op")), row)
    finally:
        actor.reset(reset)
    return True


def _value(model: type[Model], column: str, value: Any) -> tuple[str, str, Any] | None:
    """``(name, attname, value)`` of ``column``, the value as the ORM would read it."""
    field = _by_column(model).get(column)
    if field is None:
        return None
    if value is not None:
        with contextlib.suppress(Exception):  # else kept as JSON gave it
            value = field.to_python(value)
    return field.name, field.attname, value


@functools.cache
def _by_column(model: type[Model]) -> dict[str, Any]:
    return {f.column: f for f in model._meta.concrete_fields if f.column}


def _row(changes: Changes, model: type[Model], action: str, row: Any) -> None:
    pk, columns, values = row
    instance = model.__new__(model)
    instance._state = ModelState()
    instance.__dict__[model._meta.pk.attname] = pk
    before: dict[str, Any] = {}
    for column, pair in values.items():
        found = _value(model, column, pair[0])
        if found is not None:
            instance.__dict__[found[1]] = found[2]
            if len(pair) > 1:
                before[found[0]] = _value(model, column, pair[1])[2]  # type: ignore[index]
    if action == "created":
        changed = {f.name: UNKNOWN for f in model._meta.concrete_fields}
    elif action == "deleted":
        changed = {}
    else:
        fields = _by_column(model)
        changed = {
            fields[c].name: before.get(fields[c].name, UNKNOWN) for c in columns if c in fields
        }
    record_into(
        changes, instance, action if action != "created" else "saved", changed, action == "created"
    )
