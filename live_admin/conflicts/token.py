"""Conflict-safe saves: a form remembers the state it was rendered from, and the server merges.

A live change form, and a live ``list_editable`` changelist, carries a signed token (the
``_live_state`` field) with a short hash of each editable field's value as rendered. When the form
is posted, every field has three states: the token's (where the user started), the database's
(read under a row lock as the save begins) and the user's (what was posted):

- the user left it as it was: the database's value is kept, so someone else's change survives;
- only the user changed it: the user's value is saved;
- both changed it, to different values: a conflict. Nothing is saved; the form comes back with
  both values as field errors and a choice ("keep mine" or "take theirs") for each.

``live_conflicts = "refuse"`` also refuses a save when others changed fields the user left alone;
``"off"`` turns it all off. A form posted without a token (a script, an old tab) saves as the stock
admin would, and one with a bad token does too, with a warning: its base is unknown, so nothing is
merged blindly. The hashes are of values the user's own form shows, and the token is signed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.files.base import File
from django.db import connections
from django.db.models import Model
from django.forms.formsets import DELETION_FIELD_NAME, ORDERING_FIELD_NAME
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest

logger = logging.getLogger("live_admin")

#: The form field that carries the token, and the ones a conflict form adds.
STATE_FIELD = "_live_state"
CONFLICTS_FIELD = "_live_conflicts"
CHOICE_PREFIX = "_live_keep_"
#: Tokens one ``_live_state`` may join (a list's, then one per row refresh).
MAX_PARTS = 100
_SALT = "live_admin.conflicts"
#: Where a request being checked keeps its decoded token (an attribute of the request).
_REQUEST_ATTR = "_live_admin_state"

Hashes = dict[str, str]


def canonical(field: forms.Field, value: Any) -> str:
    """``value`` of form field ``field`` as text that is equal whenever the values are: an
    initial value from the database and the cleaned value of the same thing compare equal."""
    if isinstance(field, forms.JSONField):  # dicts by key, lists in order, 5 is not "5"
        return json.dumps(value, sort_keys=True, default=str)
    value = field.prepare_value(value)
    if isinstance(value, str):
        value = value.replace("\r\n", "\n")  # browsers post line ends as CRLF
        if isinstance(field, forms.CharField) and field.strip:
            value = value.strip()
    return value_text(value)


def value_text(value: Any) -> str:
    """A model or form value as text that is equal whenever the values are."""
    if value is None or (isinstance(value, str) and value == ""):
        return ""
    if isinstance(value, File):  # by name: a stored file's other attributes open it
        return "f" + str(value.name or "")
    if isinstance(value, Model):
        return f"m{value.pk}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).isoformat()  # one instant, one text
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (list, tuple, set, frozenset)) or hasattr(value, "model"):
        return json.dumps(sorted(value_text(item) for item in value))  # a set of choices
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def editable_names(form: forms.BaseForm) -> list[str]:
    """The fields of ``form`` a user edits that are the model's own: not disabled, not a
    formset's (its pk selector, foreign key, delete and order boxes), not extra form fields."""
    model = getattr(getattr(form, "_meta", None), "model", None)
    if model is None:
        return []
    names = []
    for name, field in form.fields.items():
        if field.disabled or name in (DELETION_FIELD_NAME, ORDERING_FIELD_NAME):
            continue
        if isinstance(field, InlineForeignKeyField):
            continue
        if name == model._meta.pk.name and isinstance(field, forms.ModelChoiceField):
            continue  # a model formset's hidden pk selector
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        names.append(name)
    return names


def rendered(form: forms.BaseForm) -> Hashes:
    """The hashes of ``form``'s initial values: what it shows unless the user changes it."""
    return {
        name: digest(canonical(form.fields[name], form[name].initial))
        for name in editable_names(form)
    }


# -- the token ------------------------------------------------------------------------------


def token(obj: Model | None, form: forms.BaseForm | None, formsets: Iterable[Any]) -> str:
    """The signed state of a change form (``form`` and its inline ``formsets``) or of a
    changelist's formset (``form`` None): hashes per field, per inline row."""
    rows: dict[str, dict[str, Hashes]] = {}
    for formset in formsets:
        rows[formset.prefix] = found = {}
        for row in formset.initial_forms:
            if row.instance.pk is not None:
                found[str(row.instance.pk)] = {**rendered(row), **getattr(row, "live_carry", {})}
            elif (started := getattr(row, "live_started_from", None)) is not None:
                found[str(started[0])] = started[1]  # deleted meanwhile: judged as first rendered
    payload = {
        "o": None if obj is None else f"{obj._meta.label_lower}:{obj.pk}",
        "f": {} if form is None else {**rendered(form), **getattr(form, "live_carry", {})},
        "r": rows,
    }
    # Signed without a timestamp: the same state gives the same token (a page updated in
    # place and a fresh load agree), and a form may be saved however long it stayed open.
    return signing.Signer(salt=_SALT).sign_object(payload, compress=True)


def read_token(request: HttpRequest, obj_key: str | None) -> dict[str, Any] | None:
    """The posted token, checked; None (and a log line) when it is missing or not valid."""
    value = request.POST.get(STATE_FIELD)
    if value is None:
        logger.info("live_admin: %s posted without a state token; saved unchecked", request.path)
        return None
    # A list whose rows were refreshed one by one carries the list's token and then each
    # refresh's: later parts are newer states of the rows they hold.
    parts = value.split()
    state: dict[str, Any] | None = None
    try:
        if not 0 < len(parts) <= MAX_PARTS:
            raise signing.BadSignature(f"{len(parts)} parts")
        for part in parts:
            one = signing.Signer(salt=_SALT).unsign_object(part)
            if one.get("o") != obj_key or not isinstance(one.get("f"), dict):
                raise signing.BadSignature("the token is for another object")
            if state is None:
                state = one
                continue
            state["f"].update(one["f"])
            for prefix, rows in one.get("r", {}).items():
                state["r"].setdefault(prefix, {}).update(rows)
    except (signing.BadSignature, ValueError, TypeError, AttributeError) as exc:
        logger.warning(
            "live_admin: %s posted a bad state token (%s); saved unchecked", request.path, exc
        )
        return None
    return state


def begin(request: HttpRequest, state: dict[str, Any] | None) -> None:
    setattr(request, _REQUEST_ATTR, state)


def state_of(request: HttpRequest) -> dict[str, Any] | None:
    """The checked token of the request being saved, if it is checked."""
    return getattr(request, _REQUEST_ATTR, None)


# -- serialising racing saves -----------------------------------------------------------------


def posted_pks(request: HttpRequest, pk: Any) -> list[Any]:
    """The primary keys of the rows a list_editable changelist posted (``form-N-<pk>``)."""
    keys = []
    for name, value in request.POST.items():
        if name.startswith("form-") and name.endswith(f"-{pk.name}"):
            try:
                keys.append(pk.to_python(value))
            except ValidationError:
                continue
    return keys


def lock(model: type[Model], using: str, **lookup: Any) -> None:
    """Take the rows matching ``lookup`` for update in the current transaction, so that a
    racing checked save waits for this one to commit and then reads what it wrote. SQLite has
    no row locks: a write that changes nothing takes its database write lock at once."""
    connection = connections[using]
    if connection.features.has_select_for_update:
        rows = model._base_manager.using(using).filter(**lookup).order_by()  # no ordering joins
        of = ("self",) if connection.features.has_select_for_update_of else ()
        list(rows.select_for_update(of=of).values_list("pk", flat=True))
    elif connection.vendor == "sqlite":
        quote = connection.ops.quote_name
        table, column = quote(model._meta.db_table), quote(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {column} = {column} WHERE 0 = 1")
