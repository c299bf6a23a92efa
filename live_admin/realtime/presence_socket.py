"""The presence messages of the live admin socket (see :mod:`live_admin.realtime.presence`):
a change form's announcements, a changelist's watch of its rows, and who each page is told is
there."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from channels.db import database_sync_to_async

from .. import protocol as groups
from ..conf import get_config
from ..protocol import MAX_WATCHED, display_name
from .layouts import read_layout
from .messages import Invalid, text
from .permissions import Refused, build_request, watchable
from .presence import STATES, TELL_WAIT, Object, Presence, announce, people, sweep_forever


class PresenceHandlers:
    """The presence messages of the live admin consumer (mixed in)."""

    presence: Presence | None = None
    #: Object subscriptions the socket is present on, and watches: id -> objects (an ordered
    #: set, so that an event's objects are looked up in it at once).
    present_on: dict[str, Object]
    watches: dict[str, dict[Object, None]]
    sweeper: asyncio.Task[None] | None = None
    #: Objects whose people the page is about to be told, and the tasks that will tell it.
    telling: set[Object]
    telling_tasks: set[asyncio.Task[None]]
    #: When the socket last relayed its presence on each object.
    said_at: dict[Object, float]
    watch_layouts: dict[str, frozenset[str]]
    watch_lock: asyncio.Lock

    def _start_presence(self, user: Any) -> None:
        self.presence = Presence(user.pk, display_name(user))
        self.present_on, self.watches = {}, {}
        self.telling, self.telling_tasks = set(), set()
        self.said_at = {}

    async def _presence(self, message: dict[str, Any]) -> None:
        sub_id = text(message, "id", limit=64) or ""
        sub = self.subscriptions.get(sub_id)  # type: ignore[attr-defined]
        if sub is None or sub.pk is None:
            raise Refused("not_found", "No object subscription with that id.")
        state = message.get("state")
        if state not in STATES:
            raise Invalid("'state' must be 'viewing' or 'editing'.")
        obj = (sub.model, sub.pk)
        first = sub_id not in self.present_on
        if first:
            self.present_on[sub_id] = obj
            await self._follow(obj, "p:" + sub_id)
            await self._member(groups.presence_ask_group(sub.model), "p:" + sub_id, True)
        presence = self._me()
        now = time.monotonic()
        if not first and presence.mine.get(obj) == state and now - self.said_at.get(obj, 0) < 1:
            return  # a page repeating itself faster than once a second is not relayed again
        presence.mine[obj] = state
        self.said_at[obj] = now
        await self._announce(presence.event(obj, state))
        if first:
            await self._tell(obj)

    async def _watch(self, message: dict[str, Any]) -> None:
        watch_id = text(message, "id", limit=64) or ""
        label = text(message, "model", limit=255) or ""
        pks = message.get("pks")
        if not isinstance(pks, list) or len(pks) > MAX_WATCHED:
            raise Invalid(f"'pks' must be a list of at most {MAX_WATCHED} primary keys.")
        if not all(isinstance(pk, str) and 0 < len(pk) <= 255 for pk in pks):
            raise Invalid("'pks' must hold primary keys as non-empty strings.")
        held = len(self.subscriptions) + len(self.watches)  # type: ignore[attr-defined]
        if watch_id not in self.watches and held >= get_config()["MAX_SUBSCRIPTIONS"]:
            raise Refused("too_many", "Too many subscriptions on this socket.")
        request = build_request(self.scope, self.scope["user"])  # type: ignore[attr-defined]
        label, granted = await database_sync_to_async(watchable)(request, label, pks)
        layout = read_layout(message.get("layout"), label)
        async with self.watch_lock:
            if layout is None:
                self.watch_layouts.pop(watch_id, None)
            else:
                self.watch_layouts[watch_id] = layout
            await self._set_watch(watch_id, tuple((label, pk) for pk in granted))
            await self._send({"type": "watching", "id": watch_id, "pks": granted})  # type: ignore[attr-defined]
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

    async def _stop_presence(self, sub_id: str) -> None:
        obj = self.present_on.pop(sub_id, None)
        if obj is None:
            return
        presence = self._me()
        if obj not in self.present_on.values():
            presence.mine.pop(obj, None)
            await self._announce(presence.event(obj, "gone"))
        await self._unfollow(obj, "p:" + sub_id)
        await self._member(groups.presence_ask_group(obj[0]), "p:" + sub_id, False)

    async def _end_presence(self) -> None:
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
        await self._member(groups.presence_group(*obj), member, True)
        if self.sweeper is None:
            self.sweeper = asyncio.create_task(sweep_forever(self._me(), self._tell))

    async def _unfollow(self, obj: Object, member: str) -> None:
        if not await self._member(groups.presence_group(*obj), member, False):
            self._me().seen.pop(obj, None)

    async def _member(self, group: str, member: str, join: bool) -> bool:
        """Count ``member`` (a subscription or watch) in or out of ``group``; the socket joins
        with the first and leaves with the last. Whether the socket is still in the group."""
        members: dict[str, set[str]] = self.members  # type: ignore[attr-defined]
        if join:
            if group not in members:
                members[group] = set()
                await self._hub().join(group, self)  # type: ignore[attr-defined]
            members[group].add(member)
            return True
        if group not in members:
            return False
        members[group].discard(member)
        if not members[group]:
            del members[group]
            await self._hub().leave(group, self)  # type: ignore[attr-defined]
            return False
        return True

    async def live_admin_presence(self, event: dict[str, Any]) -> None:
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
            await self._send(out)  # type: ignore[attr-defined]

    async def _announce(self, event: dict[str, Any]) -> None:
        layer = self.channel_layer  # type: ignore[attr-defined]
        await announce(layer, event, get_config()["SEND_TIMEOUT"])

    def _me(self) -> Presence:
        assert self.presence is not None, "only a socket that was let in has presence"
        return self.presence
