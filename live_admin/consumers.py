"""The websocket consumer: one per live admin page.

The protocol is documented in ``docs/protocol.md``. Every subscription is checked through the
registered ModelAdmin's permission methods before it is granted, re-checked every
``RECHECK_SECONDS`` against a fresh load of the session and user, and the socket's groups are
re-joined at the same pace (Redis restarts and ``group_expiry`` forget memberships).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
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
from .conf import get_config
from .permissions import Refused, Subscription, build_request, resolve
from .sender import Throttled, get_layer, sender

logger = logging.getLogger("live_admin")

#: Close codes (also in the docs).
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_NOT_ALLOWED = 4403
CLOSE_TOO_MANY_SOCKETS = 4429
CLOSE_TOO_BIG = 1009

#: Open sockets per user id in this process (MAX_SOCKETS_PER_USER).
_sockets_per_user: Counter[Any] = Counter()

MAX_ID_LENGTH = 64
MAX_RECEIVE_BACKOFF = 2.0
LOCAL_STOP_SECONDS = 1.0
STOP_RECEIVING_SECONDS = 5.0
#: Concurrent group joins and leaves of all sockets of one process (see _layer_slots).
MAX_LAYER_CALLS = 50
#: How long a closed socket's channel may still be sent a message that was already on its way.
STRAY_SECONDS = 60.0
MAX_VALUE_LENGTH = 255


_slots_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _layer_slots() -> asyncio.Semaphore:
    """The slots for group joins and leaves in this event loop.

    Each call holds a Redis connection while it runs: thousands of sockets opening or closing at
    once (a restart, a proxy dropping them all) would otherwise ask the pool for thousands of
    connections, and redis-py fails the calls beyond its ``max_connections``.
    """
    loop = asyncio.get_running_loop()
    slots = _slots_by_loop.get(loop)
    if slots is None:
        slots = _slots_by_loop[loop] = asyncio.Semaphore(MAX_LAYER_CALLS)
    return slots


class _StrayBuffers:
    """Drops channels-redis buffers made for sockets that had already closed.

    A message on its way to a socket as it closes is routed, once read, to a buffer nobody
    reads. Each closed channel is remembered for STRAY_SECONDS, then its buffer is dropped.
    """

    def __init__(self) -> None:
        self.closed: deque[tuple[float, dict[str, Any], str]] = deque()

    def ended(self, buffers: dict[str, Any], channel: str) -> None:
        now = time.monotonic()
        self.closed.append((now, buffers, channel))
        while self.closed and now - self.closed[0][0] > STRAY_SECONDS:
            _, old_buffers, old_channel = self.closed.popleft()
            old_buffers.pop(old_channel, None)


_strays = _StrayBuffers()


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


class LiveAdminConsumer(AsyncWebsocketConsumer):
    """Serves subscriptions to model, object and object-group changes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscriptions: dict[str, Subscription] = {}
        self.members: dict[str, set[str]] = {}
        self.session_group: str | None = None
        self.recheck_task: asyncio.Task[None] | None = None
        self.rejoin_task: asyncio.Task[None] | None = None
        self.rejoin_needed = False
        #: The layer receive a closing socket waits on (see _stop_receiving).
        self.pending_receive: asyncio.Future[dict[str, Any]] | None = None
        self.session_key: str | None = None
        self.allowed = False
        self.bucket = _Bucket(get_config()["RATE_LIMIT"])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # As channels' AsyncConsumer.__call__, on live_admin's layer, with a receive from the
        # layer that survives its errors (a Redis outage must not end the page's socket).
        self.scope = scope
        self.channel_layer = get_layer()
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send
        sources = [receive, self._layer_receive]
        tasks = [asyncio.ensure_future(source()) for source in sources]
        cancelled = False
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    for index, task in enumerate(tasks):
                        if task.done():
                            message = task.result()
                            tasks[index] = asyncio.ensure_future(sources[index]())
                            await self.dispatch(message)
        except asyncio.CancelledError:  # the server is shutting down, or gave up on this socket
            cancelled = True
            raise
        finally:  # however the socket ends: closed, crashed, or cancelled without a disconnect
            tasks[0].cancel()
            self._release_slot()
            try:
                # Shielded: daphne cancels an application that takes longer than its
                # application_close_timeout to end (thousands of sockets closing at once), and
                # the groups must still be left.
                await asyncio.shield(self._leave())
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                await self._stop_receiving(tasks[1], at_once=cancelled)

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

    async def _stop_receiving(
        self, task: asyncio.Future[dict[str, Any]], *, at_once: bool = False
    ) -> None:
        """End the socket's pending layer receive by a message to its own channel.

        channels-redis lets one waiting receive read from Redis for every socket of the process:
        cancelled while a message is on its way, it drops that message for all of them. So the
        receive is handed a closing marker and returns on its own: through channels-redis's
        buffer in this process first (every receive but the reading one wakes at once), through
        the layer if that does not end it within LOCAL_STOP_SECONDS. It is cancelled only if
        neither works within STOP_RECEIVING_SECONDS (the layer is down), or ``at_once`` (the
        consumer itself was cancelled).
        """
        marker = {"type": "live_admin.closed"}
        buffers = getattr(self.channel_layer, "receive_buffer", None)
        if not isinstance(buffers, dict):
            buffers = None
        self.pending_receive = task
        try:
            if at_once:
                return
            if buffers is not None:
                buffers[self.channel_name].put_nowait(marker)
                await self._receive_until_closed(LOCAL_STOP_SECONDS)
            if self.pending_receive is not None:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + STOP_RECEIVING_SECONDS
                try:
                    async with _layer_slots():
                        sent = self.channel_layer.send(self.channel_name, marker)
                        await asyncio.wait_for(sent, STOP_RECEIVING_SECONDS)
                except Exception as exc:  # time-outs included
                    logger.debug("live_admin: could not end a layer receive by message: %s", exc)
                    deadline = loop.time()
                await self._receive_until_closed(deadline - loop.time())
        finally:  # given up, or cancelled meanwhile (the server shutting down)
            if self.pending_receive is not None:
                self.pending_receive.cancel()
                # channels-redis's own clean-up must run (it releases the read lock if it held
                # it) before the buffer goes.
                await asyncio.wait([self.pending_receive])
            if buffers is not None:
                buffers.pop(self.channel_name, None)
                _strays.ended(buffers, self.channel_name)

    async def _receive_until_closed(self, timeout: float) -> None:
        """Receive until the closing marker; ``pending_receive`` is None once it came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        task = self.pending_receive
        while task is not None:
            done, _ = await asyncio.wait([task], timeout=max(deadline - loop.time(), 0))
            if not done:
                return
            if task.cancelled() or task.result().get("type") == "live_admin.closed":
                task = None
            else:  # one sent before the leave
                task = asyncio.ensure_future(self._layer_receive())
            self.pending_receive = task

    async def _layer_receive(self) -> dict[str, Any]:
        delay = 0.1
        while True:
            try:
                return await self.channel_layer.receive(self.channel_name)
            except Exception as exc:
                _layer_warnings.log("receiving from the channel layer failed: %s", exc)
                # A read time-out leaves memberships and queued messages where they were; any
                # other error may mean Redis restarted and forgot this socket's groups.
                if type(exc).__name__ != "TimeoutError":
                    self._retry_joins()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RECEIVE_BACKOFF)

    def _retry_joins(self) -> None:
        """Re-join every group in the background until the layer takes it, then tell the page
        that it may have missed changes meanwhile."""
        self.rejoin_needed = True  # also tells a running task to make another pass
        if self.allowed and (self.rejoin_task is None or self.rejoin_task.done()):
            self.rejoin_task = asyncio.create_task(self._rejoin_until_done())

    async def _rejoin_until_done(self) -> None:
        delay = 0.1
        while self.rejoin_needed:
            self.rejoin_needed = False
            if not await self._rejoin():
                self.rejoin_needed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RECEIVE_BACKOFF)
        with contextlib.suppress(StopConsumer):  # the socket closed meanwhile
            await self._send({"type": "resync"})

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
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        if self.session_key:
            self.session_group = groups.session_group(self.session_key)
            if not await self._join(self.session_group):
                self._retry_joins()
        self.recheck_task = asyncio.create_task(self._recheck_forever())

    def _release_slot(self) -> None:
        if self.allowed:
            self.allowed = False
            user_id = self.scope["user"].pk
            _sockets_per_user[user_id] -= 1
            if _sockets_per_user[user_id] <= 0:
                del _sockets_per_user[user_id]

    async def _leave(self) -> None:
        """Give back the socket's slot and leave its groups; safe to call more than once."""
        self._release_slot()
        for task in (self.recheck_task, self.rejoin_task):
            if task is not None:
                task.cancel()
        groups_left = [*self.members, self.session_group]
        self.members.clear()
        self.subscriptions.clear()
        self.session_group = None
        for group in groups_left:
            if group is not None:
                try:
                    async with _layer_slots():
                        await self.channel_layer.group_discard(group, self.channel_name)
                except Exception as exc:
                    logger.debug("live_admin: leaving %s failed: %s", group, exc)

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
        if len(self.subscriptions) >= get_config()["MAX_SUBSCRIPTIONS"]:
            raise Refused("too_many", "Too many subscriptions on this socket.")
        request = build_request(self.scope, self.scope["user"])
        sub = await database_sync_to_async(resolve)(request, sub_id, label, pk, field, value)
        self.subscriptions[sub_id] = sub
        for name in sub.groups:
            if name not in self.members:
                self.members[name] = set()
                if not await self._join(name):
                    self._retry_joins()
            self.members[name].add(sub_id)
        await self._send({"type": "subscribed", "id": sub_id})

    async def _unsubscribe(self, message: dict[str, Any]) -> None:
        sub_id = _text(message, "id", limit=MAX_ID_LENGTH)
        sub = self.subscriptions.pop(sub_id or "", None)
        if sub is None:
            raise Refused("not_found", "No subscription with that id.")
        await self._drop_groups(sub)
        await self._send({"type": "unsubscribed", "id": sub_id})

    async def _drop_groups(self, sub: Subscription) -> None:
        for name in sub.groups:
            members = self.members[name]
            members.discard(sub.id)
            if not members:
                del self.members[name]
                try:
                    async with _layer_slots():
                        await self.channel_layer.group_discard(name, self.channel_name)
                except Exception as exc:
                    logger.debug("live_admin: leaving %s failed: %s", name, exc)

    # -- channel-layer events -----------------------------------------------------------------

    async def live_admin_changed(self, event: dict[str, Any]) -> None:
        for sub_id in sorted(self.members.get(event["group"], ())):
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
                out["fields"] = event.get("fields", [])
                out["by"] = event.get("by")
                out["at"] = event.get("at")
            await self._send(out)

    async def live_admin_logout(self, event: dict[str, Any]) -> None:
        await self.close(CLOSE_NOT_LOGGED_IN)

    # -- periodic re-checks -------------------------------------------------------------------

    async def _recheck_forever(self) -> None:
        while True:
            await asyncio.sleep(get_config()["RECHECK_SECONDS"])
            try:
                await self.recheck()
            except Exception:
                logger.exception("live_admin: re-checking a websocket's permissions failed")

    async def recheck(self) -> None:
        """Re-load the session's user, drop what they may no longer see, re-join groups."""
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
                await self._drop_groups(sub)
                await self._error(sub.id, exc.code, "Subscription ended: " + exc.message)
        if not await self._rejoin():
            self._retry_joins()

    # -- helpers ------------------------------------------------------------------------------

    async def _join(self, group: str) -> bool:
        try:
            async with _layer_slots():
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:  # retried until it works (_retry_joins)
            _layer_warnings.log("joining %s failed: %s", group, exc)
            return False
        return True

    async def _rejoin(self) -> bool:
        """Join every group of the socket again; True when all joins succeeded."""
        joined = [await self._join(name) for name in [*self.members, self.session_group] if name]
        return all(joined)

    async def _send(self, content: dict[str, Any]) -> None:
        try:
            await self.send(text_data=json.dumps(content))
        except Exception as exc:  # the client went away mid-send: end this consumer cleanly
            logger.debug("live_admin: sending to a closed socket failed: %s", exc)
            raise StopConsumer from exc

    async def _error(self, sub_id: str | None, code: str, message: str) -> None:
        await self._send({"type": "error", "id": sub_id, "code": code, "message": message})


#: Failed layer calls of every socket in this process share one throttle.
_layer_warnings = Throttled()


def _id_of(message: Any) -> str | None:
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
            return value
    return None
