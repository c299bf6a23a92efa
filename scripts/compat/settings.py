"""Django's ``tests/test_sqlite.py`` settings, with a test runner that records every outcome."""

from test_sqlite import *  # noqa: F403

TEST_RUNNER = "compat.runner.RecordingRunner"
