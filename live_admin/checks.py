"""System checks; every id is listed in ``docs/checks.md``."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.sites import all_sites
from django.core.checks import CheckMessage, Error, Warning
from django.core.checks import register as register_check
from django.core.exceptions import FieldDoesNotExist

from . import registry
from .conf import CONFLICT_MODES as MODES
from .conf import DEFAULTS, TYPES, badges_shared, get_config, models_setting
from .options import valid_names

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
                    "Redis), or None for the store of each process's own.",
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
def check_channels(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if "channels" not in settings.INSTALLED_APPS or not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            Warning(
                "Django Channels is not set up: live pages need an ASGI server with websockets.",
                hint="Add 'daphne' and 'channels' to INSTALLED_APPS, set ASGI_APPLICATION and "
                "route live_admin.routing.websocket_urlpatterns (see the README).",
                id="live_admin.W004",
            )
        )
    alias = get_config()["CHANNEL_LAYER"]
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get(alias)
    if layer is None:
        messages.append(
            Warning(
                f"CHANNEL_LAYERS has no {alias!r} layer; live_admin uses an in-memory layer, "
                "which cannot carry changes between processes.",
                hint="Fine for one process. With several, configure channels_redis.",
                id="live_admin.W005",
            )
        )
    backend = (layer or {}).get("BACKEND", "")
    expiry = (layer or {}).get("CONFIG", {}).get("group_expiry", 86400)
    recheck = get_config()["RECHECK_SECONDS"]
    if backend == "channels_redis.core.RedisChannelLayer" and expiry > 10 * recheck:
        messages.append(
            Warning(
                f"The {alias!r} channel layer keeps group members for {expiry} s: a server "
                "process that ends without leaving its groups (killed or restarted) stays a "
                "member that long, and every change is still sent to it.",
                hint=f"live_admin re-joins every RECHECK_SECONDS ({recheck} s): give it a layer "
                f"of its own (LIVE_ADMIN['CHANNEL_LAYER']) with group_expiry about {3 * recheck}.",
                id="live_admin.W009",
            )
        )
    return messages


@register(deploy=True)
def check_deployment(**kwargs: Any) -> list[CheckMessage]:
    """Only under ``check --deploy``: tests run with DEBUG=False on the in-memory layer too."""
    config = get_config()
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get(config["CHANNEL_LAYER"])
    in_memory = layer is None or layer.get("BACKEND") == IN_MEMORY
    if in_memory and not settings.DEBUG:
        return [
            Warning(
                "live_admin runs on the in-memory channel layer with DEBUG=False.",
                hint="Changes saved by other processes (workers, other server processes, "
                "management commands) will not reach pages. Configure channels_redis.",
                id="live_admin.W006",
            )
        ]
    caches: dict[str, Any] = settings.CACHES
    cache = caches.get(config["BADGE_CACHE"] or "", {}).get("BACKEND", "")
    local = not badges_shared() or cache in LOCAL_CACHES
    if config["BADGES"] and local and not in_memory:
        return [
            Warning(
                "live_admin counts change badges in each process's own memory, but its channel "
                "layer carries changes between processes.",
                hint="A badge then counts only the changes saved by the process serving the "
                "page. Set LIVE_ADMIN['BADGE_CACHE'] to a cache all processes share (Redis, "
                "Memcached), or LIVE_ADMIN['BADGES'] = False.",
                id="live_admin.W011",
            )
        ]
    return []


@register()
def check_security(**kwargs: Any) -> list[CheckMessage]:
    if "*" in settings.ALLOWED_HOSTS:
        return [
            Warning(
                "ALLOWED_HOSTS contains '*': the websocket origin check accepts pages of any site.",
                hint="List your hosts in ALLOWED_HOSTS so that AllowedHostsOriginValidator "
                "refuses cross-site websocket connections.",
                id="live_admin.W007",
            )
        ]
    return []


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
                            hint="live_fields, live_exclude and live_group_by take field names "
                            "of the model.",
                            obj=admin,
                            id="live_admin.E009",
                        )
                    )
    return messages


def option_source(admin: Any, attr: str = "") -> str:
    """Where an admin's option was written: its class, or LIVE_ADMIN["MODELS"]."""
    label = getattr(admin, "_live_settings_label", None)
    if label is None or (attr and attr not in models_setting().get(label, {})):
        return f"{type(admin).__name__}.{attr}" if attr else type(admin).__name__
    where = f"LIVE_ADMIN['MODELS'][{label!r}]"
    return f"{where}[{attr!r}]" if attr else where
