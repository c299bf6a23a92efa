"""System checks of the settings, and the registering of every check (the stages keep their
own: ``pages.checks``, ``realtime.checks``, ``conflicts.checks``). Every id is in docs/checks.md."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.checks import register as register_check

from .conf import CONFLICT_MODES as MODES
from .conf import DEFAULTS, TYPES, models_setting

IN_MEMORY = "channels.layers.InMemoryChannelLayer"
APP_DIRS_LOADER = "django.template.loaders.app_directories.Loader"
#: Cache backends whose entries one process cannot see another's.
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
Check = Callable[..., list[CheckMessage]]
#: The mixin's options that name fields.
NAMED = ("live_fields", "live_exclude", "live_group_by")


def register(*tags: str, deploy: bool = False) -> Callable[[Check], Check]:
    """Register a check that says nothing where live_admin is not installed (a test may
    override INSTALLED_APPS, and expect only the messages of the apps it lists)."""

    def decorate(check: Check) -> Check:
        @functools.wraps(check)
        def run(**kwargs: Any) -> list[CheckMessage]:
            return check(**kwargs) if apps.is_installed("live_admin") else []

        register_check(run, *tags, deploy=deploy)
        return run

    return decorate


@register()
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    value = getattr(settings, "LIVE_ADMIN", {})
    if not isinstance(value, dict):
        return [
            Error(
                "LIVE_ADMIN must be a dict.",
                hint="Set LIVE_ADMIN = {...} with the keys listed in the docs, or remove it.",
                id="live_admin.E001",
            )
        ]
    messages: list[CheckMessage] = []
    for key, item in value.items():
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key), DEFAULTS, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else "Known keys: " + ", ".join(DEFAULTS)
            messages.append(
                Warning(f"LIVE_ADMIN has an unknown key {key!r}.", hint=hint, id="live_admin.W002")
            )
        elif not isinstance(item, TYPES[key]) or (
            isinstance(item, bool) and TYPES[key] is not bool
        ):
            expected = TYPES[key]
            names = " or ".join(
                "None" if t is type(None) else t.__name__
                for t in (expected if isinstance(expected, tuple) else (expected,))
            )
            messages.append(
                Error(
                    f"LIVE_ADMIN[{key!r}] must be {names}, not {type(item).__name__}.",
                    hint=f"The default is {DEFAULTS[key]!r}.",
                    id="live_admin.E003",
                )
            )
        elif key == "BADGE_CACHE" and item is not None and item not in settings.CACHES:
            messages.append(
                Error(
                    f"LIVE_ADMIN['BADGE_CACHE'] is {item!r}, which CACHES does not have. Until "
                    "fixed, pages show no change badges.",
                    hint="Name an alias of CACHES (a cache all server processes share, such as "
                    "Redis), or None: the channel layer's Redis on channels-redis, else each "
                    "process's own memory.",
                    id="live_admin.E017",
                )
            )
        elif key == "CONFLICTS" and item not in MODES:
            messages.append(
                Error(
                    f"LIVE_ADMIN['CONFLICTS'] is {item!r}; it must be one of "
                    + ", ".join(repr(m) for m in MODES)
                    + ". Until fixed, saves are merged.",
                    hint="The default is 'merge'.",
                    id="live_admin.E012",
                )
            )
    return messages


@register()
def check_templates(**kwargs: Any) -> list[CheckMessage]:
    engines: list[dict[str, Any]] = settings.TEMPLATES
    for engine in engines:
        if engine.get("BACKEND") != "django.template.backends.django.DjangoTemplates":
            continue
        if engine.get("APP_DIRS") or APP_DIRS_LOADER in str(
            engine.get("OPTIONS", {}).get("loaders")
        ):
            return []
    return [
        Warning(
            "No Django template engine loads templates from installed apps.",
            hint=f"Set APP_DIRS=True or add {APP_DIRS_LOADER!r} to the loaders, so the admin "
            "finds live_admin's templates.",
            id="live_admin.W008",
        )
    ]


def option_source(admin: Any, attr: str = "") -> str:
    """Where an admin's option was written: its class, or LIVE_ADMIN["MODELS"]."""
    label = getattr(admin, "_live_settings_label", None)
    if label is None or (attr and attr not in models_setting().get(label, {})):
        return f"{type(admin).__name__}.{attr}" if attr else type(admin).__name__
    where = f"LIVE_ADMIN['MODELS'][{label!r}]"
    return f"{where}[{attr!r}]" if attr else where
