"""10. Catching up: what pages that come back cost the server, told what they missed from their
cursor against the whole check every page made before.

``python bench/run.py --only catchup`` runs this section alone.

``PAGES`` changelists of the bench's ``Item`` admin (100 rows a page) on daphne with Redis, each
a websocket subscribed with the list's layout and watching its rows, as a browser's page is. The
sockets drop (a restart, a deploy); one row is renamed meanwhile; they come back. *Whole check*:
each page subscribes afresh and re-fetches its whole list, as every page did before the history.
*Replay*: each subscribes with its cursor, is told the one row's change, and re-fetches that row.
The server's CPU (its own count, ``/bench/state/``) and the HTTP requests the pages make, from
the first socket back to the last page done, per repetition.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
import urllib.request
from typing import Any
from urllib.parse import quote

from figures import judged, shown, spread
from sockets import open_page

PATH = "/admin/benchapp/item/"
REPEATS = 3
TARGET_RATIO = 0.2
FETCHES = 8  # at once, as a few browsers' pages would


def _attribute(page: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', page)
    if found is None:
        raise RuntimeError(f"the changelist has no {name}")
    return html.unescape(found[1])


class Pages:
    """The pages' sockets, and what they re-fetch."""

    def __init__(self, s: Any, cookie: str, count: int) -> None:
        self.s, self.cookie, self.count = s, cookie, count
        page = s.get(PATH, cookie).decode()
        self.layout = _attribute(page, "data-layout")
        self.pks = re.findall(r'class="action-select" value="([^"]+)"', page)
        if len(self.pks) < 2:
            self.pks = re.findall(r'value="(\d+)"[^>]*class="action-select"', page)
        self.url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        self.requests = 0
        self.fetching = asyncio.Semaphore(FETCHES)

    def subscribe(self, since: str | None) -> dict[str, Any]:
        sub = {"type": "subscribe", "id": "page", "model": "benchapp.item", "layout": self.layout}
        return {**sub, "since": since} if since else sub

    def watch(self, since: str | None) -> dict[str, Any]:
        watch = {"type": "watch", "id": "rows", "model": "benchapp.item", "pks": self.pks}
        watch["layout"] = self.layout
        return {**watch, "since": since} if since else watch

    async def fetch(self, headers: dict[str, str]) -> None:
        async with self.fetching:
            self.requests += 1
            request = urllib.request.Request(
                self.s.url + PATH, headers={**headers, "Cookie": f"sessionid={self.cookie}"}
            )
            await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=60).read())

    async def open(self, since: str | None) -> tuple[Any, list[dict[str, Any]]]:
        """A page's socket, subscribed and watching; what it was told on the way."""
        ws, _ = await open_page(self.url, self.s.url, self.cookie, None, "", 60)
        told = []
        for hello, answer in (
            (self.subscribe(since), "subscribed"),
            (self.watch(since), "watching"),
        ):
            await ws.send(json.dumps(hello))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                told.append(message)
                if message["type"] == answer:
                    break
        if since and told[-1].get("replay") == "ok":  # its rows' changes follow the answer
            while told[-1].get("id") != "rows" or told[-1]["type"] != "changed":
                told.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
        return ws, told

    async def back(self, since: list[str | None], fetch: bool = True) -> None:
        """Every page back, each re-fetching what its answers ask for (unless not ``fetch``)."""

        async def one(cursor: str | None) -> Any:
            ws, told = await self.open(cursor)
            if not fetch:
                return ws
            answers = [m for m in told if m["type"] in ("subscribed", "watching")]
            if cursor and all(m.get("replay") == "ok" for m in answers):
                rows = [m["pk"] for m in told if m["type"] == "changed" and m.get("id") == "rows"]
                if rows:
                    await self.fetch({"X-Live-Admin-Rows": quote(json.dumps(rows))})
            else:
                await self.fetch({"X-Live-Admin-Refresh": "1", "HX-Request": "true"})
            return ws

        for ws in await asyncio.gather(*(one(c) for c in since)):
            await ws.close()


async def _round(s: Any, cookie: str, count: int, mode: str) -> dict[str, float]:
    pages = Pages(s, cookie, count)
    opened = await asyncio.gather(*(pages.open(None) for _ in range(count)))
    cursors = [next(m["cursor"] for m in told if m["type"] == "subscribed") for _, told in opened]
    for ws, _ in opened:  # the outage: every page's socket drops
        await ws.close()
    s.get(f"/bench/commit/?pk={pages.pks[0]}")  # one row renamed meanwhile
    before = s.json("/bench/state/")["cpu_s"]
    began = time.perf_counter()
    await pages.back(cursors if mode != "whole" else [None] * count, fetch=mode != "sockets")
    took = time.perf_counter() - began
    cpu = s.json("/bench/state/")["cpu_s"] - before
    return {"cpu_ms": cpu * 1000, "requests": pages.requests, "took_ms": took * 1000}


def catch_up(server: Any, redis: Any, cookie: str, quick: bool) -> dict[str, Any]:
    """Section 10; ``server`` is run.py's."""
    count = 10 if quick else 50
    raw: dict[str, list[dict[str, float]]] = {"whole": [], "replay": [], "sockets": []}
    with server("daphne", "redis", redis) as s:
        for mode in raw:  # warm up every path
            asyncio.run(_round(s, cookie, 2, mode))
        for _ in range(REPEATS):  # interleaved, so all see the same machine
            for mode in raw:
                raw[mode].append(asyncio.run(_round(s, cookie, count, mode)))
    out: dict[str, Any] = {"pages": count}
    for mode, rounds in raw.items():
        out[mode] = {
            key: spread([r[key] for r in rounds], 1) for key in ("cpu_ms", "requests", "took_ms")
        }
    out["cpu_ratio"] = spread(
        [r["cpu_ms"] / w["cpu_ms"] for r, w in zip(raw["replay"], raw["whole"], strict=True)]
    )
    out["requests_ratio"] = spread(
        [r["requests"] / w["requests"] for r, w in zip(raw["replay"], raw["whole"], strict=True)]
    )
    out["catch_up_ratio"] = spread(  # what catching up adds to coming back, either way
        [
            (r["cpu_ms"] - b["cpu_ms"]) / (w["cpu_ms"] - b["cpu_ms"])
            for r, w, b in zip(raw["replay"], raw["whole"], raw["sockets"], strict=True)
        ]
    )
    out["target"] = TARGET_RATIO
    return out


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 10."""
    from report import table

    rows = []
    for mode, label in (
        ("whole", "whole check"),
        ("replay", "replay from the cursor"),
        ("sockets", "(coming back alone: socket, subscription, watch; no fetch)"),
    ):
        f = r[mode]
        rows.append([label, shown(f["requests"]), shown(f["cpu_ms"]), shown(f["took_ms"])])
    verdict = judged(r["cpu_ratio"], r["target"])
    return [
        "",
        "## 10. Catching up",
        "",
        f"{r['pages']} changelists of 100 rows on daphne with Redis, each subscribed with its"
        " layout and watching its rows, lose their sockets; one row is renamed meanwhile; they"
        " come back. A *whole check* re-fetches each whole list (every page before the history);"
        " a *replay* subscribes with the page's cursor, is told the one change and re-fetches"
        f" that row. Medians of {REPEATS} repetitions (min to max across them), interleaved:"
        " HTTP requests the pages made, the server process's CPU from the first socket back"
        " to the last page done (ms), and that wall time (ms).",
        "",
        table(["pages came back by", "requests", "server CPU", "wall time"], rows),
        "",
        f"Replay / whole check, server CPU: {shown(r['cpu_ratio'])} (target ≤ {r['target']}:"
        f" {verdict}); requests: {shown(r['requests_ratio'])}. What catching up adds to coming"
        f" back (each less the last row), replay / whole check: {shown(r['catch_up_ratio'])}"
        f" ({judged(r['catch_up_ratio'], r['target'])}).",
    ]
