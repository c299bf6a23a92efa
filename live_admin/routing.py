"""``websocket_urlpatterns`` for the project's ASGI application."""

from __future__ import annotations

from django.urls import URLPattern, path

from .conf import get_config
from .realtime.consumer import LiveAdminConsumer

websocket_urlpatterns: list[URLPattern] = [
    # Channels' URLRouter takes ASGI applications where Django's stubs expect views.
    path(get_config()["WS_PATH"].lstrip("/"), LiveAdminConsumer.as_asgi(), name="live_admin"),  # type: ignore[arg-type]
]
