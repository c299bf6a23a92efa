"""Onto the channel layer, off the save path: the background worker, the sender, and the change
badges' recorder. A save's thread only queues; nothing here blocks or fails it."""

from __future__ import annotations

from typing import Any

from .badges import record_changes
from .sender import sender

__all__ = ["submit"]


def submit(changes: Any) -> None:
    """Hand one transaction's committed changes (``live_admin.capture.changes.Changes``) to
    the sender and to the badge recorder."""
    sender.send_changes(changes)
    record_changes(changes.badge_batches())
