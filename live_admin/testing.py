"""Helpers for the tests of projects that use live_admin."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .delivery.sender import sender

__all__ = ["capture_broadcasts"]


@contextmanager
def capture_broadcasts() -> Iterator[list[dict[str, Any]]]:
    """Record every message live_admin sends inside the block, in order.

    Each is a message as sent: a dict with ``type``, ``model``, ``action`` and, for one object,
    ``pk`` and ``fields``. Messages go out on commit: in a test wrapped in a transaction, run
    the on-commit callbacks (``TestCase.captureOnCommitCallbacks(execute=True)``, or pytest-django's
    ``django_capture_on_commit_callbacks``).
    """
    captured: list[Any] = []
    sender.captures.append(captured)
    try:
        yield captured
    finally:  # by identity: two captures holding equal messages are still different captures
        sender.captures[:] = [c for c in sender.captures if c is not captured]
