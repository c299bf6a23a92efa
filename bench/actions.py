"""7b. Checked actions: what checking an action against what the list showed costs.

Part of ``--only collaboration``. In this process (Django's test client and the admin's own
check, SQLite):

- **A list's token.** A changelist of 100 rows with actions, rendered with the token of what it
  shows (``ACTION_CHECKS = "confirm"``) and without it (``"off"``), alternately; the figure is
  the difference of the medians, and the token's size.
- **The check.** 10,000 selected rows checked against a token of them (nothing changed, the worst
  case: every row is loaded and hashed), and "Select all" over the same 10,000 (the page's 100
  rows one by one; the rest by count and the admin's log). Time and peak Python memory.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any

from figures import shown, spread

REPEATS = 3
ROWS = 10_000


def _render_ms(client: Any, renders: int) -> dict[str, Any]:
    from django.test import override_settings

    added, size = [], 0
    for _ in range(REPEATS):
        times: dict[str, list[float]] = {"confirm": [], "off": []}
        for _ in range(renders):
            for mode in ("confirm", "off"):
                with override_settings(LIVE_ADMIN={"ACTION_CHECKS": mode}):
                    began = time.perf_counter()
                    response = client.get("/admin/benchapp/item/")
                    times[mode].append(time.perf_counter() - began)
                if mode == "confirm":
                    text = response.content.decode()
                    size = len(text.split('name="_live_seen" value="')[1].split('"')[0])
        on, off = (statistics.median(times[m]) * 1000 for m in ("confirm", "off"))
        added.append(on - off)
    return {"added_ms": spread(added), "token_bytes": size}


def _check(admin: Any, request: Any, selected: list[str], across: bool) -> tuple[float, float]:
    from benchapp.models import Item
    from live_admin.conflicts import seen, verdict

    state = seen.read(request, admin)
    assert state is not None
    began = time.perf_counter()
    found = verdict.check(admin, request, state, selected, Item.objects.all(), across=across)
    took = (time.perf_counter() - began) * 1000
    assert found.clean, found
    tracemalloc.start()  # a run of its own: tracing slows what it traces
    verdict.check(admin, request, state, selected, Item.objects.all(), across=across)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return took, peak


def action_check(quick: bool) -> dict[str, Any]:
    from django.contrib import admin as site
    from django.contrib.auth.models import User
    from django.test import Client, RequestFactory

    from benchapp.models import Item
    from live_admin.conflicts import seen

    user = User.objects.get(username="bench")
    Item.objects.bulk_create(Item(name=f"row {i}", n=i) for i in range(ROWS - Item.objects.count()))
    client = Client()
    client.force_login(user)
    result: dict[str, Any] = {"list": _render_ms(client, 5 if quick else 40)}
    admin = site.site._registry[Item]
    rows = list(Item.objects.order_by("pk")[:ROWS])
    page = rows[:100]
    figures: dict[str, dict[str, list[float]]] = {}
    for name, objs, across in (("rows", rows, False), ("select_all", page, True)):
        token = seen.token(admin, objs, shown=["name", "n"], count=Item.objects.count())
        request = RequestFactory().post("/", {seen.SEEN_FIELD: token})
        request.user = user
        selected = [str(obj.pk) for obj in objs]
        runs = [_check(admin, request, selected, across) for _ in range(REPEATS)]
        figures[name] = {"ms": [r[0] for r in runs], "mib": [r[1] for r in runs]}
    result["check"] = {
        name: {"ms": spread(f["ms"], 1), "peak_mib": spread(f["mib"], 1)}
        for name, f in figures.items()
    }
    result["rows"] = ROWS
    return result


def lines(r: dict[str, Any]) -> list[str]:
    """The report's lines for checked actions (in section 7)."""
    from report import table

    listed, check = r["list"], r["check"]
    return [
        "",
        f"Checked actions: a 100-row changelist with actions carries a token of what it shows"
        f" ({listed['token_bytes']:,} bytes); rendering it costs {shown(listed['added_ms'])} ms"
        f" more than without. Checking an action against it, {r['rows']:,} rows, nothing"
        " changed (every row loaded and hashed), SQLite:",
        "",
        table(
            ["selection", "ms", "peak Python memory, MiB"],
            [
                [
                    f"{r['rows']:,} rows ticked, checked one by one",
                    shown(check["rows"]["ms"]),
                    shown(check["rows"]["peak_mib"]),
                ],
                [
                    f"Select all {r['rows']:,} (the page's 100 one by one, the rest by count and"
                    " log)",
                    shown(check["select_all"]["ms"]),
                    shown(check["select_all"]["peak_mib"]),
                ],
            ],
        ),
        "",
    ]
