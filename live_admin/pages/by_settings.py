"""``LIVE_ADMIN["MODELS"]``: making registered ModelAdmins live by settings alone.

At start-up (the app's ``ready()``), each ModelAdmin registered, on any AdminSite, for a model
the setting names is replaced by an instance of a subclass that has ``LiveAdminMixin`` first
among its bases and the setting's options as class attributes. An admin that already uses the
mixin is subclassed with the options, which win over its own. An option the checks refuse
(``live_admin.E014``) is left out: the admin is live with that option's default.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.apps import apps
from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error, Warning
from django.db.models import Model

from ..capture.observers import forget
from ..checks import register
from ..conf import ACTION_MODES, models_setting
from ..conf import CONFLICT_MODES as MODES
from ..options import valid_names
from .mixin import LiveAdminMixin

#: The mixin options the setting may give, each as the mixin spells it, with its test.
OPTIONS = {
    "live_fields": lambda v: valid_names(v, True),
    "live_exclude": lambda v: valid_names(v, True),
    "live_group_by": lambda v: valid_names(v, False),
    "live_conflicts": lambda v: v is None or v in MODES,
    "live_action_checks": lambda v: v is None or v in ACTION_MODES,
    "live_row_refreshes": lambda v: isinstance(v, bool),
    "live_badges": lambda v: isinstance(v, bool),
}
_applied = False


def entries() -> dict[Any, Any]:
    """The ``MODELS`` mapping as written (empty when unset or not a mapping: see the checks)."""
    return models_setting()


def models_for(label: str) -> list[type[Model]]:
    """The models ``label`` names: ``"app_label.model"`` or ``"app_label.*"``; LookupError if
    none. The model name is read case-insensitively, as Django reads it."""
    app_label, _, name = label.partition(".")
    if not name:
        raise LookupError(f"{label!r} is not of the form 'app_label.model' or 'app_label.*'.")
    config = apps.get_app_config(app_label)  # LookupError for an unknown app
    if name == "*":
        return list(config.get_models())
    return [config.get_model(name)]


def accepted(options: dict[Any, Any]) -> dict[str, Any]:
    """The options the checks accept; the others are left out (E014)."""
    return {k: v for k, v in options.items() if k in OPTIONS and OPTIONS[k](v)}


def chosen() -> dict[type[Model], tuple[str, dict[str, Any]]]:
    """Each model the setting makes live, with the label that names it and its accepted
    options; a model's own label wins over its app's ``*``."""
    found: dict[type[Model], tuple[str, dict[str, Any]]] = {}
    for label, options in entries().items():
        if not isinstance(label, str) or not isinstance(options, dict):
            continue
        try:
            models = models_for(label)
        except LookupError:
            continue
        for model in models:
            if not (label.endswith(".*") and model in found):
                found[model] = (label, accepted(options))
    return found


def live_class(cls: type, label: str, options: dict[str, Any]) -> type:
    """``cls`` made live: the mixin first among its bases (unless it has it), the options on
    top. Named ``Live<cls>`` (or ``<cls>`` plus ``FromSettings``, for a class live already)."""
    live = issubclass(cls, LiveAdminMixin)
    name = f"{cls.__name__}FromSettings" if live else f"Live{cls.__name__}"
    namespace = {
        **options,
        "__module__": cls.__module__,
        "__qualname__": name,
        "__doc__": cls.__doc__,
        "_live_settings_label": label,
    }
    return type(cls)(name, (cls,) if live else (LiveAdminMixin, cls), namespace)


def apply() -> None:
    """Make the chosen models' registered admins live, on every site; once a process."""
    global _applied

    wanted = chosen()
    if _applied or not wanted:
        return
    _applied = True
    replaced = [
        (site, model, admin)
        for site in list(all_sites)
        for model, admin in list(site._registry.items())
        if model in wanted
    ]
    for model in {model for _, model, _ in replaced}:
        forget(model)  # an admin live in code is observed anew, with the settings' options
    for _site, model, admin in replaced:
        label, options = wanted[model]
        # The registered instance itself becomes live: built once, by its site, and the same
        # object that URLs built already are bound to.
        admin.__class__ = live_class(type(admin), label, options)


@register()
def check_models(**kwargs: Any) -> list[CheckMessage]:
    """live_admin.E013 to E016 and W010: the ``MODELS`` setting's labels, options and admins."""
    messages: list[CheckMessage] = []
    registered = {model for site in list(all_sites) for model in site._registry}
    labels = [m._meta.label_lower for m in apps.get_models()]
    for label, options in entries().items():
        messages += _check_entry(label, options, registered, labels)
    for model, (label, _) in chosen().items():
        for site in list(all_sites):
            messages += _check_admin(site, model, label)
    return messages


def _check_entry(label: Any, options: Any, registered: set[Any], labels: list[str]) -> list[Any]:
    where = f"LIVE_ADMIN['MODELS'][{label!r}]"
    try:
        models = models_for(label) if isinstance(label, str) else []
    except LookupError:
        models = []
    if not models:
        close = difflib.get_close_matches(str(label).lower(), labels, n=1)
        hint = f"Did you mean {close[0]!r}?" if close else "Write 'app_label.model_name'."
        return [
            Error(
                f"LIVE_ADMIN['MODELS'] names {label!r}, which is no installed model or app.",
                hint=hint + " 'app_label.*' names every model of an app.",
                id="live_admin.E013",
            )
        ]
    messages: list[Any] = []
    if not isinstance(options, dict):
        return [
            Error(
                f"{where} must be a dict of mixin options, not {type(options).__name__}; the "
                "entry is ignored.",
                hint="Use {} for the defaults, or e.g. {'live_fields': ['status']}.",
                id="live_admin.E014",
            )
        ]
    for key, value in options.items():
        if key not in OPTIONS:
            close = difflib.get_close_matches(str(key), OPTIONS, n=1)
            messages.append(
                Error(
                    f"{where} has an unknown option {key!r}; it is left out.",
                    hint=f"Did you mean {close[0]!r}?"
                    if close
                    else "The options are " + ", ".join(OPTIONS) + ".",
                    id="live_admin.E014",
                )
            )
        elif not OPTIONS[key](value):
            messages.append(
                Error(
                    f"{where}[{key!r}] is {value!r}, which the mixin does not accept; it is left "
                    "out, so the admin is live with that option's default.",
                    hint="live_fields and live_exclude: a list of field names, or None; "
                    "live_group_by: a list of field names; live_conflicts: "
                    + ", ".join(repr(m) for m in MODES)
                    + " or None; live_action_checks: "
                    + ", ".join(repr(m) for m in ACTION_MODES)
                    + " or None; live_row_refreshes and live_badges: True or False.",
                    id="live_admin.E014",
                )
            )
    if not any(model in registered for model in models):
        swapped = models[0]._meta.swapped
        hint = (
            f"{models[0]._meta.label} is swapped for {swapped}: name {swapped.lower()!r}."
            if swapped
            else "Register an admin for it (admin.site.register(Model) will do), or remove "
            "the entry."
        )
        what = "any model of the app" if label.endswith(".*") else models[0]._meta.label
        messages.append(
            Error(
                f"{where}: no ModelAdmin is registered for {what} on any admin site, so nothing "
                "is made live.",
                hint=hint,
                id="live_admin.E015",
            )
        )
    return messages


def _check_admin(site: Any, model: type[Model], label: str) -> list[Any]:
    """An admin of a chosen model that start-up did not reach, or whose URLs were built before
    it was replaced."""
    admin = site._registry.get(model)
    if admin is None:
        return []
    where = f"LIVE_ADMIN['MODELS'][{label!r}]"
    hint = (
        "Register it in an app's admin.py; list live_admin in INSTALLED_APPS after "
        "django.contrib.admin and after any app that registers admins in its ready()."
    )
    if getattr(admin, "_live_settings_label", None) is None:
        if isinstance(admin, LiveAdminMixin):
            return [
                Warning(
                    f"The admin of {model._meta.label} on site {site.name!r} was registered after "
                    f"live_admin started: it is live, but without the options of {where}.",
                    hint=hint,
                    obj=admin,
                    id="live_admin.W010",
                )
            ]
        return [
            Error(
                f"The admin of {model._meta.label} on site {site.name!r} was registered after "
                f"live_admin started, so {where} did not make it live.",
                hint=hint,
                obj=admin,
                id="live_admin.E016",
            )
        ]
    return []
