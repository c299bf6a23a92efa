"""The system checks of database capture: a valid ``CAPTURE``, what ``"database"`` needs, and
triggers missing or out of date (``check --deploy --database default``: not before ``migrate``,
which installs them; a server's listener also logs it when it starts)."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning

from ...checks import register
from ...conf import CAPTURE_MODES, get_config
from . import enabled

POSTGRES = "django.db.backends.postgresql"


@register()
def check_capture(**kwargs: Any) -> list[CheckMessage]:
    mode = get_config()["CAPTURE"]
    if not isinstance(mode, str):
        return []  # E003 says so
    if mode not in CAPTURE_MODES:
        return [
            Error(
                f"LIVE_ADMIN['CAPTURE'] is {mode!r}; it must be 'signals' or 'database'. Until "
                "fixed, writes are captured by signals.",
                hint="The default is 'signals'.",
                id="live_admin.E018",
            )
        ]
    if not enabled():
        return []
    engines = {db.get("ENGINE") for db in settings.DATABASES.values()}
    if POSTGRES not in engines:
        return [
            Error(
                "LIVE_ADMIN['CAPTURE'] is 'database', but no database is PostgreSQL.",
                hint="Database capture uses PostgreSQL's triggers and LISTEN. Keep 'signals' on "
                "other databases.",
                id="live_admin.E019",
            )
        ]
    missing = [name for name in ("psycopg", "pgtrigger") if find_spec(name) is None]
    if missing:
        return [
            Error(
                "LIVE_ADMIN['CAPTURE'] is 'database', but "
                + " and ".join(
                    {"psycopg": "psycopg 3", "pgtrigger": "django-pgtrigger"}[m] for m in missing
                )
                + " is not installed. Until fixed, only the ORM's signalled saves reach pages.",
                hint='pip install "django-live-admin[postgres]"',
                id="live_admin.E020",
            )
        ]
    return []


@register(Tags.database, deploy=True)
def check_triggers(databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from .install import not_installed

    if not databases or not enabled() or check_capture():
        return []
    return [
        Warning(
            f"The live_admin triggers of {model._meta.label} on database {using!r} are "
            f"{found.lower()}: writes outside the ORM's signals do not reach its pages.",
            hint="Run manage.py migrate: it installs and updates them.",
            obj=model,
            id="live_admin.W012",
        )
        for using in databases
        for model, found in not_installed(using)
    ]
