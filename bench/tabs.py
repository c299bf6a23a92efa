"""11. Tabs: what one person's open tabs cost the server — sockets, and the messages their pages
send it — with a socket per tab (as before: the shared connection's worker not served), with
the browser's one shared connection in a SharedWorker, and with one tab leading the others (a
browser without SharedWorker).

``python bench/run.py --only tabs`` runs this section alone.

Real Chromium (Debian's), one browser profile, 1, 10 and 30 tabs of the bench's ``Item`` admin
on daphne with Redis: every other tab a changelist, the rest change forms (present, so they
send presence every few seconds). Once every tab is live, the server's open sockets and the
messages the pages sent it (websocket frames, and POSTs of the fallback transport) over a
``WINDOW`` seconds, per second.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

WINDOW = 12.0
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
MODES = ("a socket per tab", "one shared connection", "one tab leading")


def _state(s: Any) -> dict[str, Any]:
    return dict(s.json("/bench/state/"))


def _sent(state: dict[str, Any]) -> int:
    return sum(state.get("received", {}).values())


def _measure(browser: Any, s: Any, cookie: str, tabs: int, mode: str) -> dict[str, Any]:
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": s.url}])
    if mode == MODES[0]:  # as before the shared connection: each tab connects on its own
        context.route("**/live_admin/shared.js", lambda route: route.fulfill(status=404))
    if mode == MODES[2]:  # as in a browser without SharedWorker
        context.add_init_script("window.SharedWorker = undefined;")
    pages = []
    for i in range(tabs):
        page = context.new_page()
        path = "/admin/benchapp/item/" if i % 2 == 0 else f"/admin/benchapp/item/{i}/change/"
        page.goto(s.url + path)
        pages.append(page)
    for page in pages:
        page.wait_for_selector('#live-admin[data-live-state="live"]', state="attached")
    pages[0].wait_for_timeout(2000)  # the tabs' first messages (subscribe, watch, badges) out
    before, began = _state(s), time.monotonic()
    pages[0].wait_for_timeout(WINDOW * 1000)
    after, took = _state(s), time.monotonic() - began
    context.close()
    deadline = time.monotonic() + 30
    while _state(s)["sockets"] and time.monotonic() < deadline:  # closed before the next
        time.sleep(0.2)
    return {
        "tabs": tabs,
        "sockets": after["sockets"],
        "messages_per_s": round((_sent(after) - _sent(before)) / took, 2),
    }


def tabs_cost(server: Any, redis: Any, cookie: str, quick: bool) -> dict[str, Any]:
    """Section 11; ``server`` is run.py's."""
    from playwright.sync_api import sync_playwright

    counts = (1, 4) if quick else (1, 10, 30)
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError("the tabs section needs Debian's chromium (make bench installs it)")
    rows: list[dict[str, Any]] = []
    with server("daphne", "redis", redis) as s, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for tabs in counts:
                for mode in MODES:
                    row = _measure(browser, s, cookie, tabs, mode)
                    rows.append({"mode": mode, **row})
        finally:
            browser.close()
    return {"window_s": WINDOW, "rows": rows}


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 11."""
    from report import table

    rows = [[x["tabs"], x["mode"], x["sockets"], x["messages_per_s"]] for x in r["rows"]]
    return [
        "",
        "## 11. Tabs",
        "",
        "One person's tabs in one Chromium profile, on daphne with Redis: every other tab a"
        " changelist of 100 rows, the rest change forms (which say their presence every few"
        " seconds). Once every tab is live: the server's open sockets, and the messages the"
        f" pages sent it per second over {r['window_s']:g} s (websocket frames, and POSTs of the"
        " fallback transport). *A socket per tab* is how pages connected before the shared"
        " connection (and still do where the browser can share no connection): the bench lets one"
        " user hold any number of sockets; by default `MAX_SOCKETS_PER_USER` (20) would leave"
        " the 21st tab waiting.",
        "",
        table(["tabs", "connected by", "server sockets", "messages / s"], rows),
    ]
