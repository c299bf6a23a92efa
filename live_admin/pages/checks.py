"""System checks of live ModelAdmins: their bases and their options."""

from __future__ import annotations

import difflib
from typing import Any

from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

from .. import options, registry
from ..checks import NAMED, option_source, register
from ..conf import CONFLICT_MODES as MODES
from ..options import valid_names


@register()
def check_admins(**kwargs: Any) -> list[CheckMessage]:
    from django.contrib.admin import ModelAdmin

    messages: list[CheckMessage] = []
    for site in list(all_sites):
        admin: Any
        for model, admin in site._registry.items():
            if not registry.is_live(admin):
                continue
            mro = type(admin).__mro__
            if mro.index(registry.LiveAdmin) > mro.index(ModelAdmin):
                messages.append(
                    Error(
                        f"{type(admin).__name__} lists LiveAdminMixin after ModelAdmin, so "
                        "ModelAdmin's own views hide the mixin's and nothing is live.",
                        hint="Put LiveAdminMixin first among the bases, before ModelAdmin and "
                        "classes derived from it (such as other packages' admin classes).",
                        obj=admin,
                        id="live_admin.E010",
                    )
                )
                continue
            mode = admin.live_conflicts
            if mode is not None and mode not in MODES:
                messages.append(
                    Error(
                        f"{option_source(admin, 'live_conflicts')} is {mode!r}; it must be one of "
                        + ", ".join(repr(m) for m in MODES)
                        + ", or None. Until fixed, saves are merged.",
                        hint="'merge' keeps others' changes and refuses real conflicts, "
                        "'refuse' refuses any save of an object changed meanwhile, 'off' "
                        "checks nothing.",
                        obj=admin,
                        id="live_admin.E012",
                    )
                )
            bad = [
                attr
                for attr in NAMED
                if not valid_names(getattr(admin, attr), attr != "live_group_by")
            ]
            for attr in bad:
                none = {"live_fields": "every field", "live_exclude": "the default"}.get(attr)
                messages.append(
                    Error(
                        f"{option_source(admin, attr)} must be a list, tuple or set of field "
                        "names.",
                        hint=f"For example {attr} = ('status',)"
                        + (f", or None for {none}." if none else "."),
                        obj=admin,
                        id="live_admin.E011",
                    )
                )
            if bad:
                continue
            names = [*(admin.live_fields or ()), *(admin.live_exclude or ()), *admin.live_group_by]
            for name in dict.fromkeys(names):  # once, if named by two options
                try:
                    field = model._meta.get_field(name)
                except FieldDoesNotExist:
                    field = None
                if field is None or (
                    name in admin.live_group_by and (not field.concrete or field.many_to_many)
                ):
                    attr = next(a for a in reversed(NAMED) if name in (getattr(admin, a) or ()))
                    messages.append(
                        Error(
                            f"{option_source(admin, attr)} names {name!r}, which is not a "
                            f"{'concrete ' if name in admin.live_group_by else ''}field of "
                            f"{model._meta.label}.",
                            hint=_did_you_mean(model, name)
                            + "live_fields, live_exclude and live_group_by take field names "
                            "of the model.",
                            obj=admin,
                            id="live_admin.E009",
                        )
                    )
            if not any(m.id == "live_admin.E009" and m.obj is admin for m in messages):
                messages += _unbroadcast(model, admin)
    return messages


def _did_you_mean(model: type[Model], name: str) -> str:
    names = [f.name for f in model._meta.get_fields()]
    close = difflib.get_close_matches(name, names, n=1)
    return f"Did you mean {close[0]!r}? " if close else ""


def _shown(admin: Any) -> dict[str, str]:
    """The model fields a list shows or filters by, and the option that names each."""
    shown: dict[str, str] = {}
    for attr in ("list_display", "list_filter"):
        for entry in getattr(admin, attr, ()) or ():
            name = entry[0] if isinstance(entry, (list, tuple)) and entry else entry
            if not isinstance(name, str):
                continue  # a callable, or a filter class: whose fields no check can read
            try:
                shown.setdefault(admin.model._meta.get_field(name.split("__")[0]).name, attr)
            except FieldDoesNotExist:
                continue  # a method or an attribute of the admin's
    return shown


def _unbroadcast(model: type[Model], admin: Any) -> list[CheckMessage]:
    """A field the list shows or filters by that ``live_fields`` leaves out: a change to it
    alone is never broadcast, so its column would stay as it was. (A field ``live_exclude``
    names is left out on purpose, by name.)"""
    broadcast = options.fields(admin)
    if broadcast is None:
        return []
    kept = {*broadcast, *options.group_by(admin), model._meta.pk.name}
    return [
        Warning(
            f"{type(admin).__name__}.{attr} names {name!r}, but "
            f"{option_source(admin, 'live_fields')} leaves it out: a change to it alone reaches "
            "no page, so the list goes on showing it as it was.",
            hint="Add it to live_fields, or, if that is meant, silence live_admin.W015 "
            "(SILENCED_SYSTEM_CHECKS).",
            obj=admin,
            id="live_admin.W015",
        )
        for name, attr in _shown(admin).items()
        if name not in kept
    ]
