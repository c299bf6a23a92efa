"""The websocket consumer: one per live admin page.

The protocol is documented in ``docs/protocol.md``. Every subscription is checked through the
registered ModelAdmin's permission methods before it is granted and re-checked every
``RECHECK_SECONDS`` against a fresh load of the session and user. Sockets hear the channel layer
through their process's :class:`~live_admin.hub.Hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, deque
from importlib import import_module
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest

from . import groups
from .badge_socket import BadgeHandlers
from .conf import get_config
from .hub import Hub, hub_for
from .permissions import Refused, Subscription, build_request, resolve, watchable
from .presence import PresenceHandlers
from .rows import all_in_place, in_place, read_layout
from .sender import get_layer, sender

logger = logging.getLogger("live_admin")

#: Close codes (also in the docs).
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_NOT_ALLOWED = 4403
CLOSE_TOO_MANY_SOCKETS = 4429
CLOSE_TOO_BIG = 4009

#: Open sockets per user id in this process (MAX_SOCKETS_PER_USER).
_sockets_per_user: Counter[Any] = Counter()

MAX_ID_LENGTH = 64
MAX_VALUE_LENGTH = 255
#: Events waiting for a socket that is slow to take them; past this, one resync replaces them.
MAX_QUEUED_EVENTS = 1000


class _Bucket:
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


def _user_allowed(user: Any) -> int | None:
    """The close code that refuses ``user``, or None when they may connect."""
    if user is None or not user.is_authenticated:
        return CLOSE_NOT_LOGGED_IN
    if not (user.is_active and user.is_staff):
        return CLOSE_NOT_ALLOWED
    return None


@database_sync_to_async
def _fresh_user(session_key: str | None) -> Any:
    """The session's user as stored now (anonymous when the session ended or was invalidated)."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(request)


def _text(message: dict[str, Any], key: str, *, limit: int, required: bool = True) -> str | None:
    value = message.get(key)
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise Invalid(f"'{key}' must be a non-empty string of at most {limit} characters.")
    return value


class LiveAdminConsumer(BadgeHandlers, PresenceHandlers, AsyncWebsocketConsumer):
    """Serves subscriptions to model, object and object-group changes, presence and badges."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions: dict[str, Subscription] = {}
        self.members: dict[str, set[str]] = {}
        self.session_group: str | None = None
        self.recheck_task: asyncio.Task[None] | None = None
        self.session_key: str | None = None
        self.allowed = False
        self.bucket = _Bucket(get_config()["RATE_LIMIT"])
        #: Layer events the hub handed over, waiting for this socket's loop.
        self.inbox: deque[dict[str, Any]] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.hub: Hub | None = None
        self.present_on: dict[str, tuple[str, str]] = {}
        self.watches: dict[str, dict[tuple[str, str], None]] = {}
        self.telling: set[tuple[str, str]] = set()
        self.telling_tasks: set[asyncio.Task[None]] = set()
        self.said_at: dict[tuple[str, str], float] = {}
        #: The layouts (see live_admin.rows) pages gave: of model or group subscriptions, and
        #: of watches, by id.
        self.layouts: dict[str, frozenset[str]] = {}
        self.watch_layouts: dict[str, frozenset[str]] = {}
        #: Held while a watch changes (a page's watch, or a re-check's narrowing of one).
        self.watch_lock = asyncio.Lock()
        self._start_badges()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # As channels' AsyncConsumer.__call__, but with layer events handed over by the
        # process's hub (attached in connect, once the socket is let in) instead of a layer
        # channel of the socket's own.
        self.scope = scope
        self.channel_layer = get_layer()
        self.base_send = send
        loop = asyncio.get_running_loop()
        incoming = asyncio.ensure_future(receive())
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    if not self.inbox and not incoming.done():
                        self.waiter = loop.create_future()
                        await asyncio.wait([incoming, self.waiter], return_when="FIRST_COMPLETED")
                        self.waiter = None
                    if incoming.done():
                        message = incoming.result()
                        incoming = asyncio.ensure_future(receive())
                        await self.dispatch(message)
                    while self.inbox:
                        await self.dispatch(self.inbox.popleft())
        finally:  # however the socket ends: closed, crashed, or cancelled without a disconnect
            incoming.cancel()
            self._release_slot()
            # Shielded: daphne cancels an application that takes longer than its
            # application_close_timeout to end (thousands of sockets closing at once), and the
            # groups must still be left.
            await asyncio.shield(self._leave())

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue a layer event for this socket (called by the hub, never blocks)."""
        if len(self.inbox) >= MAX_QUEUED_EVENTS:  # the client is not keeping up
            self.inbox.clear()
            self.inbox.append({"type": "live_admin.resync"})
        self.inbox.append(event)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' own dispatch first closes stale database connections on its sync thread,
        # a thread hop for every message: for a change fanned out to a thousand sockets, a
        # thousand hops in a row on one thread. Nothing here touches the database outside
        # database_sync_to_async, which does that clean-up itself, so the hop is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # As channels' own, without its thread hop (see dispatch); this consumer keeps no
        # class-level ``groups``, and leaves its own when __call__ ends.
        await self.disconnect(message.get("code", 1000))
        raise StopConsumer

    # -- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        sender.home_loop = asyncio.get_running_loop()
        await self.accept()
        refusal = _user_allowed(self.scope.get("user"))
        if refusal is not None:
            await self.close(refusal)
            return
        user_id = self.scope["user"].pk
        if _sockets_per_user[user_id] >= get_config()["MAX_SOCKETS_PER_USER"]:
            await self.close(CLOSE_TOO_MANY_SOCKETS)
            return
        _sockets_per_user[user_id] += 1
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
            _sockets_per_user[user_id] -= 1
            if _sockets_per_user[user_id] <= 0:
                del _sockets_per_user[user_id]

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
            await self._error(_id_of(message), "invalid", str(exc))
        except Refused as exc:
            await self._error(_id_of(message), exc.code, exc.message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("live_admin: error while handling a websocket message")
            await self._error(_id_of(message), "server_error", "The server could not handle that.")

    async def _subscribe(self, message: dict[str, Any]) -> None:
        sub_id = _text(message, "id", limit=MAX_ID_LENGTH)
        assert sub_id is not None
        if sub_id in self.subscriptions:
            raise Invalid("That id is already subscribed.")
        label = _text(message, "model", limit=MAX_VALUE_LENGTH)
        pk = _text(message, "pk", limit=MAX_VALUE_LENGTH, required=False)
        group = message.get("group")
        field = value = None
        if group is not None:
            if pk is not None or not isinstance(group, dict):
                raise Invalid("'group' must be an object, and cannot be given with 'pk'.")
            field = _text(group, "field", limit=MAX_VALUE_LENGTH)
            value = _text(group, "value", limit=MAX_VALUE_LENGTH, required=False)
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
        sub_id = _text(message, "id", limit=MAX_ID_LENGTH)
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
        members = sorted(self.members.get(event["group"], ()))
        if any(self.subscriptions[m].pk is None for m in members):
            await self._rows_changed(event)  # first: the page then knows its rows' part
        for sub_id in members:
            sub = self.subscriptions[sub_id]
            out = {
                "type": "changed",
                "id": sub_id,
                "model": event["model"],
                "action": event["action"],
                "count": event.get("count", 1),
                "origin": event.get("origin"),
            }
            if sub.pk is not None:
                out["pk"] = sub.pk
                out["fields"] = event.get("fields") or []
                out["by"] = event.get("by")
                out["at"] = event.get("at")
            elif sub_id in self.layouts:
                out["in_place"] = all_in_place(event, self.layouts[sub_id])
            await self._send(out)

    async def _rows_changed(self, event: dict[str, Any]) -> None:
        """Tell each watch the changes of its rows, from a model or group message's objects
        (one message for both, so a page hears a change of its rows and of its list at once)."""
        objects = event.get("objects") or {}
        label = event["model"]
        for watch_id, watched in list(self.watches.items()):  # a re-check may end one meanwhile
            layout = self.watch_layouts.get(watch_id)
            for pk, obj in objects.items():  # at most MAX_OBJECTS; a watch is an ordered set
                if (label, pk) not in watched:
                    continue
                out = {
                    "type": "changed",
                    "id": watch_id,
                    "model": label,
                    "action": obj["action"],
                    "count": 1,
                    "origin": obj["origin"],
                    "pk": pk,
                    "fields": obj["fields"],
                    "by": obj["by"],
                    "at": event.get("at"),
                }
                if layout is not None:
                    out["in_place"] = in_place(obj, layout)
                await self._send(out)

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
        user = await _fresh_user(self.session_key)
        refusal = _user_allowed(user)
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

    def _hub(self) -> Hub:
        assert self.hub is not None, "only a socket that was let in has a hub"
        return self.hub

    async def _send(self, content: dict[str, Any]) -> None:
        try:
            await self.send(text_data=json.dumps(content))
        except Exception as exc:  # the client went away mid-send: end this consumer cleanly
            logger.debug("live_admin: sending to a closed socket failed: %s", exc)
            raise StopConsumer from exc

    async def _error(self, sub_id: str | None, code: str, message: str) -> None:
        await self._send({"type": "error", "id": sub_id, "code": code, "message": message})


def _id_of(message: Any) -> str | None:
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    return None
