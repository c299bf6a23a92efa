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

from .. import protocol as groups
from ..protocol import PRESENCE, TTL

logger = logging.getLogger("live_admin")

STATES = ("viewing", "editing")
#: How long a socket gathers changes of who is on an object before telling its page.
TELL_WAIT = 0.1

Object = tuple[str, str]  # (model label, pk)


@dataclass
class _Seen:
    user: Any
    name: str
    state: str
    expires: float
    field: str = ""  # the form field the page's focus is in, while editing


@dataclass
class Presence:
    """The presence side of one socket: where it is present, and whom it sees where."""

    user: Any
    name: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    #: Objects this socket is present on: object -> state.
    mine: dict[Object, str] = field(default_factory=dict)
    #: The form field the socket's page is editing, per object ("" for none).
    fields: dict[Object, str] = field(default_factory=dict)
    #: Others present on the objects this socket follows: object -> socket key -> entry.
    seen: dict[Object, dict[str, _Seen]] = field(default_factory=dict)

    def event(self, obj: Object, state: str) -> dict[str, Any]:
        label, pk = obj
        found = {
            "type": PRESENCE,
            "group": groups.presence_group(label, pk),
            "model": label,
            "pk": pk,
            "key": self.key,
            "user": str(self.user),
            "name": self.name,
            "state": state,
        }
        if state == "editing" and self.fields.get(obj):
            found["field"] = self.fields[obj]
        return found

    def heard(self, event: dict[str, Any], now: float | None = None) -> tuple[bool, bool]:
        """Take another socket's announcement: (did who-is-here change, is it a newcomer)."""
        obj = (event["model"], event["pk"])
        if event["key"] == self.key or obj not in self.seen:
            return False, False
        entries = self.seen[obj]
        expires = (time.monotonic() if now is None else now) + TTL
        known = entries.get(event["key"])
        field_name = str(event.get("field") or "")
        if known is not None and (known.state, known.field) == (event["state"], field_name):
            # a heartbeat: nothing new
            known.expires = expires
            return False, False
        before = people(entries, self.user)
        newcomer = known is None
        if event["state"] == "gone":
            entries.pop(event["key"], None)
            newcomer = False
        else:
            entries[event["key"]] = _Seen(
                event["user"], event["name"], event["state"], expires, field_name
            )
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
    """Who is there, once a person (editing if any of their pages is, with the field one of
    them is in), not counting ``me``."""
    found: dict[Any, dict[str, str]] = {}
    for entry in entries.values():
        if entry.user == str(me):
            continue
        person = found.setdefault(entry.user, {"name": entry.name, "state": entry.state})
        if entry.state == "editing":
            person["state"] = "editing"
            if entry.field and "field" not in person:
                person["field"] = entry.field
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
