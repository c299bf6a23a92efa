import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproject.settings")
# Static files too: the tabs section (bench/tabs.py) loads pages in Chromium.
django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from benchapp.consumers import DcrfItemConsumer  # noqa: E402
from benchapp.counting import Counted  # noqa: E402
from live_admin.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": Counted(URLRouter([*http_urlpatterns, re_path(r"", django_asgi_app)])),
        "websocket": Counted(
            AllowedHostsOriginValidator(
                AuthMiddlewareStack(
                    URLRouter(
                        [*websocket_urlpatterns, path("ws/dcrf/", DcrfItemConsumer.as_asgi())]
                    )
                )
            )
        ),
    }
)
