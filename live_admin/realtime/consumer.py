"""The websocket consumer: one per live admin page.

The protocol is documented in ``docs/protocol.md``. Every subscription is checked through the
registered ModelAdmin's permission methods before it is granted and re-checked every
``RECHECK_SECONDS`` against a fresh load of the session and user. Sockets hear the channel layer
through their process's :class:`~live_admin.realtime.hub.Hub`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer

from .. import protocol as groups
from ..conf import get_config
from ..delivery.sender import sender
from ..protocol import (
    CLOSE_NOT_LOGGED_IN,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_SOCKETS,
    MAX_ID_LENGTH,
    MAX_VALUE_LENGTH,
)
from .badges import BadgeHandlers
from .hub import hub_for
from .layouts import read_layout
from .messages import Bucket, Invalid, id_of, text
from .permissions import (
    Refused,
    Subscription,
    build_request,
    fresh_user,
    resolve,
    user_refusal,
    watchable,
)
from .presence_socket import PresenceHandlers
from .socket import HubSocket
from .subscriptions import told_subscriptions, told_watches

logger = logging.getLogger("live_admin")

#: Open sockets per user id in this process (MAX_SOCKETS_PER_USER).
sockets_per_user: Counter[Any] = Counter()


class LiveAdminConsumer(BadgeHandlers, PresenceHandlers, HubSocket):
    """Serves subscriptions to model, object and object-group changes, presence and badges."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions: dict[str, Subscription] = {}
        self.members: dict[str, set[str]] = {}
        self.session_group: str | None = None
        self.recheck_task: asyncio.Task[None] | None = None
        self.session_key: str | None = None
        self.allowed = False
        self.bucket = Bucket(get_config()["RATE_LIMIT"])
        self.present_on: dict[str, tuple[str, str]] = {}
        self.watches: dict[str, dict[tuple[str, str], None]] = {}
        self.telling: set[tuple[str, str]] = set()
        self.telling_tasks: set[asyncio.Task[None]] = set()
        self.said_at: dict[tuple[str, str], float] = {}
        #: The layouts (see live_admin.pages.rows) pages gave: of model or group subscriptions, and
        #: of watches, by id.
        self.layouts: dict[str, frozenset[str]] = {}
        self.watch_layouts: dict[str, frozenset[str]] = {}
        #: Held while a watch changes (a page's watch, or a re-check's narrowing of one).
        self.watch_lock = asyncio.Lock()
        self._start_badges()

    # -- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        sender.home_loop = asyncio.get_running_loop()
        await self.accept()
        refusal = user_refusal(self.scope.get("user"))
        if refusal is not None:
            await self.close(refusal)
            return
        user_id = self.scope["user"].pk
        if sockets_per_user[user_id] >= get_config()["MAX_SOCKETS_PER_USER"]:
            await self.close(CLOSE_TOO_MANY_SOCKETS)
            return
        sockets_per_user[user_id] += 1
        self.allowed = True
        self._start_presence(self.scope["user"])
        self.hub = hub_for(self.channel_layer)  # only sockets let in start the process's hub
        self.hub.attach(self)
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if self.session_key:
            self.session_group = groups.session_group(self.session_key)
            await self._hub().join(self.session_group, self)
        self.recheck_task = asyncio.create_task(self._recheck_forever())

    def _release_slot(self) -> None:
        if self.allowed:
            self.allowed = False
            user_id = self.scope["user"].pk
            sockets_per_user[user_id] -= 1
            if sockets_per_user[user_id] <= 0:
                del sockets_per_user[user_id]

    async def _leave(self) -> None:
        """Leave the socket's groups and the hub; safe to call more than once."""
        hub, self.hub = self.hub, None
        if hub is None:  # refused, or left already
            return
        if self.recheck_task is not None:
            self.recheck_task.cancel()
        await self._end_presence()
        self._closing()
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
        config = get_config()
        size = len(bytes_data) if text_data is None else len(text_data.encode("utf-8", "replace"))
        if size > config["MAX_MESSAGE_BYTES"]:
            await self.close(CLOSE_TOO_BIG)
            return
        if not self.bucket.take():
            await self._error(None, "rate_limited", "Too many messages; slow down.")
            return
        message: Any = None
        try:
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
            kind = message.get("type")
            if kind == "subscribe":
                await self._subscribe(message)
            elif kind == "unsubscribe":
                await self._unsubscribe(message)
            elif kind == "presence":
                await self._presence(message)
            elif kind == "watch":
                await self._watch(message)
            elif kind == "badges":
                await self._badges(message)
            elif kind == "ping":
                await self._send({"type": "pong"})
            else:
                raise Invalid("Unknown message type.")
        except Invalid as exc:
            await self._error(id_of(message), "invalid", str(exc))
        except Refused as exc:
            await self._error(id_of(message), exc.code, exc.message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("live_admin: error while handling a websocket message")
            await self._error(id_of(message), "server_error", "The server could not handle that.")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub_id = text(message, "id", limit=MAX_ID_LENGTH)
        assert sub_id is not None
        if sub_id in self.subscriptions:
            raise Invalid("That id is already subscribed.")
        label = text(message, "model", limit=MAX_VALUE_LENGTH)
        pk = text(message, "pk", limit=MAX_VALUE_LENGTH, required=False)
        group = message.get("group")
        field = value = None
        if group is not None:
            if pk is not None or not isinstance(group, dict):
                raise Invalid("'group' must be an object, and cannot be given with 'pk'.")
            field = text(group, "field", limit=MAX_VALUE_LENGTH)
            value = text(group, "value", limit=MAX_VALUE_LENGTH, required=False)
        if len(self.subscriptions) + len(self.watches) >= get_config()["MAX_SUBSCRIPTIONS"]:
            raise Refused("too_many", "Too many subscriptions on this socket.")
        request = build_request(self.scope, self.scope["user"])
        sub = await database_sync_to_async(resolve)(request, sub_id, label, pk, field, value)
        self.subscriptions[sub_id] = sub
        layout = read_layout(message.get("layout"), sub.model) if sub.pk is None else None
        if layout is None:
            self.layouts.pop(sub_id, None)  # left by an ended subscription of that id
        else:
            self.layouts[sub_id] = layout
        for name in sub.groups:
            if name not in self.members:
                self.members[name] = set()
                await self._hub().join(name, self)
            self.members[name].add(sub_id)
        self._opening(sub, message)
        # How many sockets this process holds: a page scales its first reconnect window with it.
        sockets = len(self._hub().sockets)
        await self._send({"type": "subscribed", "id": sub_id, "sockets": sockets})

    async def _unsubscribe(self, message: dict[str, Any]) -> None:
        sub_id = text(message, "id", limit=MAX_ID_LENGTH)
        sub = self.subscriptions.pop(sub_id or "", None)
        if sub is None:
            raise Refused("not_found", "No subscription with that id.")
        await self._stop_presence(sub.id)
        await self._drop_groups(sub)
        self.layouts.pop(sub.id, None)
        self._closing(sub.id)
        await self._send({"type": "unsubscribed", "id": sub_id})

    async def _drop_groups(self, sub: Subscription) -> None:
        for name in sub.groups:
            members = self.members[name]
            members.discard(sub.id)
            if not members:
                del self.members[name]
                await self._hub().leave(name, self)

    # -- channel-layer events -----------------------------------------------------------------

    async def live_admin_changed(self, event: dict[str, Any]) -> None:
        members = self.members.get(event["group"], ())
        if any(self.subscriptions[m].pk is None for m in members):  # first: the page then
            for told in told_watches(event, self.watches, self.watch_layouts):  # knows its rows
                await self._send(told)
        for told in told_subscriptions(event, members, self.subscriptions, self.layouts):
            await self._send(told)

    async def live_admin_logout(self, event: dict[str, Any]) -> None:
        await self.close(CLOSE_NOT_LOGGED_IN)

    async def live_admin_resync(self, event: dict[str, Any]) -> None:
        # Sent when the layer may have dropped events for this socket (a Redis outage, or
        # more events queued than the client took); the page reloads what it shows.
        await self._send({"type": "resync"})
        await self._resync_badges()

    # -- periodic re-checks -------------------------------------------------------------------

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(get_config()["RECHECK_SECONDS"])
            try:
                await self.recheck()
            except Exception:
                logger.exception("live_admin: re-checking a websocket's permissions failed")

    async def recheck(self) -> None:
        """Re-load the session's user and drop what they may no longer see."""
        user = await fresh_user(self.session_key)
        refusal = user_refusal(user)
        if refusal is None and user.pk != self.scope["user"].pk:
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
                await self._stop_presence(sub.id)
                await self._drop_groups(sub)
                self._closing(sub.id)
                await self._error(sub.id, exc.code, "Subscription ended: " + exc.message)
        await self._recheck_badges(request)
        for watch_id, objects in list(self.watches.items()):
            label, pks = next(iter(objects))[0], [pk for _, pk in objects]
            try:
                _, granted = await database_sync_to_async(watchable)(request, label, pks)
            except Refused:
                granted = []
            if len(granted) == len(pks):
                continue
            async with self.watch_lock:  # rows the user may no longer see: told which remain
                if self.watches.get(watch_id) is not objects:
                    continue  # the page watched other rows meanwhile, checked as it did
                await self._set_watch(watch_id, tuple((label, pk) for pk in granted))
                await self._send({"type": "watching", "id": watch_id, "pks": granted})

    # -- helpers ------------------------------------------------------------------------------
