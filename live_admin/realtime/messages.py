"""Reading what a page sends: a JSON object of a known type, strings within the protocol's
limits, and no more than ``RATE_LIMIT`` messages a second."""

from __future__ import annotations

import time
from typing import Any

from ..protocol import MAX_ID_LENGTH


class Bucket:
    """A token bucket: ``rate`` messages a second, bursts of up to twice that."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = self.capacity = max(2 * rate, 1)
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Invalid(Exception):
    """A message that does not follow the protocol."""


def text(message: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str | None:
    """``message[key]`` as a string of 1 to ``limit`` characters (an int is read as its digits);
    None when it is missing and not ``required``. Invalid otherwise."""
    value = message.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise Invalid(f"'{key}' must be a non-empty string of at most {limit} characters.")
    return value


def id_of(message: Any) -> str | None:
    """The ``id`` a reply to ``message`` names, if it gave a valid one."""
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    return None
