"""Django's ``tests/test_sqlite.py`` settings, with a test runner that records every outcome."""

import os

from test_sqlite import *  # noqa: F403

TEST_RUNNER = "compat.runner.RecordingRunner"

# The admin's browser tests: a database file per alias (COMPAT_DB_DIR), so that the live
# server's threads have connections of their own. An in-memory database is one connection shared
# by every thread, and a request still in flight when a test ends (a page's reconnect) deadlocks
# the test's teardown on it.
if os.environ.get("COMPAT_DB_DIR"):
    for alias, database in DATABASES.items():  # noqa: F405
        name = os.path.join(os.environ["COMPAT_DB_DIR"], f"{alias}.sqlite3")
        database["TEST"] = {**database.get("TEST", {}), "NAME": name}
