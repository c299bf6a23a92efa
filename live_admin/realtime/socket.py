"""A websocket consumer fed by its process's hub instead of a layer channel of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from operator import attrgetter
from typing import Any, Protocol

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import HttpRequest

from ..delivery.sender import get_layer
from ..protocol import RESYNC
from .hub import Hub

logger = logging.getLogger("live_admin")

#: Events waiting for a socket that is slow to take them; past this, one resync replaces them.
MAX_QUEUED_EVENTS = 1000


class Socket(Protocol):
    """What a part of the consumer (presence, badges) may use of its socket."""

    @property
    def user(self) -> Any:
        """The user the socket was let in for."""

    def request(self) -> HttpRequest:
        """A request as the socket's user, for the admins' permission methods."""

    async def send_message(self, content: dict[str, Any]) -> None:
        """Send ``content`` to the page."""

    async def send_error(self, sub_id: str | None, code: str, message: str) -> None:
        """Tell the page that something it asked for failed."""

    async def member(self, group: str, member: str, join: bool) -> bool:
        """Count ``member`` in or out of ``group``; whether the socket is still in it."""


class HubSocket(AsyncWebsocketConsumer):
    """Takes layer events from the hub (:meth:`deliver`) and client messages in one loop;
    sends JSON. A subclass attaches to the hub once it lets the socket in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Layer events the hub handed over, waiting for this socket's loop: a list, short but
        #: for a slow client (MAX_QUEUED_EVENTS), where an empty deque costs an idle socket 760
        #: bytes and a list 56.
        self.inbox: list[dict[str, Any]] = []
        self.waiter: asyncio.Future[None] | None = None
        self.hub: Hub | None = None
        #: The groups the socket is in, with what holds it in each (subscriptions, watches).
        self.members: dict[str, set[str]] = {}
        #: Set by a transport whose end the client does not say (an event stream it closed).
        self.ended = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # As channels' AsyncConsumer.__call__, but with layer events handed over by the
        # process's hub (attached in connect, once the socket is let in) instead of a layer
        # channel of the socket's own.
        self.scope = scope
        self.channel_layer = get_layer()
        self.base_send = send
        loop = asyncio.get_running_loop()
        incoming = self._receiving(receive)
        try:
            with contextlib.suppress(StopConsumer):
                while not self.ended:
                    if not self.inbox and not incoming.done():
                        # One future that the hub and the client's next message both wake:
                        # ``asyncio.wait`` would cost a fan-out two loop passes and its own
                        # bookkeeping for every socket (bench/profile_fanout.py).
                        self.waiter = loop.create_future()
                        try:
                            await self.waiter
                        finally:
                            self.waiter = None
                    if incoming.done():
                        message = incoming.result()
                        incoming = self._receiving(receive)
                        await self.dispatch(message)
                    while self.inbox:
                        await self.dispatch(self.inbox.pop(0))
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
            self.inbox.append({"type": RESYNC})
        self.inbox.append(event)
        self._wake()

    def _receiving(self, receive: Any) -> asyncio.Future[Any]:
        """The client's next message, waking the socket's loop when it comes."""
        incoming: asyncio.Future[Any] = asyncio.ensure_future(receive())
        incoming.add_done_callback(self._wake)
        return incoming

    def _wake(self, _: object = None) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    #: Layer event types handled by a part of the consumer, and where (``part.method``).
    EVENTS: dict[str, str] = {}

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' own dispatch first closes stale database connections on its sync thread,
        # a thread hop for every message: for a change fanned out to a thousand sockets, a
        # thousand hops in a row on one thread. Nothing here touches the database outside
        # database_sync_to_async, which does that clean-up itself, so the hop is skipped.
        handler = self.handler_named(
            self.EVENTS.get(message.get("type", "")) or get_handler_name(message)
        )
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def handler_named(self, name: str) -> Any:
        """The method ``name`` (``method``, or ``part.method``) names; None if there is none."""
        try:
            return attrgetter(name)(self) if name else None
        except AttributeError:
            return None

    async def websocket_disconnect(self, message: Any) -> None:
        # As channels' own, without its thread hop (see dispatch); this consumer keeps no
        # class-level ``groups``, and leaves its own when __call__ ends.
        await self.disconnect(message.get("code", 1000))
        raise StopConsumer

    def _release_slot(self) -> None:
        """The socket ended: give back what it held (a subclass's)."""

    async def _leave(self) -> None:
        """Leave the socket's groups and the hub (a subclass's); safe to call more than once."""

    async def member(self, group: str, member: str, join: bool) -> bool:
        """Count ``member`` (a subscription or watch) in or out of ``group``; the socket joins
        with the first and leaves with the last. Whether the socket is still in the group."""
        members = self.members
        if join:
            if group not in members:
                members[group] = set()
                await self._hub().join(group, self)
            members[group].add(member)
            return True
        if group not in members:
            return False
        members[group].discard(member)
        if not members[group]:
            del members[group]
            await self._hub().leave(group, self)
            return False
        return True

    def _hub(self) -> Hub:
        assert self.hub is not None, "only a socket that was let in has a hub"
        return self.hub

    async def send_message(self, content: dict[str, Any]) -> None:
        try:  # what channels' send(text_data=) sends, two coroutine frames fewer per message
            sent: Any = {"type": "websocket.send", "text": json.dumps(content)}
            await self.base_send(sent)
        except Exception as exc:  # the client went away mid-send: end this consumer cleanly
            logger.debug("live_admin: sending to a closed socket failed: %s", exc)
            raise StopConsumer from exc

    async def send_error(self, sub_id: str | None, code: str, message: str) -> None:
        await self.send_message({"type": "error", "id": sub_id, "code": code, "message": message})
