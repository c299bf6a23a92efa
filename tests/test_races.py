"""Two checked saves of one object at the same moment serialise: both changes survive. Run in
processes of their own, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, run_django
from django.db import connection
from postgres import PostgresServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sqlite(tmp_path: Path) -> dict[str, str] | None:
    """The suite's own database when it is SQLite, else a fresh SQLite file."""
    if connection.vendor == "sqlite":
        return None
    return {"LIVE_ADMIN_TEST_PG": "", "LIVE_ADMIN_TEST_DB": str(tmp_path / "race.sqlite3")}


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(free_port())
    yield server
    server.stop()


def race(env: dict[str, str] | None = None, *extra: str) -> dict[str, object]:
    if env:  # a fresh database
        done = run_django("migrate", "--verbosity", "0", env=env, timeout=120)
        assert done.returncode == 0, done.stderr
    done = run_django("race_saves", *extra, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_racing_saves_both_survive_on_sqlite(sqlite: dict[str, str] | None) -> None:
    assert race(sqlite) == {"first": 302, "second": 302, "title": "after", "status": "done"}


def test_racing_saves_both_survive_on_postgresql(postgres: PostgresServer) -> None:
    assert race(postgres.env) == {"first": 302, "second": 302, "title": "after", "status": "done"}


def test_without_the_lock_postgresql_loses_an_update(postgres: PostgresServer) -> None:
    """The race is real: without the row lock the second save reads the row before the first
    commits, and writes its stale title back over the first one's."""
    assert race(postgres.env, "--no-lock")["title"] == "before"


def test_without_the_lock_sqlite_fails_a_save(sqlite: dict[str, str] | None) -> None:
    """On SQLite the same race, unlocked, ends in "database is locked" for one of the two."""
    result = race(sqlite, "--no-lock")
    assert "database is locked" in f"{result['first']} {result['second']}"


def test_a_list_save_waits_for_a_write_in_progress_on_sqlite(
    sqlite: dict[str, str] | None,
) -> None:
    """The rows are locked before the changelist reads anything: SQLite's write lock, taken
    after a read, would refuse at once ("database is locked") instead of waiting."""
    assert race(sqlite, "--list") == {"writer": "committed", "list": 302, "status": "paid"}


def test_ordering_through_a_nullable_relation_locks_on_postgresql(
    postgres: PostgresServer,
) -> None:
    """FOR UPDATE refuses the nullable side of an outer join; the lock reads without ordering."""
    result = race(postgres.env, "--nullable-ordering")
    assert result == {"first": 302, "second": 302, "title": "after", "status": "done"}
