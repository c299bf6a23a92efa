"""What a socket tells its page of one change: a message per subscription of the change's group
and, from a model or group message's ``objects``, per watch of a changed row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .layouts import all_in_place, in_place
from .permissions import Subscription

Object = tuple[str, str]  # (model label, pk)


def told_subscriptions(
    event: dict[str, Any],
    members: Iterable[str],
    subscriptions: dict[str, Subscription],
    layouts: dict[str, frozenset[str]],
) -> list[dict[str, Any]]:
    """The ``changed`` messages of ``event`` for the subscriptions ``members`` of its group."""
    out = []
    for sub_id in sorted(members):
        sub = subscriptions[sub_id]
        told: dict[str, Any] = {
            "type": "changed",
            "id": sub_id,
            "model": event["model"],
            "action": event["action"],
            "count": event.get("count", 1),
            "origin": event.get("origin"),
        }
        if sub.pk is not None:
            told["pk"] = sub.pk
            told["fields"] = event.get("fields") or []
            told["by"] = event.get("by")
            told["at"] = event.get("at")
        elif sub_id in layouts:
            told["in_place"] = all_in_place(event, layouts[sub_id])
        if "cursor" in event:
            told["cursor"] = event["cursor"]
        out.append(told)
    return out


def told_watches(
    event: dict[str, Any],
    watches: dict[str, dict[Object, None]],
    layouts: dict[str, frozenset[str]],
) -> list[dict[str, Any]]:
    """The ``changed`` messages of a model or group ``event`` for each watch of a changed row
    (one message for both, so a page hears a change of its rows and of its list at once)."""
    objects = event.get("objects") or {}
    label = event["model"]
    out = []
    for watch_id, watched in list(watches.items()):
        layout = layouts.get(watch_id)
        for pk, obj in objects.items():  # at most MAX_OBJECTS; a watch is an ordered set
            if (label, pk) not in watched:
                continue
            told = {
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
                told["in_place"] = in_place(obj, layout)
            if "cursor" in event:
                told["cursor"] = event["cursor"]
            out.append(told)
    return out
