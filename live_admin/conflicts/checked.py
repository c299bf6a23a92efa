"""Forms and formsets checked against a state token: the merge rules of :mod:`.conflicts`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME
from django.utils.translation import gettext as _

from .display import shown
from .token import (
    CHOICE_PREFIX,
    CONFLICTS_FIELD,
    Hashes,
    canonical,
    digest,
    editable_names,
)


class Checked:
    """Put before a ModelForm class (by :func:`checked_form`): merges before ``clean()``.

    ``live_base``: the token's hashes of the main form, or None for an inline or list row (then
    ``live_rows`` holds them by formset prefix and pk). ``live_list``: a changelist row, where a
    conflict skips the row (reported after the save) instead of refusing the whole formset.
    """

    live_base: Hashes | None = None
    live_rows: dict[str, dict[str, Hashes]] = {}
    live_mode = "merge"
    live_list = False
    #: Fields whose changes are not broadcast (``live_exclude``): taken, never refused over.
    live_quiet: frozenset[str] = frozenset()

    def _clean_form(self) -> None:
        # After the fields are cleaned and before clean(), so that the form's own rules see the
        # merged values, and the model's validation and construct_instance after them too.
        self.live_merged: set[str] = set()
        self.live_conflicts: list[dict[str, str]] = []
        self.live_skipped = False
        self.live_refused = ""
        self.live_lost: list[str] = []
        #: Hashes a re-rendered form's token keeps from the old one (fields left undecided).
        self.live_carry: Hashes = {}
        merge(self)
        super()._clean_form()  # type: ignore[misc]

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

    @property
    def live_started_from(self) -> tuple[Any, Hashes] | None:
        """For a row deleted since it was rendered: its pk and the hashes it was rendered with."""
        if self.instance.pk is not None or (base := _base(self)) is None:  # type: ignore[attr-defined]
            return None
        return _posted_pk(self), base


def _base(form: Any) -> Hashes | None:
    if form.live_base is not None:
        base: Hashes = form.live_base
        return base
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
    for name in editable_names(form):
        was = base.get(name)
        if was is None:  # a field the token lacks
            continue
        if name not in cleaned:  # an error: undecided, judged from the same start next time
            form.live_carry[name] = was
            continue
        field = form.fields[name]
        theirs = digest(canonical(field, form[name].initial))
        mine = digest(canonical(field, cleaned[name]))
        choice = form.data.get(CHOICE_PREFIX + form.add_prefix(name))
        if form.add_prefix(name) in pending and choice == "mine" and _file_again(form, name):
            continue
        if mine == was:
            if theirs != was:  # only someone else changed it: keep their value
                _take_theirs(form, name)
                others.append(name)
        elif theirs != was and mine != theirs:
            _conflict(
                form, name, _("Changed by someone else to “%(theirs)s” while you were editing.")
            )
        elif form.add_prefix(name) in pending:  # a conflict shown before: the user's choice
            if choice == "theirs":
                _take_theirs(form, name)
            elif choice != "mine":
                _conflict(form, name, _("Choose whether to keep your value or theirs."))
    others = [name for name in others if name not in form.live_quiet]
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


def _file_again(form: Any, name: str) -> bool:
    """ "Keep mine" for a file: browsers never post a chosen file twice, so it must be chosen
    again (True, with an error, when it was not)."""
    field = form.fields[name]
    if not isinstance(field, forms.FileField) or form.files.get(form.add_prefix(name)):
        return False
    _conflict(form, name, _("Choose your file again to keep it."))
    return True


def _take_theirs(form: Any, name: str) -> None:
    """Keep the database's value of ``name``: it goes into cleaned_data (so that the form's own
    clean() and save_model() see it), is not counted as the user's change, and is what the form
    shows if it comes back."""
    instance = form.instance
    model_field = instance._meta.get_field(name)
    if model_field.many_to_many:
        value: Any = getattr(instance, name).all()
    elif model_field.is_relation:
        value = getattr(instance, name)
    else:
        value = getattr(instance, model_field.attname)
    form.cleaned_data[name] = value
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
    form.live_skipped = True  # not saved: a changelist would take it for an added row
    cleaned = form.cleaned_data
    if cleaned.get(DELETION_FIELD_NAME):
        return
    for name in editable_names(form):
        was = base.get(name)
        if name in cleaned and was not in (
            None,
            digest(canonical(form.fields[name], cleaned[name])),
        ):
            label = str(form.fields[name].label or name)
            form.live_lost.append(f"{label}: “{shown(form.fields[name], cleaned[name])}”")


def lost(formsets: Iterable[Any]) -> list[str]:
    """What the user changed in rows that someone else deleted meanwhile, one line a row."""
    return [lost_row(row) for formset in formsets for row in formset.forms if lost_row(row)]


def lost_row(row: Any) -> str:
    """What the user changed in ``row``, deleted meanwhile; "" when nothing (or not deleted)."""
    if not getattr(row, "live_lost", None):
        return ""
    return _(
        "A row was deleted by someone else while you were editing; your changes to it were not "
        "saved (%(changes)s)."
    ) % {"changes": "; ".join(row.live_lost)}


def checked_form(
    form_class: type[Any],
    mode: str,
    *,
    base: Hashes | None = None,
    rows: dict[str, dict[str, Hashes]] | None = None,
    as_list: bool = False,
    quiet: frozenset[str] = frozenset(),
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
        "live_quiet": quiet,
    }
    return type.__new__(type(form_class), form_class.__name__, (Checked, form_class), namespace)


class _Rows:
    """Put before a changelist formset class: tells the admin which formset was saved (for
    :meth:`LiveAdminMixin._live_report`)."""

    live_found: list[Any] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.live_found.append(self)


def checked_formset(
    formset_class: type[Any],
    mode: str,
    rows: dict[str, dict[str, Hashes]],
    *,
    found: list[Any] | None = None,
    quiet: frozenset[str] = frozenset(),
) -> type[Any]:
    """An inline formset class checked against a token's rows; with ``found``, a changelist's
    (``list_editable``), whose conflicting rows are skipped and reported, not refused."""
    as_list = found is not None
    form = checked_form(formset_class.form, mode, rows=rows, as_list=as_list, quiet=quiet)
    if not as_list:
        return type(formset_class.__name__, (formset_class,), {"form": form})
    namespace = {"form": form, "live_found": found}
    return type(formset_class.__name__, (_Rows, formset_class), namespace)


def list_error(item: dict[str, str], *, again: bool = False) -> str:
    """A list row's conflict, as a message says it, or (``again``) as the row's error in a list
    that came back, where saving again replaces their value."""
    if again:
        text = _("Changed by someone else to “%(theirs)s”; save again to replace it with yours.")
    else:
        text = _("%(field)s is now “%(theirs)s” (yours: “%(mine)s”).")
    return text % {"field": item["label"], "theirs": item["theirs"], "mine": item["mine"]}


def collected(form: Any, formsets: Iterable[Any]) -> list[dict[str, str]]:
    """The conflicts found in a posted change form and its inlines, for the conflict panel."""
    found = list(getattr(form, "live_conflicts", ()))
    for formset in formsets:
        for row in formset.forms:
            found.extend(getattr(row, "live_conflicts", ()))
    return found
