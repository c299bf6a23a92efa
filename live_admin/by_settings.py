"""``LIVE_ADMIN["MODELS"]``: making registered ModelAdmins live by settings alone.

At start-up (the app's ``ready()``), each ModelAdmin registered, on any AdminSite, for a model
the setting names is replaced by an instance of a subclass that has ``LiveAdminMixin`` first
among its bases and the setting's options as class attributes. An admin that already uses the
mixin is subclassed with the options, which win over its own.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.apps import apps
from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error
from django.db.models import Model

from .checks import register

#: The mixin options the setting may give, each as the mixin spells it.
OPTIONS = ("live_fields", "live_exclude", "live_group_by", "live_conflicts", "live_row_refreshes")


def entries() -> dict[Any, Any]:
    """The ``MODELS`` mapping as written (empty when unset or not a mapping: see the checks)."""
    from .conf import get_config

    value = get_config().get("MODELS")
    return value if isinstance(value, dict) else {}


def models_for(label: str) -> list[type[Model]]:
    """The models ``label`` names: ``"app.model"`` or ``"app.*"``; LookupError if none."""
    app_label, _, name = label.lower().partition(".")
    if not name:
        raise LookupError(f"{label!r} is not of the form 'app_label.model' or 'app_label.*'.")
    config = apps.get_app_config(app_label)  # LookupError for an unknown app
    if name == "*":
        return list(config.get_models())
    return [config.get_model(name)]


def chosen() -> dict[type[Model], tuple[str, dict[str, Any]]]:
    """Each model the setting makes live, with the label that names it and its options; a
    model's own label wins over its app's ``*``. Entries the checks refuse are left out."""
    found: dict[type[Model], tuple[str, dict[str, Any]]] = {}
    for label, options in entries().items():
        if not isinstance(label, str) or not isinstance(options, dict) or unknown(options):
            continue
        try:
            models = models_for(label)
        except LookupError:
            continue
        for model in models:
            if label.endswith(".*") and model in found:
                continue
            found[model] = (label, options)
    return found


def unknown(options: dict[Any, Any]) -> list[Any]:
    return [key for key in options if key not in OPTIONS]


def close_option(key: object) -> str:
    close = difflib.get_close_matches(str(key), OPTIONS, n=1)
    return f"Did you mean {close[0]!r}?" if close else "The options are " + ", ".join(OPTIONS)


def live_class(cls: type, label: str, options: dict[str, Any]) -> type:
    """``cls`` made live: the mixin first among its bases (unless it has it), the options on
    top."""
    from .admin import LiveAdminMixin

    bases = (cls,) if issubclass(cls, LiveAdminMixin) else (LiveAdminMixin, cls)
    namespace = {
        **options,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "live_settings_label": label,
    }
    return type(cls)(cls.__name__, bases, namespace)


def apply() -> None:
    """Make the chosen models' registered admins live, on every site."""
    from .observers import forget

    wanted = chosen()
    if not wanted:
        return
    for model in wanted:
        forget(model)  # an admin live in code is observed anew, with the settings' options
    for site in list(all_sites):
        for model, admin in list(site._registry.items()):
            if model not in wanted or getattr(admin, "live_settings_label", None):
                continue
            label, options = wanted[model]
            site._registry[model] = live_class(type(admin), label, options)(model, site)


@register()
def check_models(**kwargs: Any) -> list[CheckMessage]:
    """live_admin.E013 to E016: the ``MODELS`` setting's labels, options and admins."""
    messages: list[CheckMessage] = []
    registered = {
        model: admin for site in list(all_sites) for model, admin in site._registry.items()
    }
    labels = [m._meta.label_lower for m in apps.get_models()]
    for label, options in entries().items():
        where = f"LIVE_ADMIN['MODELS'][{label!r}]"
        try:
            models = models_for(label) if isinstance(label, str) else []
        except LookupError:
            models = []
        if not models:
            close = difflib.get_close_matches(str(label).lower(), labels, n=1)
            messages.append(
                Error(
                    f"LIVE_ADMIN['MODELS'] names {label!r}, which is no installed model or app.",
                    hint=f"Did you mean {close[0]!r}?"
                    if close
                    else "Write 'app_label.model_name', or 'app_label.*' for an app's models.",
                    id="live_admin.E013",
                )
            )
            continue
        if not isinstance(options, dict):
            messages.append(
                Error(
                    f"{where} must be a dict of mixin options, not {type(options).__name__}.",
                    hint="Use {} for the defaults, or e.g. {'live_fields': ('status',)}.",
                    id="live_admin.E014",
                )
            )
            continue
        for key in unknown(options):
            messages.append(
                Error(
                    f"{where} has an unknown option {key!r}; the entry is not made live.",
                    hint=close_option(key),
                    id="live_admin.E014",
                )
            )
        if not any(model in registered for model in models):
            messages.append(
                Error(
                    f"{where}: no ModelAdmin is registered for "
                    + ("any model of the app" if label.endswith(".*") else models[0]._meta.label)
                    + " on any admin site, so nothing is made live.",
                    hint="Register an admin for it (admin.site.register(Model) will do), "
                    "or remove the entry.",
                    id="live_admin.E015",
                )
            )
    for model, (label, _) in chosen().items():
        for site in list(all_sites):
            admin = site._registry.get(model)
            if admin is not None and getattr(admin, "live_settings_label", None) is None:
                messages.append(
                    Error(
                        f"The admin of {model._meta.label} on site {site.name!r} was registered "
                        f"after live_admin started, so LIVE_ADMIN['MODELS'][{label!r}] did not "
                        "make it live.",
                        hint="Register it in an app's admin.py, or list live_admin in "
                        "INSTALLED_APPS after the app that registers it in its ready().",
                        obj=admin,
                        id="live_admin.E016",
                    )
                )
    return messages
