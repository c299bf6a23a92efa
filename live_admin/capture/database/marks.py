"""What a write statement tells the triggers, in a comment appended to its SQL (no query more).

- ``/*live_admin:told=TABLE*/``: a save or delete of the ORM whose signals the observers hear,
  in a process whose sends reach pages (not a shell on the in-memory layer); the trigger of
  ``TABLE`` leaves it to them, so that the change is told once, with its exact fields.
  Statements the ORM does not signal (``update()``, ``bulk_create()``, a collector's
  ``SET_NULL``, raw SQL) are not marked: their triggers tell them.
- ``/*live_admin:by=BASE64*/``: the ``(by, origin)`` of the admin request being served (JSON,
  base64: no ``*/`` can occur), for an unsignalled write an admin action makes.

The trigger reads the comment with ``current_query()``. Installed on every connection of a
PostgreSQL database when ``CAPTURE`` is ``"database"``.
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
from ..changes import actor
from . import in_database

#: A write's first words, and the table it writes (Django quotes every name).
_WRITE = re.compile(r'\s*(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"([^"*]+)"', re.IGNORECASE)
#: The ORM's signalled writes: a save's statements, and a collector's deletes (not its
#: ``SET_NULL`` updates, which no signal tells).
#: (A Django that renamed them would leave every write to the triggers: told twice, not missed.)
_SAVE = getattr(vars(Model).get("_save_table"), "__code__", None)
_DELETE = getattr(vars(Collector).get("delete"), "__code__", None)
#: How far up the stack a signalled write is looked for.
_DEPTH = 40


def _signalled(sql: str) -> bool:
    frame = sys._getframe(3)
    for _ in range(_DEPTH):
        if frame.f_code is _SAVE:
            return True
        if frame.f_code is _DELETE:
            return sql.lstrip()[:6].upper() == "DELETE"
        if frame.f_back is None:
            return False
        frame = frame.f_back
    return False


def comment(sql: str) -> str:
    """The comment to append to ``sql``, or ``""``."""
    write = _WRITE.match(sql)
    if write is None:
        return ""
    if _signalled(sql) and sender.reaches_pages():
        return f"/*live_admin:told={write.group(1)}*/"
    by = actor.get()
    if by == (None, None):
        return ""
    return f"/*live_admin:by={base64.b64encode(json.dumps(by).encode()).decode()}*/"


def mark(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A Django execute wrapper: ``sql`` with its comment."""
    return execute(sql + comment(sql) if isinstance(sql, str) else sql, params, many, context)


def install(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Mark the writes of ``connection`` (a ``connection_created`` receiver)."""
    if in_database(connection.alias) and mark not in connection.execute_wrappers:
        connection.execute_wrappers.append(mark)
