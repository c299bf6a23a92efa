from __future__ import annotations

from django.apps import AppConfig


class LiveAdminConfig(AppConfig):
    name = "live_admin"
    verbose_name = "Live admin"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from . import checks  # noqa: F401  (registers the system checks)
        from .broadcast import logged_out

        user_logged_out.connect(logged_out, dispatch_uid="live_admin.logged_out")
