"""The ``LIVE_ADMIN`` settings dict: defaults, merged with the project's, cached."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

#: The htmx vendored at ``static/live_admin/vendor/htmx.min.js`` (``scripts/vendor-htmx``).
HTMX_VERSION = "2.0.11"

#: Every key of ``LIVE_ADMIN`` with its default; docs/settings.md says what each means.
DEFAULTS: dict[str, Any] = {
    "WS_PATH": "ws/live-admin/",
    "STREAM_PATH": "live-admin/stream/",
    "CHANNEL_LAYER": "default",
    "MAX_SUBSCRIPTIONS": 50,
    "MAX_SOCKETS_PER_USER": 20,
    "MAX_MESSAGE_BYTES": 4096,
    "RATE_LIMIT": 20,
    "RECHECK_SECONDS": 60,
    "DEBOUNCE_MS": 300,
    "RECONNECT_MS": 12_000,
    "SEND_TIMEOUT": 1.0,
    "MAX_PENDING": 10_000,
    "FLUSH_TIMEOUT": 2.0,
    "CONFLICTS": "merge",
    "ACTION_CHECKS": "confirm",
    "MODELS": {},
    "BADGES": True,
    "BADGE_CACHE": None,
    "CAPTURE": "signals",
    "HISTORY": 200,
}

#: The channels-redis layers; on them, the badge store defaults to the layer's own Redis.
REDIS_LAYERS = (
    "channels_redis.core.RedisChannelLayer",
    "channels_redis.pubsub.RedisPubSubChannelLayer",
)

#: The values ``CAPTURE`` may take: what observes writes (docs/deployment.md, "Capture").
CAPTURE_MODES = ("signals", "database")

#: The values ``CONFLICTS`` and a ModelAdmin's ``live_conflicts`` may take.
CONFLICT_MODES = ("merge", "refuse", "off")

#: The values ``ACTION_CHECKS`` and a ModelAdmin's ``live_action_checks`` may take.
ACTION_MODES = ("confirm", "refuse", "off")

#: The type each value must have; checked by the system check ``live_admin.E003``.
TYPES: dict[str, type | tuple[type, ...]] = {
    "WS_PATH": str,
    "STREAM_PATH": str,
    "CHANNEL_LAYER": str,
    "MAX_SUBSCRIPTIONS": int,
    "MAX_SOCKETS_PER_USER": int,
    "MAX_MESSAGE_BYTES": int,
    "RATE_LIMIT": (int, float),
    "RECHECK_SECONDS": (int, float),
    "DEBOUNCE_MS": int,
    "RECONNECT_MS": int,
    "SEND_TIMEOUT": (int, float),
    "MAX_PENDING": int,
    "FLUSH_TIMEOUT": (int, float),
    "CONFLICTS": str,
    "ACTION_CHECKS": str,
    "MODELS": dict,
    "BADGES": bool,
    "BADGE_CACHE": (str, type(None)),
    "CAPTURE": str,
    "HISTORY": int,
}


def user_settings() -> dict[str, Any]:
    """The project's ``LIVE_ADMIN`` dict as written (empty when unset)."""
    value = getattr(settings, "LIVE_ADMIN", None)
    return value if isinstance(value, dict) else {}


@cache
def get_config() -> dict[str, Any]:
    """The effective settings: defaults updated with the project's known keys."""
    return {**DEFAULTS, **{k: v for k, v in user_settings().items() if k in DEFAULTS}}


def models_setting() -> dict[Any, Any]:
    """``LIVE_ADMIN["MODELS"]`` as written (empty when unset or not a mapping: see the checks)."""
    value = get_config().get("MODELS")
    return value if isinstance(value, dict) else {}


def layer_backend() -> str | None:
    """The ``BACKEND`` of live_admin's channel layer; None when none is configured."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    layer = layers.get(get_config()["CHANNEL_LAYER"]) if isinstance(layers, dict) else None
    return layer.get("BACKEND") if isinstance(layer, dict) else None


def badges_shared() -> bool:
    """Whether every process counts badges in one store: ``BADGE_CACHE`` names one, or the
    store defaults to the channel layer's Redis."""
    return get_config()["BADGE_CACHE"] is not None or layer_backend() in REDIS_LAYERS


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in ("LIVE_ADMIN", "CHANNEL_LAYERS"):
        get_config.cache_clear()
