"""Reading what a page sends: a JSON object of a known type, strings within the protocol's
limits, and no more than ``RATE_LIMIT`` messages a second."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from ..protocol import MAX_ID_LENGTH, MAX_VALUE_LENGTH


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


def optional_text(message: dict[str, Any], key: str, *, limit: int) -> str | None:
    """As :func:`text`, but None when ``message`` has no ``key``."""
    return None if message.get(key) is None else text(message, key, limit=limit)


def text(message: dict[str, Any], key: str, *, limit: int) -> str:
    """``message[key]`` as a string of 1 to ``limit`` characters (an int is read as its digits);
    Invalid otherwise."""
    value = message.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise Invalid(f"'{key}' must be a non-empty string of at most {limit} characters.")
    return value


def subscribe_message(
    message: dict[str, Any],
) -> tuple[str, str, str | None, str | None, str | None]:
    """A ``subscribe`` message's id, model, pk, and object group's field and value."""
    sub_id = text(message, "id", limit=MAX_ID_LENGTH)
    label = text(message, "model", limit=MAX_VALUE_LENGTH)
    pk = optional_text(message, "pk", limit=MAX_VALUE_LENGTH)
    group = message.get("group")
    if group is None:
        return sub_id, label, pk, None, None
    if pk is not None or not isinstance(group, dict):
        raise Invalid("'group' must be an object, and cannot be given with 'pk'.")
    field = text(group, "field", limit=MAX_VALUE_LENGTH)
    return sub_id, label, None, field, optional_text(group, "value", limit=MAX_VALUE_LENGTH)


def id_of(message: Any) -> str | None:
    """The ``id`` a reply to ``message`` names, if it gave a valid one."""
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    return None


def size_of(text_data: str | None, bytes_data: bytes | None) -> int:
    """A frame's size in bytes, as the page sent it."""
    if text_data is None:
        return len(bytes_data or b"")
    return len(text_data.encode("utf-8", "replace"))


def parsed(text_data: str | None) -> dict[str, Any]:
    """A page's message; Invalid, saying why, if it is not one."""
    if text_data is None:
        raise Invalid("Send JSON text frames.")
    try:
        message = json.loads(text_data)
    except ValueError:
        raise Invalid("Not valid JSON.") from None
    except RecursionError:  # nesting deeper than the interpreter's recursion limit
        raise Invalid("Nested too deeply.") from None
    if not isinstance(message, dict):
        raise Invalid("A message must be a JSON object.")
    return message


def allowance(scope: Any) -> int:
    """How many sockets' limits (``MAX_SUBSCRIPTIONS``, ``RATE_LIMIT``) one socket has: a
    socket that a browser's tabs share (``?shared=1``) has the user's whole
    ``MAX_SOCKETS_PER_USER``, what their tabs' own sockets would have had together."""
    from ..conf import get_config

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return int(get_config()["MAX_SOCKETS_PER_USER"]) if query.get("shared") == ["1"] else 1
