"""The triggers of database capture, as django-pgtrigger triggers: built per observed model, and
installed, updated and removed by ``migrate`` (``post_migrate``). They are never put in a model's
``Meta`` nor in django-pgtrigger's registry, which would add migrations to the project's apps.

Four statement-level ``AFTER`` triggers per table (insert, update, delete, truncate) send one
``NOTIFY live_admin`` per statement, at commit, with transition tables: the model, the action,
who (from the statement's comment, :mod:`.marks`) and, for up to ``ROWS`` rows, each row's pk,
its changed columns and the old and new values of the columns that name object groups or
parents. Past ``ROWS`` rows or ``PAYLOAD_BYTES``, or if anything fails, a bulk event (a count, or
nothing) says so instead: a trigger never fails a write. Writes the ORM signals are left to the
observers (the ``told`` mark): each change is told once.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connections
from django.db.models import Model

from ..detection import Spec
from . import CHANNEL

logger = logging.getLogger("live_admin")

#: Rows told one by one; a statement writing more is told as a bulk change.
ROWS = 100
#: NOTIFY refuses payloads of 8,000 bytes or more.
PAYLOAD_BYTES = 7900
#: The name of each trigger (django-pgtrigger prefixes ``pgtrigger_`` and suffixes a hash).
PREFIX = "live_admin_"
NAMES = {"INSERT": "live_admin_ins", "UPDATE": "live_admin_upd", "DELETE": "live_admin_del"}
TRUNCATE = "live_admin_trunc"
DECLARE = [("q", "text"), ("who", "text"), ("n", "bigint"), ("found", "jsonb"), ("body", "text")]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def watched(model: type[Model], spec: Spec) -> list[str]:
    """The columns whose old and new values travel: the object groups' and the parents'."""
    columns: list[str | None] = []
    for view in spec.views.values():
        for name in view.group_by:
            try:
                columns.append(getattr(model._meta.get_field(name), "column", None))
            except Exception:  # the checks report it
                continue
    columns += [link.fk.column for link in spec.parents]
    own = {f.column for f in model._meta.local_concrete_fields}  # not a parent table's
    return list(dict.fromkeys(c for c in columns if c is not None and c in own))


def _body(label: str, action: str, rows: str) -> str:
    """The function body: mark check, count, rows or bulk, notify; never raises."""
    model = _literal(label)
    head = f"'m', {model}, 'op', {_literal(action)}, 'by', who"
    return f"""
    q := current_query();
    IF left(q, length(TG_TABLE_NAME) + 20) = '/*live_admin:told=' || TG_TABLE_NAME || '*/' THEN
        RETURN NULL;
    END IF;
    who := substring(q from '^/[*]live_admin:by=([A-Za-z0-9+/=]+)[*]/');
    BEGIN
        {rows}
        IF body IS NULL OR octet_length(body) > {PAYLOAD_BYTES} THEN
            body := jsonb_build_object({head}, 'n', n)::text;
        END IF;
        IF n > 0 THEN PERFORM pg_notify({_literal(CHANNEL)}, body); END IF;
    EXCEPTION WHEN OTHERS THEN
        BEGIN
            PERFORM pg_notify({_literal(CHANNEL)}, jsonb_build_object({head})::text);
        EXCEPTION WHEN OTHERS THEN NULL;
        END;
    END;
    RETURN NULL;
    """


def _rows(label: str, action: str, pk: str, columns: list[str], operation: str) -> str:
    """The statements that count the rows and, up to ``ROWS``, describe them in ``body``."""
    table = "live_admin_old" if operation == "DELETE" else "live_admin_new"
    alias = "od" if operation == "DELETE" else "nw"
    if operation == "UPDATE":
        values = ", ".join(
            f"{_literal(c)}, jsonb_build_array(nw.{_quoted(c)}, od.{_quoted(c)})" for c in columns
        )
        changed = (
            "(SELECT coalesce(jsonb_agg(e.key), '[]'::jsonb) FROM jsonb_each(to_jsonb(nw)) e"
            " WHERE e.value IS DISTINCT FROM to_jsonb(od) -> e.key)"
        )
        source = f"live_admin_new nw LEFT JOIN live_admin_old od ON od.{pk} = nw.{pk}"
    else:
        values = ", ".join(
            f"{_literal(c)}, jsonb_build_array({alias}.{_quoted(c)})" for c in columns
        )
        changed = "NULL::jsonb"
        source = f"{table} {alias}"
    row = f"jsonb_build_array({alias}.{pk}, {changed}, jsonb_build_object({values}))"
    return f"""SELECT count(*) INTO n FROM {table};
        IF n <= {ROWS} THEN
            SELECT jsonb_agg({row}) INTO found FROM {source};
            body := jsonb_build_object('m', {_literal(label)}, 'op', {_literal(action)},
                'by', who, 'rows', found)::text;
        END IF;"""


def triggers(model: type[Model], spec: Spec) -> list[Any]:
    """The django-pgtrigger triggers that tell ``model``'s writes."""
    import pgtrigger

    label = model._meta.label_lower
    pk = _quoted(model._meta.pk.column)
    columns = watched(model, spec)
    made = []
    for operation, action in (("INSERT", "created"), ("UPDATE", "saved"), ("DELETE", "deleted")):
        referencing = pgtrigger.Referencing(  # type: ignore[no-untyped-call]
            **({"old": "live_admin_old"} if operation != "INSERT" else {}),
            **({"new": "live_admin_new"} if operation != "DELETE" else {}),
        )
        made.append(
            pgtrigger.Trigger(
                name=NAMES[operation],
                level=pgtrigger.Statement,
                when=pgtrigger.After,
                operation=getattr(pgtrigger, operation.title()),
                referencing=referencing,
                declare=DECLARE,
                func=_body(label, action, _rows(label, action, pk, columns, operation)),
            )
        )
    made.append(
        pgtrigger.Trigger(
            name=TRUNCATE,
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Truncate,
            declare=DECLARE,
            func=_body(label, "bulk", "n := 1; body := NULL;"),
        )
    )
    return made


def installed(tables: list[str], using: str) -> dict[str, set[str]]:
    """The live_admin triggers on ``tables`` by table (django-pgtrigger's names)."""
    if not tables:
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND t.tgname LIKE %s AND c.relname = ANY(%s)",
            ["pgtrigger\\_live\\_admin\\_%", tables],
        )
        found: dict[str, set[str]] = {}
        for table, name in cursor.fetchall():
            found.setdefault(table, set()).add(name)
    return found


def drop(table: str, names: set[str], using: str) -> None:
    """Drop the named triggers of ``table`` and their functions."""
    with connections[using].cursor() as cursor:
        for name in sorted(names):
            cursor.execute(f"DROP TRIGGER IF EXISTS {_quoted(name)} ON {_quoted(table)}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {_quoted(name)}()")
