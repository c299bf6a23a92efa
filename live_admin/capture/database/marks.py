"""What a write statement tells the triggers, in a comment put before its SQL (no query more).

- ``/*live_admin:told=TABLE*/``: a save or delete of the ORM whose signals this process's
  observers hear (see :func:`_told`), in a process whose sends reach pages (not a shell on the
  in-memory layer); the trigger of ``TABLE`` leaves it to them, so that the change is told
  once, with its exact fields. Statements the ORM does not signal (``update()``,
  ``bulk_create()``, a collector's ``SET_NULL``, raw SQL) are not marked: their triggers tell
  them.
- ``/*live_admin:by=BASE64*/``: the ``(by, origin)`` of the admin request being served (JSON,
  base64: no ``*/`` can occur), for an unsignalled write an admin action makes.

The trigger reads the comment with ``current_query()``, only at the start of the statement: with
client-side binding a value is part of the query's text, and must not pass for a mark.
Installed on every connection of a PostgreSQL database when ``CAPTURE`` is ``"database"``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.deletion import Collector

from ...delivery.sender import sender
from ...logs import Throttled
from ..changes import actor
from ..observers import signalled
from . import in_database

_errors = Throttled()

#: A write's first words, and the table it writes (Django quotes every name).
_WRITE = re.compile(r'\s*(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"([^"*]+)"\s', re.IGNORECASE)
#: The ORM's signalled writes: a save's statements, and a collector's deletes (not its
#: ``SET_NULL`` updates, which no signal tells).
#: (A Django that renamed them would leave every write to the triggers: told twice, not missed.)
_SAVE = getattr(vars(Model).get("_save_table"), "__code__", None)
_DELETE = getattr(vars(Collector).get("delete"), "__code__", None)
#: How far up the stack a signalled write is looked for.
_DEPTH = 40


def _told(sql: str, table: str) -> bool:
    """Whether the observers of this process tell the write of ``sql`` to ``table``: a save of
    an instance whose own class they observe, to that class's own table (a multi-table
    parent's row is the trigger's to tell: no signal names the parent); or a collector's
    ``DELETE`` of a table whose model it collected and they observe."""
    frame = sys._getframe(3)
    for _ in range(_DEPTH):
        if frame.f_code is _SAVE:
            instance = frame.f_locals.get("self")
            if not isinstance(instance, Model):
                return False
            origin = type(instance)
            return signalled(origin) and origin._meta.db_table == table
        if frame.f_code is _DELETE:
            collected = getattr(frame.f_locals.get("self"), "data", {})
            return sql.lstrip()[:6].upper() == "DELETE" and any(
                signalled(model) and model._meta.db_table == table for model in collected
            )
        if frame.f_back is None:
            return False
        frame = frame.f_back
    return False


def comment(sql: str) -> str:
    """The comment to put before ``sql``, or ``""``. At the very start, where no value of the
    statement's can be: the trigger reads only a comment there."""
    write = _WRITE.match(sql)
    if write is None:
        return ""
    if _told(sql, write.group(1)) and sender.reaches_pages():
        return f"/*live_admin:told={write.group(1)}*/"
    by = actor.get()
    if by == (None, None):
        return ""
    return f"/*live_admin:by={base64.b64encode(json.dumps(by).encode()).decode()}*/"


def mark(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A Django execute wrapper: ``sql`` after its comment. A failure to make the comment
    leaves the statement as it was (the trigger then tells it)."""
    if isinstance(sql, str):
        try:
            sql = comment(sql) + sql
        except Exception:
            _errors.log("marking a write failed", exc_info=True)
    return execute(sql, params, many, context)


def install(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Mark the writes of ``connection`` (a ``connection_created`` receiver). First in the
    list: Django's ``execute_wrapper()`` removes the last one when its block ends."""
    if in_database(connection.alias) and mark not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, mark)
