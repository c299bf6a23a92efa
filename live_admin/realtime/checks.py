"""System checks of the server side: Channels, the channel layer, the websocket route."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning
from django.utils.module_loading import import_string

from ..checks import IN_MEMORY, LOCAL_CACHES, register
from ..conf import badges_shared, get_config
from .consumer import LiveAdminConsumer

#: Where Channels' routers and middleware keep the application they wrap.
INNER = ("inner", "application", "app")


@register()
def check_channels(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if "channels" not in settings.INSTALLED_APPS or not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            Warning(
                "Django Channels is not set up: live pages need an ASGI server with websockets.",
                hint="Add 'daphne' and 'channels' to INSTALLED_APPS, set ASGI_APPLICATION and "
                "route live_admin.routing.websocket_urlpatterns: "
                "https://django-live-admin.readthedocs.io/en/latest/installation.html",
                id="live_admin.W004",
            )
        )
    alias = get_config()["CHANNEL_LAYER"]
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get(alias)
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
                f"of its own (LIVE_ADMIN['CHANNEL_LAYER']) with group_expiry about {3 * recheck}, "
                "or set that on this layer if nothing else uses its groups.",
                id="live_admin.W009",
            )
        )
    return messages


def _routes_live(application: Any, depth: int = 0) -> bool | None:
    """Whether ``application`` routes websockets to live_admin's consumer; None where it
    cannot tell (an application it does not know how to look into)."""
    if depth > 12:
        return None
    if getattr(application, "consumer_class", None) is not None:
        return issubclass(application.consumer_class, LiveAdminConsumer)
    mapping = getattr(application, "application_mapping", None)
    if isinstance(mapping, dict):  # ProtocolTypeRouter
        return _routes_live(mapping["websocket"], depth + 1) if "websocket" in mapping else False
    routes = getattr(application, "routes", None)
    if isinstance(routes, list):  # URLRouter
        found = [_routes_live(getattr(r, "callback", None), depth + 1) for r in routes]
        return True if True in found else None if None in found else False
    for name in INNER:
        if getattr(application, name, None) is not None:
            return _routes_live(getattr(application, name), depth + 1)
    if type(application).__name__ == "ASGIHandler":  # Django's own: no websockets
        return False
    return None


@register()
def check_route(**kwargs: Any) -> list[CheckMessage]:
    """The project's ASGI application, as the server will load it: does it route a websocket
    to live_admin? (The stock asgi.py does not; pages then say the server refuses them.)"""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path or "channels" not in settings.INSTALLED_APPS:
        return []  # W004
    try:
        application = import_string(path)
    except Exception:  # the server says why when it starts; a check must not crash
        return []
    if _routes_live(application) is not False:
        return []
    return [
        Warning(
            f"{path} routes no websocket to live_admin: live pages cannot connect, and say the "
            "server refuses live updates.",
            hint="Route live_admin.routing.websocket_urlpatterns under 'websocket' in the "
            "ProtocolTypeRouter: "
            "https://django-live-admin.readthedocs.io/en/latest/installation.html",
            id="live_admin.W013",
        )
    ]


@register()
def check_runserver(**kwargs: Any) -> list[CheckMessage]:
    """``runserver`` serves websockets only with daphne (or channels' own) installed first."""
    if not settings.DEBUG or "channels" not in settings.INSTALLED_APPS:
        return []
    if "daphne" in settings.INSTALLED_APPS:
        return []
    return [
        Warning(
            "'daphne' is not in INSTALLED_APPS, so manage.py runserver serves no websockets: "
            "live pages cannot connect to it.",
            hint="Put 'daphne' first in INSTALLED_APPS, or serve the ASGI application with "
            "another server (uvicorn 'yourproject.asgi:application'), and silence this check.",
            id="live_admin.W014",
        )
    ]


@register(deploy=True)
def check_deployment(**kwargs: Any) -> list[CheckMessage]:
    """Only under ``check --deploy``: the in-memory layer is the right default for one process
    (a development server), so these are said where a deployment is checked."""
    config = get_config()
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get(config["CHANNEL_LAYER"])
    if layer is None:
        return [
            Warning(
                f"CHANNEL_LAYERS has no {config['CHANNEL_LAYER']!r} layer; live_admin uses an "
                "in-memory layer, which cannot carry changes between processes.",
                hint="Saves of other processes (workers, cron jobs, management commands, other "
                "server processes) do not reach pages. Configure channels_redis.",
                id="live_admin.W005",
            )
        ]
    if layer.get("BACKEND") == IN_MEMORY and not settings.DEBUG:
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
    if config["BADGES"] and local and layer.get("BACKEND") != IN_MEMORY:
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
