"""Row refreshes: a changelist re-fetches only the rows that changed, when nothing else could.

A change that only updated rows, in fields the page's layout does not depend on, cannot add a
row to the page, take one off it or move one: only the changed rows the page shows look
different. The layout is every field the page's queryset filters, annotates or orders on (its
``get_queryset``, filters, search and ordering, read from the query itself) and every field of
its ``list_filter`` and ``date_hierarchy``, whose sidebars and links show the field's values.
Whatever cannot be read that way (raw SQL, a subquery, a window, a join through a reverse or
many-to-many relation, a ``SimpleListFilter``, a generated field) leaves the page without a
layout, and every change refreshes its whole list. A ``list_filter`` on a many-to-many field of
the model's own is read: its changes are heard by the field's name.

The page gets its layout as a signed token, hands it to the socket with its subscription and
its watch of the rows it shows, and the socket marks each change ``in_place`` or not, from the
one message of the model (or group) that names each changed object. The page then asks for
the changed rows with the ``X-Live-Admin-Rows`` header on its own URL: the admin's own
changelist view answers, as the user, with those rows only (no counts, no facets).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import unquote

from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, GeneratedField, Model, Q
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import Col, RawSQL, Subquery, Window
from django.db.models.sql import Query
from django.db.models.sql.where import ExtraWhere, WhereNode
from django.http import HttpRequest

logger = logging.getLogger("live_admin")

#: The header a page sends to fetch some of its rows: a URL-encoded JSON list of pks.
ROWS_HEADER = "X-Live-Admin-Rows"
#: Rows one row refresh may ask for (as many as a watch may follow).
MAX_ROWS = 200


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
        for expression in query.annotations.values():  # shown or sorted on: may read others
            _collect(expression, query, names)
        for item in query.order_by:
            if isinstance(item, str):
                name = item.lstrip("-")
                if name == "?":
                    raise _Unknown("random order")
                if name not in query.annotations:
                    names.add(_first(name, query))
            else:
                _collect(item, query, names)
        for item in cl.list_filter:
            if isinstance(item, (list, tuple)):
                item = item[0]
            if not isinstance(item, str):  # a SimpleListFilter: its lookups may read anything
                raise _Unknown(f"list_filter {getattr(item, '__name__', item)}")
            names.add(_filtered(item, query))
        if cl.date_hierarchy:
            names.add(_first(cl.date_hierarchy, query))
        for item in getattr(cl, "list_display", ()):  # a column showing another row of its own
            if isinstance(item, str) and item != "action_checkbox":
                name = item.split(LOOKUP_SEP, 1)[0]
                try:
                    field = query.model._meta.get_field(name)
                except FieldDoesNotExist:
                    continue  # an admin or model method: see live_row_refreshes
                if _to_itself(field, query.model._meta):
                    raise _Unknown(f"list_display {item} shows rows of the model itself")
    except _Unknown as exc:
        logger.debug("live_admin: %s refreshes whole pages (%s)", cl.model._meta.label, exc)
        return None
    except Exception:  # a query shape not foreseen: whole pages, never a broken page
        logger.warning("live_admin: could not read the layout of %s", cl.model._meta.label)
        return None
    return frozenset(names)


def _first(path: str, query: Any) -> str:
    """The model's own field a lookup path starts with, by its name (``pk`` and attnames
    too); a reverse or many-to-many relation, or a name that is no field, is unknown."""
    opts = query.model._meta
    name = path.split(LOOKUP_SEP, 1)[0]
    if name == "pk":
        return str(opts.pk.name)
    try:
        field = opts.get_field(name)  # by name or attname
    except FieldDoesNotExist:
        raise _Unknown(f"{name} is not a field") from None
    if not getattr(field, "concrete", False) or field.many_to_many:
        raise _Unknown(f"{name} is a reverse or many-to-many relation")
    if isinstance(field, GeneratedField):  # its value follows other fields
        raise _Unknown(f"{name} is generated")
    if _to_itself(field, opts):  # its rows' changes are this list's too, heard as in place
        raise _Unknown(f"{name} relates the model to itself")
    return str(field.name)


def _filtered(path: str, query: Any) -> str:
    """The field of a ``list_filter`` item: as :func:`_first`, and also a many-to-many field of
    the model's own, whose changes are heard by its name (its sidebar shows related rows, and
    its facets count by it)."""
    name = path.split(LOOKUP_SEP, 1)[0]
    try:
        field = query.model._meta.get_field(name)
    except FieldDoesNotExist:
        field = None
    # Declared on the model (a forward field; ``concrete`` is False for it since Django 6.0).
    own = getattr(field, "many_to_many", False) and not getattr(field, "auto_created", True)
    if own and not _to_itself(field, query.model._meta):
        return str(getattr(field, "name", name))
    return _first(path, query)


def _to_itself(field: Any, opts: Any) -> bool:
    """Whether ``field`` relates a model to itself (or to a model in its inheritance line)."""
    related = getattr(field, "related_model", None)
    if related is None or isinstance(related, str):
        return False
    line = {opts.model, *opts.get_parent_list()}
    return related in line or opts.model in related._meta.get_parent_list()


def _collect(node: Any, query: Any, names: set[str]) -> None:
    if isinstance(node, (ExtraWhere, RawSQL, Subquery, Query, Window)):
        raise _Unknown(type(node).__name__)
    if isinstance(node, (WhereNode, Q)):
        for child in node.children:
            if isinstance(child, tuple):  # a Q's ("field__lookup", value)
                names.add(_first(child[0], query))
                _collect(child[1], query, names)
            else:
                _collect(child, query, names)
        return
    if isinstance(node, Col):
        names.add(_local(node, query))
        return
    if isinstance(node, F):
        names.add(_first(str(vars(node)["name"]), query))
        return
    if isinstance(node, (list, tuple, set, frozenset)):
        for item in node:
            _collect(item, query, names)
        return
    sources = getattr(node, "get_source_expressions", None)
    if sources is None:
        if hasattr(node, "as_sql") or hasattr(node, "resolve_expression"):
            raise _Unknown(type(node).__name__)  # an expression that keeps its parts to itself
        return  # a plain value (a lookup's right-hand side)
    for part in sources():  # a lookup's: its left side, and its right side unless a value
        _collect(part, query, names)


def _local(col: Col, query: Any) -> str:
    """The base model's field a column stands for: its own, or the foreign key it joins by."""
    base = query.base_table
    if col.alias == base:
        return _first(col.target.name, query)
    join = query.alias_map.get(col.alias)
    while join is not None and join.parent_alias != base:
        join = query.alias_map.get(join.parent_alias)
    field = getattr(join, "join_field", None)
    if getattr(getattr(field, "remote_field", None), "parent_link", False):
        return _first(col.target.name, query)  # a parent's field (multi-table inheritance)
    if field is None or getattr(field, "model", None) is not query.model or not field.concrete:
        raise _Unknown("a join through a reverse or many-to-many relation")
    return _first(field.name, query)
