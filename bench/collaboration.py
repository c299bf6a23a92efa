"""7. Collaboration: what a conflict-checked save costs, and the traffic of presence.

``python bench/run.py --only collaboration`` runs this section alone.

- **Conflict check.** One live model's change form, opened and saved through the admin's own
  view in this process (Django's test client, SQLite), with its state token (checked: the row
  lock, the token, the merge) and without it (the stock save), alternately. The figure is the
  difference of the two medians, repeated; the spread is over the repetitions.
- **Presence.** 50 pages (websockets) on one object of a real daphne, each saying it is there
  and repeating it every 4 s as the page script does. Counted: what the pages receive while
  the 50 arrive, and then in a steady minute; and the server's CPU in that minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

from figures import judged, shown, spread

REPEATS = 3
HEARTBEAT = 4.0
PAGES = 50


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def conflict_check(saves: int) -> dict[str, Any]:
    """Server time of a change-form save with and without the state token."""
    import sys
    from pathlib import Path

    from django.contrib.auth.models import User
    from django.test import Client

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from forms import form_data  # tests/forms.py: what a browser would post

    from benchapp.models import Item

    client = Client()
    client.force_login(User.objects.get(username="bench"))
    item = Item.objects.create(name="edited", n=0)
    url = f"/admin/benchapp/item/{item.pk}/change/"
    added, checked_ms, stock_ms = [], [], []
    for _ in range(REPEATS):
        times: dict[str, list[float]] = {"checked": [], "stock": []}
        for n in range(saves):
            for side in ("checked", "stock"):
                data = form_data(client.get(url).content, "item_form")
                if side == "stock":
                    del data["_live_state"]
                data["n"] = str(n)
                began = time.perf_counter()
                response = client.post(url, data)
                times[side].append(time.perf_counter() - began)
                assert response.status_code == 302, response.status_code
        checked, stock = (statistics.median(times[s]) * 1000 for s in ("checked", "stock"))
        checked_ms.append(checked)
        stock_ms.append(stock)
        added.append(checked - stock)
    return {
        "saves": saves,
        "checked_ms": spread(checked_ms),
        "stock_ms": spread(stock_ms),
        "added_ms": spread(added),
        "target_ms": 1.0,
    }


def _people(count: int) -> list[str]:
    """Session cookies of ``count`` superusers: presence counts people, not pages."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    cookies = []
    for i in range(count):
        user = User.objects.create_superuser(f"person{i}", password="x", first_name=f"P{i}")
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key or "")
    return cookies


async def presence_traffic(url: str, cookies: list[str], pk: int, pid: int, seconds: float) -> dict:
    """50 pages of 50 people on one object: arrivals, then a steady window of heartbeats."""
    from websockets.asyncio.client import connect

    ws_url = url.replace("http", "ws") + "/ws/live-admin/"
    received = [0]

    async def page(i: int, ready: asyncio.Event, stop: asyncio.Event) -> None:
        headers = {"Cookie": f"sessionid={cookies[i]}", "Origin": url}
        async with connect(ws_url, additional_headers=headers) as ws:
            sub = {"type": "subscribe", "id": "page", "model": "benchapp.item", "pk": str(pk)}
            await ws.send(json.dumps(sub))
            await ws.recv()
            await ws.send(json.dumps({"type": "presence", "id": "page", "state": "viewing"}))
            ready.set()

            async def beat() -> None:
                while not stop.is_set():
                    await asyncio.sleep(HEARTBEAT)
                    await ws.send(
                        json.dumps({"type": "presence", "id": "page", "state": "viewing"})
                    )

            beating = asyncio.create_task(beat())
            try:
                while not stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), 0.5)
                        received[0] += 1
                    except TimeoutError:
                        continue
            finally:
                beating.cancel()

    stop = asyncio.Event()
    tasks = []
    began = time.monotonic()
    for i in range(PAGES):  # one after another, as pages open
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(page(i, ready, stop)))
        await asyncio.wait_for(ready.wait(), 30)
    quiet_since, last = time.monotonic(), received[0]
    while time.monotonic() - quiet_since < 1.0 and time.monotonic() - began < 60:
        await asyncio.sleep(0.1)  # until the last arrival's answers are in: a second of quiet
        if received[0] != last:
            quiet_since, last = time.monotonic(), received[0]
    arrival = received[0]
    arrived_s = time.monotonic() - began
    received[0] = 0
    cpu = _cpu_seconds(pid)
    await asyncio.sleep(seconds)
    cpu = _cpu_seconds(pid) - cpu
    steady = received[0]
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "pages": PAGES,
        "arrival_messages": arrival,
        "arrival_s": round(arrived_s, 2),
        "steady_s": seconds,
        "steady_messages_per_s": round(steady / seconds, 2),
        "heartbeats_per_s": round(PAGES / HEARTBEAT, 2),
        "server_cpu_pct": round(100 * cpu / seconds, 1),
    }


def collaboration(server: Any, redis: Any, cookie: str, quick: bool) -> dict[str, Any]:
    from actions import action_check

    from benchapp.models import Item

    result: dict[str, Any] = {"conflict_check": conflict_check(30 if quick else 200)}
    result["action_check"] = action_check(quick)
    pk = Item.objects.create(name="watched", n=0).pk
    cookies = _people(PAGES)
    result["presence"] = {}
    for layer in ("memory", "redis"):
        with server("daphne", layer, redis) as s:
            result["presence"][layer] = asyncio.run(
                presence_traffic(s.url, cookies, pk, s.proc.pid, 8 if quick else 60)
            )
    return result


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 7."""
    from report import table

    c = r["conflict_check"]
    added = c["added_ms"]
    verdict = judged(added, c["target_ms"])
    lines = [
        "",
        "## 7. Collaboration",
        "",
        f"A change-form save through the admin's view, {c['saves']} saves a side, medians of"
        f" {REPEATS} repetitions (min to max across them), SQLite:",
        "",
        table(
            ["save", "ms p50", "added by the conflict check, ms p50", "target", "verdict"],
            [
                ["without a state token (stock)", shown(c["stock_ms"]), "", "", ""],
                [
                    "with it (locked, checked, merged)",
                    shown(c["checked_ms"]),
                    shown(added),
                    f"≤ {c['target_ms']} ms",
                    verdict,
                ],
            ],
        ),
        "",
        f"Presence: {PAGES} pages on one object of one daphne, each repeating its presence every"
        f" {HEARTBEAT:g} s:",
        "",
        table(
            [
                "layer",
                "messages to pages while 50 arrive",
                "steady: messages to pages / s",
                "heartbeats in / s",
                "server CPU, steady",
            ],
            [
                [
                    layer,
                    p["arrival_messages"],
                    p["steady_messages_per_s"],
                    p["heartbeats_per_s"],
                    f"{p['server_cpu_pct']} %",
                ]
                for layer, p in r["presence"].items()
            ],
        ),
    ]
    if "action_check" in r:  # a benchmarks.json from before checked actions has none
        from actions import lines as action_lines

        lines += action_lines(r["action_check"])
    return lines
