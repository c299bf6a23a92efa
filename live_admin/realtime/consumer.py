"""The websocket consumer: one per live admin page.

The protocol is documented in ``docs/protocol.md``. Every subscription is checked through the
registered ModelAdmin's permission methods before it is granted and re-checked every
``RECHECK_SECONDS`` against a fresh load of the session and user. Sockets hear the channel layer
through their process's :class:`~live_admin.realtime.hub.Hub`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.http import HttpRequest

from .. import protocol as groups
from ..conf import get_config
from ..delivery.sender import get_layer, sender
from ..protocol import (
    BADGE,
    CLOSE_NOT_LOGGED_IN,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_SOCKETS,
    MAX_ID_LENGTH,
    PRESENCE,
    SEEN,
)
from . import replay
from .badges import BadgesPart
from .hub import hub_for
from .layouts import read_layout
from .messages import Bucket, Invalid, allowance, id_of, parsed, size_of, subscribe_message, text
from .permissions import Refused, Subscription, build_request, fresh_user, resolve, user_refusal
from .presence_socket import PresencePart
from .socket import HubSocket
from .subscriptions import told_subscriptions, told_watches

logger = logging.getLogger("live_admin")

#: The handler of each type of message a page may send.
MESSAGES = {
    "subscribe": "_subscribe",
    "unsubscribe": "_unsubscribe",
    "presence": "_presence",
    "watch": "_watch",
    "badges": "badges.ask",
    "ping": "_ping",
}

#: Open sockets per user id in this process (MAX_SOCKETS_PER_USER).
sockets_per_user: Counter[Any] = Counter()


class LiveAdminConsumer(HubSocket):
    """Serves subscriptions to model, object and object-group changes, presence and badges."""

    #: The layer events its parts handle.
    EVENTS = {PRESENCE: "presence.heard", BADGE: "badges.heard_batch", SEEN: "badges.heard_seen"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions: dict[str, Subscription] = {}
        self.session_group: str | None = None
        #: The next re-check while the socket idles, and the one running.
        self.recheck_timer: asyncio.TimerHandle | None = None
        self.recheck_task: asyncio.Task[None] | None = None
        self.session_key: str | None = None
        self.allowed = False
        self.bucket = Bucket(get_config()["RATE_LIMIT"])
        self.allowance = 1
        #: The layouts (see live_admin.pages.rows) of model or group subscriptions, by id.
        self.layouts: dict[str, frozenset[str]] = {}
        self.presence = PresencePart(self, get_layer())
        self.badges = BadgesPart(self)

    # -- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        sender.home_loop = asyncio.get_running_loop()
        await self.accept()
        refusal = user_refusal(self.scope.get("user"))
        if refusal is not None:
            await self.close(refusal)
            return
        user_id = self.user.pk
        if sockets_per_user[user_id] >= get_config()["MAX_SOCKETS_PER_USER"]:
            await self.close(CLOSE_TOO_MANY_SOCKETS)
            return
        sockets_per_user[user_id] += 1
        self.allowed = True
        self.allowance = allowance(self.scope)  # the tabs of a browser, on one socket
        self.bucket = Bucket(get_config()["RATE_LIMIT"] * self.allowance)
        self.presence.start(self.user)
        self.hub = hub_for(self.channel_layer)  # only sockets let in start the process's hub
        self.hub.attach(self)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if self.session_key:
            self.session_group = groups.session_group(self.session_key)
            await self._hub().join(self.session_group, self)
        self._recheck_later()

    def _release_slot(self) -> None:
        if self.allowed:
            self.allowed = False
            user_id = self.user.pk
            sockets_per_user[user_id] -= 1
            if sockets_per_user[user_id] <= 0:
                del sockets_per_user[user_id]

    async def _leave(self) -> None:
        """Leave the socket's groups and the hub; safe to call more than once."""
        hub, self.hub = self.hub, None
        if hub is None:  # refused, or left already
            return
        for pending in (self.recheck_timer, self.recheck_task):
            if pending is not None:
                pending.cancel()
        await self.presence.end()
        self.badges.closing()
        groups_left = [*self.members, self.session_group]
        self.members.clear()
        self.subscriptions.clear()
        self.session_group = None
        for group in groups_left:
            if group is not None:
                await hub.leave(group, self)
        await hub.detach(self)

    # -- client messages ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.allowed:
            return
        if size_of(text_data, bytes_data) > get_config()["MAX_MESSAGE_BYTES"]:
            await self.close(CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            await self.send_error(None, "rate_limited", "Too many messages; slow down.")
            return
        message: Any = None
        try:
            message = parsed(text_data)
            handler = self.handler_named(MESSAGES.get(str(message.get("type")), ""))
            if handler is None:
                raise Invalid("Unknown message type.")
            await handler(message)
        except Invalid as exc:
            await self.send_error(id_of(message), "invalid", str(exc))
        except Refused as exc:
            await self.send_error(id_of(message), exc.code, exc.message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("live_admin: error while handling a websocket message")
            await self.send_error(
                id_of(message), "server_error", "The server could not handle that."
            )

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub_id, label, pk, field, value = subscribe_message(message)
        since = replay.since_of(message)
        if sub_id in self.subscriptions:
            raise Invalid("That id is already subscribed.")
        if len(self.subscriptions) + len(self.presence.watches) >= self.max_subscriptions():
            raise Refused("too_many", "Too many subscriptions on this socket.")
        request = self.request()
        sub = await database_sync_to_async(resolve)(request, sub_id, label, pk, field, value)
        self.subscriptions[sub_id] = sub
        layout = read_layout(message.get("layout"), sub.model) if sub.pk is None else None
        if layout is None:
            self.layouts.pop(sub_id, None)  # left by an ended subscription of that id
        else:
            self.layouts[sub_id] = layout
        for name in sub.groups:
            await self.member(name, sub_id, True)
        self.badges.opening(sub, message)
        # How many sockets this process holds: a page scales its first reconnect window with it.
        told = {"type": "subscribed", "id": sub_id, "sockets": len(self._hub().sockets)}
        await replay.tell_subscribed(self, told, sub, since, self.layouts)

    async def _unsubscribe(self, message: dict[str, Any]) -> None:
        sub_id = text(message, "id", limit=MAX_ID_LENGTH)
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None and not await self.badges.forget(sub_id):  # or a page's badges
            raise Refused("not_found", "No subscription with that id.")
        if sub is not None:
            await self._end(sub)
        await self.send_message({"type": "unsubscribed", "id": sub_id})

    async def _end(self, sub: Subscription) -> None:
        """Undo what ``sub`` holds (once out of ``self.subscriptions``)."""
        await self.presence.stop(sub.id)
        for name in sub.groups:
            await self.member(name, sub.id, False)
        self.layouts.pop(sub.id, None)
        self.badges.closing(sub.id)

    # -- channel-layer events -----------------------------------------------------------------

    async def live_admin_changed(self, event: dict[str, Any]) -> None:
        members = self.members.get(event["group"], ())
        if any(self.subscriptions[m].pk is None for m in members):  # first: the page then
            watches, layouts = self.presence.watches, self.presence.watch_layouts  # knows its
            for told in told_watches(event, watches, layouts):  # rows' part of the change
                await self.send_message(told)
        for told in told_subscriptions(event, members, self.subscriptions, self.layouts):
            await self.send_message(told)

    async def live_admin_logout(self, event: dict[str, Any]) -> None:
        await self.close(CLOSE_NOT_LOGGED_IN)

    async def live_admin_delayed(self, event: dict[str, Any]) -> None:
        # The hub lost the channel layer: the page says its updates are delayed until resync.
        await self.send_message({"type": "delayed"})

    async def live_admin_resync(self, event: dict[str, Any]) -> None:
        # Sent when the layer may have dropped events for this socket (a Redis outage, or
        # more events queued than the client took); the page reloads what it shows.
        await self.send_message({"type": "resync"})
        await self.badges.resync()

    # -- periodic re-checks -------------------------------------------------------------------

    def _recheck_later(self) -> None:
        """A timer while the socket idles: a task asleep would hold 1.3 KB per socket."""
        delay = get_config()["RECHECK_SECONDS"]
        self.recheck_timer = asyncio.get_running_loop().call_later(delay, self._recheck_due)

    def _recheck_due(self) -> None:
        if self.hub is not None:  # still open
            self.recheck_task = asyncio.create_task(self._recheck_then_later())

    async def _recheck_then_later(self) -> None:
        try:
            await self.recheck()
        except Exception:
            logger.exception("live_admin: re-checking a websocket's permissions failed")
        self.recheck_task = None  # a done task held until the next would cost as much again
        if self.hub is not None:
            self._recheck_later()

    async def recheck(self) -> None:
        """Re-load the session's user and drop what they may no longer see."""
        user = await fresh_user(self.session_key)
        refusal = user_refusal(user)
        if refusal is None and user.pk != self.user.pk:
            refusal = CLOSE_NOT_LOGGED_IN
        if refusal is not None:
            await self.close(refusal)
            return
        request = build_request(self.scope, user)
        for sub in list(self.subscriptions.values()):
            try:
                await database_sync_to_async(resolve)(
                    request, sub.id, sub.model, sub.pk, sub.field, sub.value
                )
            except Refused as exc:
                del self.subscriptions[sub.id]
                await self._end(sub)
                await self.send_error(sub.id, exc.code, "Subscription ended: " + exc.message)
        await self.badges.recheck(request)
        await self.presence.recheck(request)

    # -- what the parts use (realtime.socket.Socket) -------------------------------------------

    @property
    def user(self) -> Any:
        """The user the socket was let in for (the scope's, set by channels' auth)."""
        return self.scope["user"]

    def request(self) -> HttpRequest:
        return build_request(self.scope, self.user)

    # -- messages the parts handle --------------------------------------------------------------

    async def _presence(self, message: dict[str, Any]) -> None:
        sub_id = text(message, "id", limit=MAX_ID_LENGTH)
        await self.presence.present(self.subscriptions.get(sub_id), message)

    async def _watch(self, message: dict[str, Any]) -> None:
        await self.presence.watch(message, len(self.subscriptions), self.max_subscriptions())

    def max_subscriptions(self) -> int:
        return int(get_config()["MAX_SUBSCRIPTIONS"]) * self.allowance

    async def _ping(self, message: dict[str, Any]) -> None:
        await self.send_message({"type": "pong"})
