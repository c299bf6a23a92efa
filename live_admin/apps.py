from __future__ import annotations

from django.apps import AppConfig, apps


class LiveAdminConfig(AppConfig):
    name = "live_admin"
    verbose_name = "Live admin"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers the system checks)
        from .capture.database import checks as capture_checks  # noqa: F401
        from .capture.database import install, marks
        from .conflicts import checks as action_checks  # noqa: F401
        from .delivery.sender import logged_out
        from .pages import checks as admin_checks  # noqa: F401
        from .pages.by_settings import apply, entries
        from .pages.mixin import prepare_registered
        from .realtime import checks as server_checks  # noqa: F401

        user_logged_out.connect(logged_out, dispatch_uid="live_admin.logged_out")
        _discover_admins()
        if entries():
            apply()
        prepare_registered()
        # Database capture (CAPTURE = "database"): mark writes, install triggers on migrate.
        connection_created.connect(marks.install, dispatch_uid="live_admin.marks")
        post_migrate.connect(install.after_migrate, dispatch_uid="live_admin.triggers")


def _discover_admins() -> None:
    """Import the apps' admin modules now, as the admin's own ``ready()`` does (a no-op when it
    ran first), so that LIVE_ADMIN["MODELS"] and the observers find their registrations in
    every process, workers included. Under the admin's ``SimpleAdminConfig`` the project
    registers by hand; nothing is imported for it."""
    from django.contrib.admin import autodiscover
    from django.contrib.admin.apps import AdminConfig

    for config in apps.get_app_configs():
        if isinstance(config, AdminConfig):
            autodiscover()
            return
