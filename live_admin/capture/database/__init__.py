"""Database capture (``LIVE_ADMIN["CAPTURE"] = "database"``, PostgreSQL): triggers on the live
models' tables notify every committed write, whoever made it (the ORM, ``update()``, raw SQL,
``psql``, another program), and one server process listens and hands the changes on through
the sender, as the observers would. The observers then leave those tables' saves and deletes to
the triggers, so that a change is told once."""

from __future__ import annotations

from django.db import connections

from ...conf import get_config

#: The ``NOTIFY`` channel of the triggers.
CHANNEL = "live_admin"


def enabled() -> bool:
    """Whether the settings ask for database capture."""
    return bool(get_config()["CAPTURE"] == "database")


def in_database(using: str) -> bool:
    """Whether writes on connection ``using`` are captured by triggers (PostgreSQL only)."""
    return enabled() and connections[using].vendor == "postgresql"
