"""``websocket_urlpatterns`` and ``http_urlpatterns`` for the project's ASGI application.

``http_urlpatterns`` serves the fallback transport (an event stream and its POSTs, for pages
whose websocket a proxy blocks); put it before Django's own application::

    "http": URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)]),
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from django.urls import URLPattern, path

from .conf import get_config
from .realtime.consumer import LiveAdminConsumer
from .realtime.stream import StreamEndpoint

websocket_urlpatterns: list[URLPattern] = [
    # Channels' URLRouter takes ASGI applications where Django's stubs expect views.
    path(get_config()["WS_PATH"].lstrip("/"), LiveAdminConsumer.as_asgi(), name="live_admin"),  # type: ignore[arg-type]
]

http_urlpatterns: list[URLPattern] = [
    # With the session and user in its scope, as the websocket route's AuthMiddlewareStack gives.
    path(
        get_config()["STREAM_PATH"].lstrip("/"),
        AuthMiddlewareStack(StreamEndpoint()),  # type: ignore[arg-type]
        name="live_admin_stream",
    ),
]
