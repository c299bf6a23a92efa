"""Who else has an object open: presence over the live admin socket.

A change form announces itself on its object (``{"type": "presence", "state": "editing"}``) and
repeats it every ``HEARTBEAT`` seconds; a changelist watches the rows it shows. Announcements go
through the channel layer to the object's presence group, which only sockets holding a
permission-checked object subscription or watch of that object are in. Each socket keeps what it
heard for ``TTL`` seconds after the last announcement, so a page whose socket dropped silently, or
whose server process was killed, is gone within ``TTL`` without anyone saying so. A socket that
closes says so at once. Announcements carry display names and a state, never field values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import groups
from .broadcast import display_name

logger = logging.getLogger("live_admin")

PRESENCE = "live_admin.presence"
#: How often a page repeats its presence, and how long others keep it without a repeat.
HEARTBEAT = 4
TTL = 10
STATES = ("viewing", "editing")
#: How long a socket gathers changes of who is on an object before telling its page.
TELL_WAIT = 0.1
#: Rows one watch may follow (a changelist page shows 100 by default).
MAX_WATCHED = 200

Object = tuple[str, str]  # (model label, pk)


@dataclass
class _Seen:
    user: Any
    name: str
    state: str
    expires: float


@dataclass
class Presence:
    """The presence side of one socket: where it is present, and whom it sees where."""

    user: Any
    name: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    #: Objects this socket is present on: object -> state.
    mine: dict[Object, str] = field(default_factory=dict)
    #: Others present on the objects this socket follows: object -> socket key -> entry.
    seen: dict[Object, dict[str, _Seen]] = field(default_factory=dict)

    def event(self, obj: Object, state: str) -> dict[str, Any]:
        label, pk = obj
        return {
            "type": PRESENCE,
            "group": groups.presence_group(label, pk),
            "model": label,
            "pk": pk,
            "key": self.key,
            "user": str(self.user),
            "name": self.name,
            "state": state,
        }

    def heard(self, event: dict[str, Any], now: float | None = None) -> tuple[bool, bool]:
        """Take another socket's announcement: (did who-is-here change, is it a newcomer)."""
        obj = (event["model"], event["pk"])
        if event["key"] == self.key or obj not in self.seen:
            return False, False
        entries = self.seen[obj]
        expires = (time.monotonic() if now is None else now) + TTL
        known = entries.get(event["key"])
        if known is not None and known.state == event["state"]:  # a heartbeat: nothing new
            known.expires = expires
            return False, False
        before = people(entries, self.user)
        newcomer = known is None
        if event["state"] == "gone":
            entries.pop(event["key"], None)
            newcomer = False
        else:
            entries[event["key"]] = _Seen(event["user"], event["name"], event["state"], expires)
        return people(entries, self.user) != before, newcomer and obj in self.mine

    def expire(self, now: float | None = None) -> list[Object]:
        """Forget announcements older than ``TTL``; the objects whose people changed."""
        now = time.monotonic() if now is None else now
        changed = []
        for obj, entries in self.seen.items():
            before = people(entries, self.user)
            for key in [k for k, e in entries.items() if e.expires <= now]:
                del entries[key]
            if people(entries, self.user) != before:
                changed.append(obj)
        return changed


def people(entries: dict[str, _Seen], me: Any) -> list[dict[str, str]]:
    """Who is there, once a person (editing if any of their pages is), not counting ``me``."""
    found: dict[Any, dict[str, str]] = {}
    for entry in entries.values():
        if entry.user == str(me):
            continue
        person = found.setdefault(entry.user, {"name": entry.name, "state": entry.state})
        if entry.state == "editing":
            person["state"] = "editing"
    return sorted(found.values(), key=lambda p: (p["state"] != "editing", p["name"]))


class Sender(Protocol):
    async def group_send(self, group: str, message: dict[str, Any]) -> None: ...


async def announce(layer: Sender, event: dict[str, Any], timeout: float) -> None:
    """Send an announcement; a layer failure costs the announcement, never the socket."""
    try:
        await asyncio.wait_for(layer.group_send(event["group"], event), timeout)
    except Exception as exc:  # time-outs included: the next heartbeat tries again
        logger.debug("live_admin: sending presence failed: %s", exc)


async def sweep_forever(presence: Presence, changed: Any) -> None:
    """Every second, expire what went quiet and report the objects whose people changed."""
    while True:
        await asyncio.sleep(1)
        for obj in presence.expire():
            with contextlib.suppress(Exception):
                await changed(obj)


class PresenceHandlers:
    """The presence messages of :class:`~live_admin.consumers.LiveAdminConsumer` (mixed in)."""

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
        from .consumers import Invalid, Refused, _text

        sub_id = _text(message, "id", limit=64) or ""
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
        from channels.db import database_sync_to_async

        from .conf import get_config
        from .consumers import Invalid, Refused, _text
        from .permissions import build_request, watchable
        from .rows import read_layout

        watch_id = _text(message, "id", limit=64) or ""
        label = _text(message, "model", limit=255) or ""
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
        from .conf import get_config

        layer = self.channel_layer  # type: ignore[attr-defined]
        await announce(layer, event, get_config()["SEND_TIMEOUT"])

    def _me(self) -> Presence:
        assert self.presence is not None, "only a socket that was let in has presence"
        return self.presence
