"""The change-badge part of the live admin socket (see :mod:`live_admin.delivery.badges`).

A page asks once for all the models it shows badges of: ``{"type": "badges", "id": ..,
"models": [..]}``. Each model is checked as a model subscription is (the user may view it, on a
live admin with ``live_badges``), at once and every ``RECHECK_SECONDS``; the socket then follows
the models' badge groups and the user's own group, and tells the page each count that changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.apps import apps
from django.http import HttpRequest

from ..conf import get_config
from ..delivery import badges
from ..protocol import MAX_ID_LENGTH, MAX_MODELS
from ..registry import live_admins
from .messages import Invalid, text
from .permissions import Refused, resolve
from .socket import Socket

logger = logging.getLogger("live_admin")

MEMBER = "badges"
#: How long one read of the badge store may take.
STORE_TIMEOUT = 1.0


def badge_models(request: HttpRequest, labels: list[str]) -> list[str]:
    """Of ``labels``, those whose badges the user may see (as model subscriptions, on an admin
    with ``live_badges``), by their lower-case label."""
    granted: list[str] = []
    for label in labels:
        try:
            sub = resolve(request, MEMBER, label)
        except Refused:
            continue
        shown = any(
            a.live_badges
            and a.admin_site.has_permission(request)
            and a.has_view_permission(request)
            for a in live_admins(apps.get_model(sub.model))
        )
        if shown and sub.model not in granted:
            granted.append(sub.model)
    return granted


def _tallies(user: object, labels: list[str]) -> dict[str, badges.Tally]:
    """The counts of ``labels`` for ``user``; a model they never opened counts from now."""
    latest = badges.latest(labels)
    seen = badges.seen(user, labels)
    out = {}
    for label in labels:
        last_seen = seen[label]
        if last_seen is None or last_seen > latest[label]:  # a store that started again
            last_seen = latest[label]
            badges.set_seen(user, label, last_seen)
        out[label] = _recount(label, last_seen, latest[label])
    return out


def _recount(label: str, seen: int, upto: int) -> badges.Tally:
    tally = badges.Tally(seen, seen)
    tally.add(badges.batches(label, *tally.wanted(upto)), upto)
    return tally


#: Reads of the store in flight, by event loop, model and batches: the sockets of a process that
#: hear one batch read it once.
_reading: dict[tuple[int, str, int, int], asyncio.Future[dict[int, badges.Batch]]] = {}


async def _shared_read(label: str, first: int, last: int) -> dict[int, badges.Batch]:
    key = (id(asyncio.get_running_loop()), label, first, last)
    reading = _reading.get(key)
    if reading is None:
        read = sync_to_async(badges.batches, thread_sensitive=False)
        reading = _reading[key] = asyncio.ensure_future(read(label, first, last))
        reading.add_done_callback(lambda _: _reading.pop(key, None))
    return await asyncio.shield(reading)


def _in_thread(fn: Any, *args: Any) -> Awaitable[Any]:
    """``fn(*args)`` in a worker thread (the store's calls block)."""
    return sync_to_async(fn, thread_sensitive=False)(*args)


class BadgesPart:
    """One socket's change badges. Owned by the consumer; uses it through :class:`Socket`."""

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        #: What each page asked (badge id -> its labels), and the counts of them all.
        self.asked: dict[str, list[str]] = {}
        self.tallies: dict[str, badges.Tally] = {}
        #: Changelists this socket's pages follow (model label -> subscription ids): seen
        #: again when they end, the changes the page showed meanwhile included.
        self.opened: dict[str, set[str]] = {}

    async def ask(self, message: dict[str, Any]) -> None:
        """A ``badges`` message: count the models the page shows badges of (a socket that a
        browser's tabs share hears one per tab, each under its own id)."""
        badge_id = text(message, "id", limit=MAX_ID_LENGTH)
        if badge_id in self.asked:
            raise Invalid("This socket shows badges under that id already.")
        models = message.get("models")
        if not (
            isinstance(models, list)
            and len(models) <= MAX_MODELS
            and all(isinstance(m, str) and 0 < len(m) <= 255 for m in models)
        ):
            raise Invalid(f"'models' must be a list of at most {MAX_MODELS} model labels.")
        user = self.socket.user
        labels: list[str] = []
        if get_config()["BADGES"]:
            request = self.socket.request()
            labels = await database_sync_to_async(badge_models)(request, models)
        self.asked[badge_id] = labels
        new = [label for label in labels if label not in self.tallies]
        await self.socket.member(badges.users_group(user.pk), MEMBER, True)
        for label in new:  # joined first: no batch is stored unheard while counting
            await self.socket.member(badges.model_group(label), MEMBER, True)
        tallies = await self._read_store(_in_thread(_tallies, user.pk, new))
        if tallies is None:
            return
        self.tallies.update(tallies)
        counts = {label: self.tallies[label].told() for label in labels if label in self.tallies}
        await self.socket.send_message({"type": "badges", "id": badge_id, "counts": counts})

    async def forget(self, badge_id: str) -> bool:
        """The page that asked under ``badge_id`` is gone (a tab of a shared socket closed):
        stop counting what no other page shows. Whether it had asked."""
        if self.asked.pop(badge_id, None) is None:
            return False
        shown = {label for labels in self.asked.values() for label in labels}
        for label in [label for label in self.tallies if label not in shown]:
            del self.tallies[label]
            await self.socket.member(badges.model_group(label), MEMBER, False)
        return True

    async def _tell(self, counts: dict[str, Any]) -> None:
        """Tell each page that shows them its part of ``counts``."""
        for badge_id, labels in self.asked.items():
            told = {label: counts[label] for label in labels if label in counts}
            if told:
                await self.socket.send_message({"type": "badges", "id": badge_id, "counts": told})

    async def heard_batch(self, event: dict[str, Any]) -> None:
        """A batch of a model's changes was stored: count it."""
        label, tally, number = event["model"], self.tallies.get(event["model"]), event["seq"]
        if tally is None or (number <= tally.read and number not in tally.pending):
            return
        upto = max(number, tally.read)
        found = await self._read_store(_shared_read(label, *tally.wanted(upto)))
        if found is not None and self.tallies.get(label) is tally:  # not ended by a re-check
            before = tally.told()
            tally.add(found, upto)
            await self._tell_count(label, before)

    async def heard_seen(self, event: dict[str, Any]) -> None:
        """The user opened a changelist (on any page): count that model from there."""
        label, tally = event["model"], self.tallies.get(event["model"])
        if tally is None or event["seq"] <= tally.seen:  # an older one, overtaken
            return
        upto = max(tally.read, event["seq"])
        fresh = await self._read_store(_in_thread(_recount, label, event["seq"], upto))
        if fresh is not None and self.tallies.get(label) is tally:
            self.tallies[label] = fresh
            await self._tell_count(label, tally.told())

    async def resync(self) -> None:
        """Count again from the store: the layer may have lost badge or seen messages."""
        if not self.tallies:
            return
        before = {label: tally.told() for label, tally in self.tallies.items()}
        user = self.socket.user.pk
        fresh = await self._read_store(_in_thread(_tallies, user, list(before)))
        if fresh is None:
            return
        for label, tally in fresh.items():
            if label in self.tallies:
                self.tallies[label] = tally
                await self._tell_count(label, before[label])

    async def _tell_count(self, label: str, before: dict[str, Any]) -> None:
        tally = self.tallies.get(label)
        if tally is not None and tally.told() != before:
            await self._tell({label: tally.told()})

    async def _read_store(self, read: Awaitable[Any]) -> Any:
        """``read`` of the store, within STORE_TIMEOUT. A store that fails or hangs ends the
        socket's badges (the page is told ``unavailable``), so it never holds up the socket's
        other messages for longer than that once."""
        try:
            return await asyncio.wait_for(read, STORE_TIMEOUT)
        except Exception as exc:  # time-outs included
            logger.warning("live_admin: reading the badge store failed: %r", exc)
            self.tallies = {}
            message = "Change badges are not available."
            for badge_id in self.asked:
                await self.socket.send_error(badge_id, "unavailable", message)
            return None

    # -- changelists: what opening one clears ------------------------------------------------

    def opening(self, sub: Any, message: dict[str, Any]) -> None:
        """A subscription of a changelist page (``"seen": true``) marks its model seen."""
        if sub.pk is None and message.get("seen") is True and get_config()["BADGES"]:
            self.opened.setdefault(sub.model, set()).add(sub.id)
            badges.recorder.opened(self.socket.user.pk, sub.model)

    def closing(self, sub_id: str | None = None) -> None:
        """A changelist subscription (``sub_id``; all of them when None) ended."""
        for label, ids in list(self.opened.items()):
            if sub_id is None:
                ids.clear()
            ids.discard(sub_id or "")
            if not ids:
                del self.opened[label]
                badges.recorder.opened(self.socket.user.pk, label)

    async def recheck(self, request: HttpRequest) -> None:
        """Stop counting the models the user may no longer see, and tell the page which."""
        if not self.tallies:
            return
        labels = list(self.tallies)
        kept = set(await database_sync_to_async(badge_models)(request, labels))
        gone = {label: None for label in labels if label not in kept}
        for label in gone:
            del self.tallies[label]
            await self.socket.member(badges.model_group(label), MEMBER, False)
        if gone:
            await self._tell(gone)
