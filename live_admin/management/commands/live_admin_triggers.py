"""``manage.py live_admin_triggers [status|install|remove]``: database capture's triggers."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from live_admin.capture.database import install


class Command(BaseCommand):
    help = (
        "Show, install or remove the triggers of live_admin's database capture "
        "(LIVE_ADMIN['CAPTURE'] = 'database', PostgreSQL). migrate installs and updates them; "
        "'remove' drops every live_admin trigger, whatever the settings say."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "action", nargs="?", default="status", choices=["status", "install", "remove"]
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="A database alias.")

    def handle(self, *args: Any, action: str, database: str, **options: Any) -> None:
        if connections[database].vendor != "postgresql":
            raise CommandError(f"Database {database!r} is not PostgreSQL: it has no triggers.")
        models = list(apps.get_models())
        if action == "install":
            install.sync(database, models)
        elif action == "remove":
            install.remove(database, models)
        for model, state in install.report(database, models):
            self.stdout.write(f"{model._meta.label:40} {state}")
