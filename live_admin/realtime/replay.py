"""Catching a page up from its cursor: the changes it missed while it was away, told again as
they were told live, for what it follows now (its subscription, checked again as it was made;
its watched rows). When the history cannot tell them all, the page is told to check what it
shows (``"replay": "whole"``), as every page did before there was a history."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async

from ..delivery.history import Entries, Local, Off, history
from ..protocol import MAX_ID_LENGTH, model_group
from .messages import Invalid
from .permissions import Subscription
from .socket import Socket
from .subscriptions import Object, told_subscriptions, told_watches

logger = logging.getLogger("live_admin")

#: Messages one catch-up may tell; past this, the page checks what it shows instead.
MAX_REPLAYED = 100


def since_of(message: dict[str, Any]) -> str | None:
    """The cursor a message says its page had (``since``), or None."""
    since = message.get("since")
    if since is None:
        return None
    if not isinstance(since, str) or len(since) > MAX_ID_LENGTH:
        raise Invalid(f"'since' must be a cursor of at most {MAX_ID_LENGTH} characters.")
    return since


def _read(label: str, since: str | None) -> tuple[str, Entries | None]:
    kept = history()
    entries = kept.read(label, since) if since else None
    return kept.head(label), entries


async def read(label: str, since: str | None) -> tuple[str, Entries | None]:
    """The cursor of ``label``'s newest change, and the entries after ``since`` (None when they
    are not all known, or not asked). A history that fails knows none: ``("", None)``."""
    try:
        if isinstance(history(), (Local, Off)):  # memory: no thread for it
            return _read(label, since)
        return await sync_to_async(_read, thread_sensitive=False)(label, since)
    except Exception as exc:
        logger.warning("live_admin: reading the history of %s failed: %s", label, exc)
        return "", None


def _answer(told: list[dict[str, Any]] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if told is None or len(told) > MAX_REPLAYED:
        return {"replay": "whole"}, []
    return {"replay": "ok"}, [{**message, "replayed": True} for message in told]


def for_subscription(
    entries: Entries | None, sub: Subscription, layouts: dict[str, frozenset[str]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What ``subscribed`` adds (``replay``), and the ``changed`` messages ``sub`` missed."""
    told: list[dict[str, Any]] | None = [] if entries is not None else None
    for cursor, entry in entries or ():
        if entry is None or told is None:  # a gap: what it held is not known
            told = None
            break
        for group, event in entry:
            if group in sub.groups:
                event = {**event, "cursor": cursor}
                told += told_subscriptions(event, [sub.id], {sub.id: sub}, layouts)
    return _answer(told)


def for_watch(
    entries: Entries | None,
    label: str,
    watches: dict[str, dict[Object, None]],
    layouts: dict[str, frozenset[str]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What ``watching`` adds (``replay``), and the ``changed`` messages of the rows of
    ``watches`` (one watch) that they missed."""
    told: list[dict[str, Any]] | None = [] if entries is not None else None
    group = model_group(label)
    for cursor, entry in entries or ():
        if entry is None or told is None:
            told = None
            break
        for name, event in entry:
            if name == group:
                told += told_watches({**event, "cursor": cursor}, watches, layouts)
    return _answer(told)


async def tell_subscribed(
    socket: Socket,
    told: dict[str, Any],
    sub: Subscription,
    since: str | None,
    layouts: dict[str, frozenset[str]],
) -> None:
    """Send ``subscribed`` (``told``) with the cursor of the model's newest change, then what
    the page missed since ``since``. Read once the subscription's groups are joined: what comes
    after is heard live."""
    cursor, entries = await read(sub.model, since)
    answer, missed = for_subscription(entries, sub, layouts)
    await socket.send_message({**told, "cursor": cursor, **(answer if since else {})})
    for message in missed:
        await socket.send_message(message)


async def tell_watching(
    socket: Socket,
    told: dict[str, Any],
    label: str,
    since: str | None,
    watches: dict[str, dict[Object, None]],
    layouts: dict[str, frozenset[str]],
) -> None:
    """Send ``watching`` (``told``), then what the watched rows missed since ``since``."""
    if since is None:
        await socket.send_message(told)
        return
    _, entries = await read(label, since)
    answer, missed = for_watch(entries, label, watches, layouts)
    await socket.send_message({**told, **answer})
    for message in missed:
        await socket.send_message(message)
