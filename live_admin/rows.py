"""Row refreshes: a changelist re-fetches only the rows that changed, when nothing else could.

A change that only updated rows, in fields the page's layout does not depend on, cannot add a
row to the page, take one off it or move one: only the changed rows the page shows look
different. The layout is every field the page's queryset filters or orders on (its
``get_queryset``, filters, search and ordering, read from the query itself) and every field of
its ``list_filter`` and ``date_hierarchy``, whose sidebars and links show the field's values.
A query the layout cannot be read from (raw SQL, a subquery, a join through a reverse or
many-to-many relation) has no layout, and every change refreshes the whole page.

The page gets its layout as a signed token, hands it to the socket with its subscription and
its watch of the rows it shows, and the socket marks each change ``in_place`` or not. The page
then asks for the changed rows with the ``X-Live-Admin-Rows`` header on its own URL: the
admin's own changelist view answers, as the user, with those rows only (no counts, no facets).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from django.contrib.admin.views.main import ChangeList
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import F, Model
from django.db.models.expressions import Col, RawSQL, Subquery
from django.db.models.sql import Query
from django.db.models.sql.where import ExtraWhere, WhereNode
from django.http import HttpRequest

logger = logging.getLogger("live_admin")

#: The header a page sends to fetch some of its rows: a URL-encoded JSON list of pks.
ROWS_HEADER = "X-Live-Admin-Rows"
#: Rows one row refresh may ask for (as many as a watch may follow).
MAX_ROWS = 200
_SALT = "live_admin.layout"


class _Unknown(Exception):
    """Part of a query whose fields cannot be told."""


def requested(request: HttpRequest, model: type[Model]) -> list[Any] | None:
    """The pks a GET asks to refresh (valid ones, converted), or None when it asks for none."""
    value = request.headers.get(ROWS_HEADER)
    if value is None or request.method != "GET":
        return None
    try:
        pks = json.loads(unquote(value))
    except ValueError:
        return None
    if not isinstance(pks, list) or len(pks) > MAX_ROWS:
        return None
    found = []
    for pk in pks:
        try:
            found.append(model._meta.pk.to_python(pk))
        except (ValidationError, TypeError, ValueError):
            continue
    return found


def row_changelist(base: type[ChangeList], pks: list[Any]) -> type[ChangeList]:
    """``base`` (the admin's ChangeList) showing only the rows ``pks`` of its page, uncounted."""

    def get_results(self: ChangeList, request: HttpRequest) -> None:
        self.result_list = self.queryset.filter(pk__in=pks)  # a queryset: formsets need one
        self.result_count = len(self.result_list)  # fetched once, here
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.can_show_all = False
        self.multi_page = False
        self.paginator = self.model_admin.get_paginator(
            request, self.result_list, self.list_per_page
        )

    return type(base.__name__, (base,), {"get_results": get_results})


# -- the layout ---------------------------------------------------------------------------------


def layout(cl: ChangeList) -> frozenset[str] | None:
    """The fields whose change could add, remove or move rows of changelist ``cl``'s page, or
    change its filters and date links; None when the query does not tell."""
    query = cl.queryset.query
    names: set[str] = set()
    try:
        _collect(query.where, query, names)
        for item in query.order_by:
            if isinstance(item, str):
                name = item.lstrip("-")
                if name == "?":
                    raise _Unknown("random order")
                if name in query.annotations:
                    _collect(query.annotations[name], query, names)
                else:
                    names.add(_first(name, query))
            else:
                _collect(item, query, names)
    except _Unknown as exc:
        logger.debug("live_admin: %s refreshes whole pages (%s)", cl.model._meta.label, exc)
        return None
    except Exception:  # a query shape not foreseen: whole pages, never a broken page
        logger.warning("live_admin: could not read the layout of %s", cl.model._meta.label)
        return None
    for item in cl.list_filter:
        if isinstance(item, (list, tuple)):
            item = item[0]
        if isinstance(item, str):
            names.add(_first(item, query))
    if cl.date_hierarchy:
        names.add(_first(cl.date_hierarchy, query))
    return frozenset(names)


def _first(path: str, query: Any) -> str:
    """The model's own field a lookup path starts with (``pk`` as the pk's name)."""
    name = path.split("__", 1)[0]
    return query.model._meta.pk.name if name == "pk" else name


def _collect(node: Any, query: Any, names: set[str]) -> None:
    if isinstance(node, (ExtraWhere, RawSQL, Subquery, Query)):
        raise _Unknown(type(node).__name__)
    if isinstance(node, WhereNode):
        for child in node.children:
            _collect(child, query, names)
        return
    if isinstance(node, Col):
        names.add(_local(node, query))
        return
    if isinstance(node, F):
        names.add(_first(node.name, query))
        return
    if isinstance(node, (str, int, float, bool, type(None))):
        return
    sources = getattr(node, "get_source_expressions", None)
    if sources is None:
        if hasattr(node, "as_sql"):  # an expression that keeps its parts to itself
            raise _Unknown(type(node).__name__)
        return  # a plain value (a lookup's right-hand side)
    for part in sources():  # a lookup's: its left side, and its right side unless a value
        _collect(part, query, names)


def _local(col: Col, query: Any) -> str:
    """The base model's field a column stands for: its own, or the foreign key it joins by."""
    base = query.base_table
    if col.alias == base:
        return col.target.name
    join = query.alias_map.get(col.alias)
    while join is not None and join.parent_alias != base:
        join = query.alias_map.get(join.parent_alias)
    field = getattr(join, "join_field", None)
    if field is None or getattr(field, "model", None) is not query.model or not field.concrete:
        raise _Unknown("a join through a reverse or many-to-many relation")
    return field.name


def layout_token(fields: frozenset[str]) -> str:
    return signing.Signer(salt=_SALT).sign_object(sorted(fields), compress=True)


def read_layout(value: Any) -> frozenset[str] | None:
    """The fields of a layout token; None for a missing or bad one (whole-page refreshes)."""
    if not isinstance(value, str):
        return None
    try:
        fields = signing.Signer(salt=_SALT).unsign_object(value)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        return None
    return frozenset(fields)


def in_place(event: dict[str, Any], fields: frozenset[str] | None) -> bool:
    """Whether change ``event`` could only have changed rows in place for a page laid out on
    ``fields``: objects updated (none created or deleted), in known fields outside the layout."""
    changed = event.get("fields")
    return (
        fields is not None
        and event.get("action") == "saved"
        and not event.get("created")
        and bool(changed)
        and fields.isdisjoint(changed)
    )
