"""Ports for the servers the tests start (Redis, daphne, uvicorn, PostgreSQL)."""

from __future__ import annotations

import itertools
import os
import random
import socket

#: Below Linux's ephemeral range (32768-60999), so that no outgoing connection takes a port
#: between its choice and its server's start. ``LIVE_ADMIN_TEST_PORTS`` ("FIRST-LAST") gives each
#: of the suites that `make test` runs side by side a range of its own.
FIRST, LAST = map(int, os.environ.get("LIVE_ADMIN_TEST_PORTS", "20000-32767").split("-"))
_turn = itertools.count(random.randrange(LAST - FIRST + 1))


def free_port() -> int:
    """A port of the range that nothing listens on, taken in turn: never the same twice running."""
    for _ in range(LAST - FIRST + 1):
        port = FIRST + next(_turn) % (LAST - FIRST + 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {FIRST}-{LAST} (LIVE_ADMIN_TEST_PORTS)")
