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

import hashlib
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connections, router
from django.db.models import Model
from django.forms.formsets import DELETION_FIELD_NAME, ORDERING_FIELD_NAME
from django.forms.models import InlineForeignKeyField
from django.http import HttpRequest
from django.utils.translation import gettext as _

from .display import shown

logger = logging.getLogger("live_admin")

#: The form field that carries the token, and the ones a conflict form adds.
STATE_FIELD = "_live_state"
CONFLICTS_FIELD = "_live_conflicts"
CHOICE_PREFIX = "_live_keep_"
MODES = ("merge", "refuse", "off")
_SALT = "live_admin.conflicts"
#: Where a request being checked keeps its decoded token (an attribute of the request).
_REQUEST_ATTR = "_live_admin_state"

Hashes = dict[str, str]


def canonical(field: forms.Field, value: Any) -> str:
    """``value`` of form field ``field`` as text that is equal whenever the values are: an
    initial value from the database and the cleaned value of the same thing compare equal."""
    if not isinstance(field, forms.JSONField):
        value = field.prepare_value(value)
    return _text(value)


def _text(value: Any) -> str:
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
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, (list, tuple, set, frozenset)) or hasattr(value, "model"):
        return "[" + ",".join(sorted(_text(item) for item in value)) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def _names(form: forms.BaseForm) -> list[str]:
    """The fields of ``form`` a user edits: not disabled, not a formset's own."""
    model = getattr(getattr(form, "_meta", None), "model", None)
    names = []
    for name, field in form.fields.items():
        if field.disabled or name in (DELETION_FIELD_NAME, ORDERING_FIELD_NAME):
            continue
        if isinstance(field, InlineForeignKeyField):
            continue
        if isinstance(field, forms.ModelChoiceField) and field.queryset.model is model:
            continue  # a model formset's hidden pk selector
        names.append(name)
    return names


def rendered(form: forms.BaseForm) -> Hashes:
    """The hashes of ``form``'s initial values: what it shows unless the user changes it."""
    return {name: digest(canonical(form.fields[name], form[name].initial)) for name in _names(form)}


# -- the token ------------------------------------------------------------------------------


def token(obj: Model | None, form: forms.BaseForm | None, formsets: Iterable[Any]) -> str:
    """The signed state of a change form (``form`` and its inline ``formsets``) or of a
    changelist's formset (``form`` None): hashes per field, per inline row."""
    rows: dict[str, dict[str, Hashes]] = {}
    for formset in formsets:
        rows[formset.prefix] = found = {}
        for row in formset.initial_forms:
            if row.instance.pk is not None:
                found[str(row.instance.pk)] = rendered(row)
            elif isinstance(row, Checked) and (base := _base(row)) is not None:
                found[str(_posted_pk(row))] = base  # deleted meanwhile: judged as first rendered
    payload = {
        "o": None if obj is None else f"{obj._meta.label_lower}:{obj.pk}",
        "f": {} if form is None else rendered(form),
        "r": rows,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


def read_token(request: HttpRequest, obj_key: str | None) -> dict[str, Any] | None:
    """The posted token, checked; None (and a log line) when it is missing or not valid."""
    value = request.POST.get(STATE_FIELD)
    if value is None:
        logger.info("live_admin: %s posted without a state token; saved unchecked", request.path)
        return None
    try:
        state = signing.loads(value, salt=_SALT)
        if state.get("o") != obj_key or not isinstance(state.get("f"), dict):
            raise signing.BadSignature("the token is for another object")
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


def lock(model: type[Model], using: str, **lookup: Any) -> None:
    """Take the rows matching ``lookup`` for update in the current transaction, so that a
    racing checked save waits for this one to commit and then reads what it wrote. SQLite has
    no row locks: a write that changes nothing takes its database write lock at once."""
    connection = connections[using]
    if connection.features.has_select_for_update:
        manager = model._base_manager.using(using)
        list(manager.select_for_update().filter(**lookup).values_list("pk", flat=True))
    elif connection.vendor == "sqlite":
        quote = connection.ops.quote_name
        table, column = quote(model._meta.db_table), quote(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {column} = {column} WHERE 0 = 1")


# -- checked forms --------------------------------------------------------------------------


class Checked:
    """Put before a ModelForm class (by :func:`checked_form`): merges on clean.

    ``live_base``: the token's hashes of the main form, or None for an inline or list row (then
    ``live_rows`` holds them by formset prefix and pk). ``live_list``: a changelist row, where a
    conflict skips the row (reported after the save) instead of refusing the whole formset.
    """

    live_base: Hashes | None = None
    live_rows: dict[str, dict[str, Hashes]] = {}
    live_mode = "merge"
    live_list = False

    def _post_clean(self) -> None:
        # After the fields and clean(), before the posted values are put on the instance.
        self.live_merged: set[str] = set()
        self.live_conflicts: list[dict[str, str]] = []
        self.live_skipped = False
        self.live_refused = ""
        self.live_lost: list[str] = []
        merge(self)
        super()._post_clean()  # type: ignore[misc]

    @property
    def changed_data(self) -> list[str]:
        # A field merged to the database's value is not the user's change. A property, so that
        # it holds even when a formset asked before the form was cleaned.
        changed = self.__dict__.get("changed_data")
        if changed is None:
            changed = super().changed_data  # type: ignore[misc]  # caches itself in __dict__
        if getattr(self, "live_skipped", False):
            return []
        merged = getattr(self, "live_merged", ())
        return [name for name in changed if name not in merged]


def _base(form: Any) -> Hashes | None:
    if form.live_base is not None:
        return form.live_base
    rows = form.live_rows.get(form.prefix.rpartition("-")[0], {})
    pk = form.instance.pk if form.instance.pk is not None else _posted_pk(form)
    return rows.get(str(pk)) if pk is not None else None


def _posted_pk(form: Any) -> Any:
    return form.data.get(form.add_prefix(form._meta.model._meta.pk.name))


def merge(form: Any) -> None:
    """Decide each field of a posted ``form`` against its token and the database (see above)."""
    base = _base(form)
    if base is None:  # a new row, or a row the token does not know: saved as posted
        return
    cleaned = form.cleaned_data
    if form.instance.pk is None:  # the row was deleted since the form was rendered
        _deleted_row(form, base)
        return
    pending = set(form.data.getlist(CONFLICTS_FIELD)) if hasattr(form.data, "getlist") else set()
    others = []  # fields someone else changed, which the user left alone
    for name in _names(form):
        was = base.get(name)
        if was is None or name not in cleaned:  # a field the token lacks, or one with an error
            continue
        field = form.fields[name]
        theirs = digest(canonical(field, form[name].initial))
        mine = digest(canonical(field, cleaned[name]))
        if mine == was:
            if theirs != was:  # only someone else changed it: keep their value
                _take_theirs(form, name)
                others.append(name)
        elif theirs != was and mine != theirs:
            _conflict(
                form, name, _("Changed by someone else to “%(theirs)s” while you were editing.")
            )
        elif form.add_prefix(name) in pending:  # a conflict shown before: the user's choice
            choice = form.data.get(CHOICE_PREFIX + form.add_prefix(name))
            if choice == "theirs":
                _take_theirs(form, name)
            elif choice != "mine":
                _conflict(form, name, _("Choose whether to keep your value or theirs."))
    if form.live_mode == "refuse" and others and not form.live_conflicts:
        labels = ", ".join(str(form.fields[name].label or name) for name in others)
        form.live_refused = labels
        if form.live_list:
            form.live_skipped = True
        else:
            message = _(
                "Someone else changed %(fields)s while you were editing. The form now shows "
                "their values: check them and save again."
            )
            form.add_error(None, ValidationError(message % {"fields": labels}, code="live_changed"))


def _take_theirs(form: Any, name: str) -> None:
    """Keep the database's value of ``name``: not written, not a change, shown if re-rendered."""
    form.cleaned_data.pop(name, None)
    form.live_merged.add(name)
    form.fields[name].bound_data = lambda data, initial: initial  # this form's own field copy


def _conflict(form: Any, name: str, message: str) -> None:
    field = form.fields[name]
    form.live_conflicts.append(
        {
            "name": form.add_prefix(name),
            "label": str(field.label or name),
            "theirs": shown(field, form[name].initial),
            "mine": shown(field, form.cleaned_data.get(name)),
        }
    )
    if form.live_list:
        form.live_skipped = True
    else:
        text = message % {"theirs": form.live_conflicts[-1]["theirs"]}
        form.add_error(name, ValidationError(text, code="live_conflict"))


def _deleted_row(form: Any, base: Hashes) -> None:
    """An inline row deleted since the form was rendered is never created again: the rest is
    saved without it, and changes the user made to it are reported (:func:`lost`)."""
    pk_name = form._meta.model._meta.pk.name
    if pk_name in form.errors:  # the stock "Select a valid choice" of the hidden pk
        del form._errors[pk_name]  # a formset saves no initial row without a pk
    cleaned = form.cleaned_data
    if cleaned.get(DELETION_FIELD_NAME):
        return
    for name in _names(form):
        was = base.get(name)
        if name in cleaned and was not in (
            None,
            digest(canonical(form.fields[name], cleaned[name])),
        ):
            label = str(form.fields[name].label or name)
            form.live_lost.append(f"{label}: “{shown(form.fields[name], cleaned[name])}”")


def lost(formsets: Iterable[Any]) -> list[str]:
    """What the user changed in rows that someone else deleted meanwhile, one line a row."""
    lines = []
    for formset in formsets:
        for row in formset.forms:
            if getattr(row, "live_lost", None):
                lines.append(
                    _(
                        "A row was deleted by someone else while you were editing; your changes "
                        "to it were not saved (%(changes)s)."
                    )
                    % {"changes": "; ".join(row.live_lost)}
                )
    return lines


def checked_form(
    form_class: type[Any],
    mode: str,
    *,
    base: Hashes | None = None,
    rows: dict[str, dict[str, Hashes]] | None = None,
    as_list: bool = False,
) -> type[Any]:
    """``form_class`` checked against a token. Made without the form metaclass (which would
    build every field again, a millisecond or more): the fields, Meta and media are inherited."""
    namespace = {
        "__module__": form_class.__module__,
        "__qualname__": form_class.__qualname__,
        "live_base": base,
        "live_rows": rows or {},
        "live_mode": mode,
        "live_list": as_list,
    }
    return type.__new__(type(form_class), form_class.__name__, (Checked, form_class), namespace)


class _Rows:
    """Put before a changelist formset class: locks the posted rows before reading them, and
    tells the admin which formset was saved (for :meth:`LiveAdminMixin.live_report`)."""

    live_found: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live_found.append(self)

    def get_queryset(self) -> Any:
        if not hasattr(self, "_queryset"):
            pk = self.model._meta.pk
            keys = []
            for i in range(self.total_form_count()):
                try:
                    keys.append(pk.to_python(self.data.get(f"{self.add_prefix(i)}-{pk.name}")))
                except ValidationError:
                    continue
            lock(self.model, router.db_for_write(self.model), pk__in=keys)
        return super().get_queryset()  # type: ignore[misc]


def checked_formset(
    formset_class: type[Any],
    mode: str,
    rows: dict[str, dict[str, Hashes]],
    *,
    found: list[Any] | None = None,
) -> type[Any]:
    """An inline formset class checked against a token's rows; with ``found``, a changelist's
    (``list_editable``), whose conflicting rows are skipped and reported, not refused."""
    as_list = found is not None
    form = checked_form(formset_class.form, mode, rows=rows, as_list=as_list)
    if not as_list:
        return type(formset_class.__name__, (formset_class,), {"form": form})
    namespace = {"form": form, "live_found": found}
    return type(formset_class.__name__, (_Rows, formset_class), namespace)


def list_error(item: dict[str, str]) -> str:
    """A list row's conflict, as its error or message says it."""
    return _("%(field)s is now “%(theirs)s”; yours, “%(mine)s”, was not saved.") % {
        "field": item["label"],
        "theirs": item["theirs"],
        "mine": item["mine"],
    }


def collected(form: Any, formsets: Iterable[Any]) -> list[dict[str, str]]:
    """The conflicts found in a posted change form and its inlines, for the conflict panel."""
    found = list(getattr(form, "live_conflicts", ()))
    for formset in formsets:
        for row in formset.forms:
            found.extend(getattr(row, "live_conflicts", ()))
    return found
