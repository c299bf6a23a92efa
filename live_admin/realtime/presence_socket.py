"""The presence part of the live admin socket (see :mod:`live_admin.realtime.presence`):
a change form's announcements, a changelist's watch of its rows, and who each page is told is
there."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from channels.db import database_sync_to_async
from django.http import HttpRequest

from .. import protocol as groups
from ..conf import get_config
from ..protocol import MAX_ID_LENGTH, MAX_VALUE_LENGTH, MAX_WATCHED, display_name
from . import replay
from .layouts import read_layout
from .messages import Invalid, text
from .permissions import Refused, Subscription, watchable
from .presence import STATES, TELL_WAIT, Object, Presence, announce, people, sweep_forever
from .socket import Socket

#: A form field's name as a page may say it is editing it (an inline's prefix included).
FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}\Z")


class PresencePart:
    """One socket's presence: where its pages are present, the rows its changelists watch, and
    who its pages are told is there. Owned by the consumer; uses it through :class:`Socket`."""

    def __init__(self, socket: Socket, layer: Any) -> None:
        self.socket = socket
        self.layer = layer
        self.presence: Presence | None = None
        #: Object subscriptions the socket is present on, and watches: id -> objects (an
        #: ordered set, so that an event's objects are looked up in it at once).
        self.present_on: dict[str, Object] = {}
        self.watches: dict[str, dict[Object, None]] = {}
        #: The layouts (see live_admin.pages.rows) of the watches, by id.
        self.watch_layouts: dict[str, frozenset[str]] = {}
        #: Held while a watch changes (a page's watch, or a re-check's narrowing of one).
        self.watch_lock = asyncio.Lock()
        self.sweeper: asyncio.Task[None] | None = None
        #: Objects whose people the page is about to be told, and the tasks that will tell it.
        self.telling: set[Object] = set()
        self.telling_tasks: set[asyncio.Task[None]] = set()
        #: When the socket last relayed its presence on each object; what each page said.
        self.said_at: dict[Object, float] = {}
        self.said: dict[str, tuple[str, str]] = {}

    def start(self, user: Any) -> None:
        """The socket was let in for ``user``."""
        self.presence = Presence(user.pk, display_name(user))

    async def present(self, sub: Subscription | None, message: dict[str, Any]) -> None:
        """A ``presence`` message for the object subscription ``sub``."""
        if sub is None or sub.pk is None:
            raise Refused("not_found", "No object subscription with that id.")
        sub_id = sub.id
        state = message.get("state")
        if state not in STATES:
            raise Invalid("'state' must be 'viewing' or 'editing'.")
        field_name = message.get("field", "")
        if not isinstance(field_name, str) or not (field_name == "" or FIELD.match(field_name)):
            raise Invalid("'field' must be a form field's name.")
        obj = (sub.model, sub.pk)
        first = sub_id not in self.present_on
        if first:
            self.present_on[sub_id] = obj
            await self._follow(obj, "p:" + sub_id)
            await self.socket.member(groups.presence_ask_group(sub.model), "p:" + sub_id, True)
        presence = self._me()
        self.said[sub_id] = (state, field_name)
        state, field_name = self._together(obj)
        now = time.monotonic()
        said = (presence.mine.get(obj), presence.fields.get(obj, ""))
        if not first and said == (state, field_name) and now - self.said_at.get(obj, 0) < 1:
            return  # a page repeating itself faster than once a second is not relayed again
        presence.mine[obj] = state
        presence.fields[obj] = field_name
        self.said_at[obj] = now
        await self._announce(presence.event(obj, state))
        if first:
            await self._tell(obj)

    def _together(self, obj: Object) -> tuple[str, str]:
        """What the socket's pages on ``obj`` say together (a browser's tabs share a socket):
        editing, in the field of the last to say so, if one of them is; else viewing."""
        said = [self.said[i] for i, o in self.present_on.items() if o == obj and i in self.said]
        editing = [s for s in said if s[0] == "editing"]
        return editing[-1] if editing else ("viewing", "")

    async def watch(self, message: dict[str, Any], others: int, limit: int) -> None:
        """A ``watch`` message; ``others``: the socket's subscriptions, counted with watches
        against ``limit``."""
        watch_id = text(message, "id", limit=MAX_ID_LENGTH)
        label = text(message, "model", limit=MAX_VALUE_LENGTH)
        pks, since = message.get("pks"), replay.since_of(message)
        if not isinstance(pks, list) or len(pks) > MAX_WATCHED:
            raise Invalid(f"'pks' must be a list of at most {MAX_WATCHED} primary keys.")
        if not all(isinstance(pk, str) and 0 < len(pk) <= 255 for pk in pks):
            raise Invalid("'pks' must hold primary keys as non-empty strings.")
        held = others + len(self.watches)
        if watch_id not in self.watches and held >= limit:
            raise Refused("too_many", "Too many subscriptions on this socket.")
        request = self.socket.request()
        label, granted = await database_sync_to_async(watchable)(request, label, pks)
        layout = read_layout(message.get("layout"), label)
        async with self.watch_lock:
            if layout is None:
                self.watch_layouts.pop(watch_id, None)
            else:
                self.watch_layouts[watch_id] = layout
            await self._set_watch(watch_id, tuple((label, pk) for pk in granted))
            told = {"type": "watching", "id": watch_id, "pks": granted}
            watched = {watch_id: self.watches.get(watch_id, {})}
            await replay.tell_watching(self.socket, told, label, since, watched, self.watch_layouts)
        for obj in self.watches.get(watch_id, ()):
            if people(self._me().seen.get(obj, {}), self._me().user):
                await self._tell(obj)

    async def _set_watch(self, watch_id: str, objects: tuple[Object, ...]) -> None:
        old = set(self.watches.get(watch_id, ()))
        member = "w:" + watch_id
        self.watches[watch_id] = dict.fromkeys(objects)
        if not objects:
            del self.watches[watch_id]
            self.watch_layouts.pop(watch_id, None)
        for obj in old - set(objects):
            await self._unfollow(obj, member)
        new = [obj for obj in objects if obj not in old]
        for obj in new:
            await self._follow(obj, member)
        if new:  # one question to the model's present pages; those on these rows answer at once
            label = new[0][0]
            ask = {**self._me().event(new[0], "ask"), "group": groups.presence_ask_group(label)}
            await self._announce({**ask, "pk": "", "pks": [pk for _, pk in new]})

    async def stop(self, sub_id: str) -> None:
        """The subscription ``sub_id`` ended: its page is gone from its object."""
        obj = self.present_on.pop(sub_id, None)
        if obj is None:
            return
        presence = self._me()
        self.said.pop(sub_id, None)
        if obj not in self.present_on.values():
            presence.mine.pop(obj, None)
            presence.fields.pop(obj, None)
            await self._announce(presence.event(obj, "gone"))
        else:  # its other pages' state, said again if it changed
            together = self._together(obj)
            if (presence.mine.get(obj), presence.fields.get(obj, "")) != together:
                presence.mine[obj], presence.fields[obj] = together
                await self._announce(presence.event(obj, together[0]))
        await self._unfollow(obj, "p:" + sub_id)
        await self.socket.member(groups.presence_ask_group(obj[0]), "p:" + sub_id, False)

    async def end(self) -> None:
        """The socket is closing: say so wherever it was present."""
        if self.sweeper is not None:
            self.sweeper.cancel()
        for task in list(self.telling_tasks):
            task.cancel()
        presence = self._me()
        for obj in list(presence.mine):
            await self._announce(presence.event(obj, "gone"))
        presence.mine.clear()

    async def _follow(self, obj: Object, member: str) -> None:
        self._me().seen.setdefault(obj, {})
        await self.socket.member(groups.presence_group(*obj), member, True)
        if self.sweeper is None:
            self.sweeper = asyncio.create_task(sweep_forever(self._me(), self._tell))

    async def _unfollow(self, obj: Object, member: str) -> None:
        if not await self.socket.member(groups.presence_group(*obj), member, False):
            self._me().seen.pop(obj, None)

    async def heard(self, event: dict[str, Any]) -> None:
        """A presence event of an object the socket follows (or a changelist's question)."""
        presence = self._me()
        obj = (event["model"], event["pk"])
        if event["state"] == "ask":
            for pk in event.get("pks", ()):
                if (event["model"], pk) in presence.mine:
                    mine = (event["model"], pk)
                    await self._announce(
                        {**presence.event(mine, presence.mine[mine]), "reply": True}
                    )
            return
        changed, newcomer = presence.heard(event)
        if newcomer and not event.get("reply"):  # a page just came: say we are here (an
            # answer to our own arrival needs none: its page heard us)
            await self._announce({**presence.event(obj, presence.mine[obj]), "reply": True})
        if changed:
            await self._tell(obj)

    async def _tell(self, obj: Object) -> None:
        """Send the page who is on ``obj``, soon: changes within ``TELL_WAIT`` go as one (a
        page that arrives among 50 hears their 49 answers in one message, not 49)."""
        if obj in self.telling:
            return
        self.telling.add(obj)
        task = asyncio.create_task(self._tell_later(obj))
        self.telling_tasks.add(task)
        task.add_done_callback(self.telling_tasks.discard)

    async def _tell_later(self, obj: Object) -> None:
        await asyncio.sleep(TELL_WAIT)
        self.telling.discard(obj)
        with contextlib.suppress(Exception):  # the socket went away meanwhile
            await self._tell_now(obj)

    async def _tell_now(self, obj: Object) -> None:
        """Send the page who is on ``obj`` now, under each id of its that follows it."""
        presence = self._me()
        here = people(presence.seen.get(obj, {}), presence.user)
        ids = [i for i, o in self.present_on.items() if o == obj]
        ids += [i for i, objects in self.watches.items() if obj in objects]
        for sub_id in ids:
            out = {"type": "presence", "id": sub_id, "pk": obj[1], "people": here}
            await self.socket.send_message(out)

    async def _announce(self, event: dict[str, Any]) -> None:
        await announce(self.layer, event, get_config()["SEND_TIMEOUT"])

    def _me(self) -> Presence:
        assert self.presence is not None, "only a socket that was let in has presence"
        return self.presence

    async def recheck(self, request: HttpRequest) -> None:
        """Narrow each watch to the rows the user may still see, and tell the page which."""
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
                told = {"type": "watching", "id": watch_id, "pks": granted}
                await self.socket.send_message(told)
