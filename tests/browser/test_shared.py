"""One connection per browser: every live admin tab of one browser shares one server socket
(a SharedWorker's), and each tab is as live, and as alone in what it follows, as with its own."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from conftest import Daphne, session_cookie, wait_for
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Page, expect

from live_admin.delivery.sender import sender
from testapp.models import Project, Ticket

from .conftest import screenshot, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10_000


def server_sockets(server: Daphne) -> int:
    with urllib.request.urlopen(server.url + "/__state__/", timeout=10) as response:
        return int(json.load(response)["sockets"])


@pytest.fixture
def tickets() -> list[Ticket]:
    project = Project.objects.create(name="Apollo")
    return [Ticket.objects.create(project=project, title=f"Ticket {i}") for i in range(3)]


@pytest.fixture
def one_browser(browser: Browser, server: Daphne, admin_user: User) -> Iterator[BrowserContext]:
    """A browser profile of the admin's: its tabs share cookies, and one connection."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(admin_user), "url": server.url}]
    )
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    yield context
    context.close()
    assert errors == []


#: Keeps each state the page's status goes through (a background tab's may pass unseen).
STATES = """
window.__states = [];
new MutationObserver(() => {
  const state = document.getElementById("live-admin")?.dataset.liveState;
  if (state && state !== window.__states.at(-1)) window.__states.push(state);
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-live-state"] });
"""


def tab(context: BrowserContext, server: Daphne, path: str) -> Page:
    page = context.new_page()
    page.goto(server.url + path)
    return page


def all_live(tabs: list[Page], state: str = "live") -> None:
    for page in tabs:
        wait_live(page, state)


def rename(ticket: Ticket, title: str) -> None:
    ticket.title = title
    ticket.save()
    assert sender.flush(10)


def test_many_tabs_share_one_socket_and_each_is_live(
    one_browser: BrowserContext, server: Daphne, tickets: list[Ticket]
) -> None:
    paths = ["/admin/testapp/ticket/"] + [
        f"/admin/testapp/ticket/{tickets[i % 3].pk}/change/" for i in range(23)
    ]
    tabs = [tab(one_browser, server, path) for path in paths]
    all_live(tabs)
    assert server_sockets(server) == 1
    rename(tickets[0], "Heard by every tab")
    expect(tabs[0].locator("#result_list tbody tr", has_text="Heard by every")).to_have_count(
        1, timeout=WAIT
    )
    for page in tabs[1::3]:  # the forms of that ticket
        expect(page.locator("#id_title")).to_have_value("Heard by every tab", timeout=WAIT)
    for page in tabs[14:]:  # ten tabs closed
        page.close()
    rename(tickets[1], "After ten closed")
    expect(tabs[0].locator("#result_list tbody tr", has_text="After ten")).to_have_count(
        1, timeout=WAIT
    )
    for page in tabs[2:14:3]:
        expect(page.locator("#id_title")).to_have_value("After ten closed", timeout=WAIT)
    assert server_sockets(server) == 1
    screenshot(tabs[0], "shared-list")


def test_a_closed_tab_s_subscriptions_end_and_its_presence_goes(
    one_browser: BrowserContext,
    browser: Browser,
    server: Daphne,
    open_page: object,
    bob: User,
    tickets: list[Ticket],
) -> None:
    url = f"/admin/testapp/ticket/{tickets[0].pk}/change/"
    first, second = tab(one_browser, server, url), tab(one_browser, server, url)
    for page in (first, second):
        wait_live(page)
    other = open_page(bob, url)  # type: ignore[operator]
    presence = other.locator("#live-admin-presence")
    expect(presence).to_have_text("Ada Root is viewing", timeout=WAIT)  # two tabs: one person
    second.click("#id_title")
    second.keyboard.type(" edited")
    expect(presence).to_have_text("Ada Root is editing Title", timeout=WAIT)
    second.close()  # the editing tab goes: the viewing one stays
    expect(presence).to_have_text("Ada Root is viewing", timeout=WAIT)
    first.close()
    expect(presence).to_have_text("", timeout=WAIT)
    wait_for(lambda: server_sockets(server) == 1)  # bob's; the browser's one lingers, then goes


def test_logging_out_in_one_tab_takes_every_tab_offline(
    one_browser: BrowserContext, server: Daphne, tickets: list[Ticket]
) -> None:
    tabs = [tab(one_browser, server, "/admin/testapp/ticket/") for _ in range(3)]
    all_live(tabs)
    tabs[0].locator("#logout-form button, a[href$='/logout/']").first.click()
    for page in tabs[1:]:
        wait_live(page, "offline")
        expect(page.locator("#live-admin .live-admin-label")).to_contain_text("logged out")


def test_a_killed_worker_is_replaced_and_the_tabs_come_back_without_a_reload(
    one_browser: BrowserContext, browser: Browser, server: Daphne, tickets: list[Ticket]
) -> None:
    one_browser.add_init_script(STATES)
    tabs = [tab(one_browser, server, "/admin/testapp/ticket/") for _ in range(2)]
    all_live(tabs)
    for page in tabs:
        page.evaluate("window.__notReloaded = true")
    cdp = browser.new_browser_cdp_session()
    targets = cdp.send("Target.getTargets")["targetInfos"]
    ours = {
        t["browserContextId"] for t in targets if t["type"] == "page" and t["url"] == tabs[0].url
    }
    workers = [t for t in targets if t["type"] == "shared_worker" and t["browserContextId"] in ours]
    assert len(workers) == 1  # this browser profile's one
    # As if it crashed: the worker ends itself, mid-work.
    attached = cdp.send("Target.attachToTarget", {"targetId": workers[0]["targetId"]})
    evaluate = {"id": 1, "method": "Runtime.evaluate", "params": {"expression": "close()"}}
    cdp.send(
        "Target.sendMessageToTarget",
        {"sessionId": attached["sessionId"], "message": json.dumps(evaluate)},
    )
    for page in tabs:  # it stopped answering, then they came back through a new worker
        page.wait_for_function(
            "window.__states.slice(-2).join() === 'reconnecting,live'", polling=100, timeout=WAIT
        )
    rename(tickets[2], "Through the new worker")
    for page in tabs:
        expect(page.locator("#result_list tbody tr", has_text="new worker")).to_have_count(
            1, timeout=WAIT
        )
        assert page.evaluate("window.__notReloaded === true")
    assert server_sockets(server) == 1


def test_a_worker_not_served_leaves_each_tab_a_socket_of_its_own(
    one_browser: BrowserContext, server: Daphne, tickets: list[Ticket]
) -> None:
    """An upgrade served without its new static files (collectstatic not run again)."""
    one_browser.route("**/live_admin/shared.js", lambda route: route.fulfill(status=404))
    tabs = [tab(one_browser, server, "/admin/testapp/ticket/") for _ in range(3)]
    all_live(tabs)
    assert server_sockets(server) == 3
    rename(tickets[0], "Heard on each tab's own")
    for page in tabs:
        expect(page.locator("#result_list tbody tr", has_text="each tab's own")).to_have_count(
            1, timeout=WAIT
        )


def leading_tab(tabs: list[Page]) -> Page:
    """The tab whose page holds the browser's one socket."""
    (leader,) = [p for p in tabs if p.evaluate("window.__sockets.length") == 1]
    return leader


#: Counts the websockets the page itself opens (the leading tab's is the browser's one).
SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(args[0]); }
};
"""


def test_without_a_shared_worker_one_tab_leads_and_the_next_takes_over(
    one_browser: BrowserContext, server: Daphne, tickets: list[Ticket]
) -> None:
    """Where the browser has no SharedWorker (Chrome on Android), one tab holds the socket and
    the others reach it over a BroadcastChannel; when that tab closes, another leads."""
    one_browser.add_init_script("window.SharedWorker = undefined;")
    one_browser.add_init_script(STATES)
    one_browser.add_init_script(SOCKETS)
    paths = ["/admin/testapp/ticket/"] * 2 + [f"/admin/testapp/ticket/{tickets[0].pk}/change/"] * 3
    tabs = [tab(one_browser, server, path) for path in paths]
    all_live(tabs)
    assert server_sockets(server) == 1
    leader = leading_tab(tabs)
    assert leader is tabs[0]  # the first tab took the lead
    rename(tickets[0], "Through the leading tab")
    for page in tabs[2:]:
        expect(page.locator("#id_title")).to_have_value("Through the leading tab", timeout=WAIT)
    expect(tabs[1].locator("#result_list tbody tr", has_text="leading tab")).to_have_count(
        1, timeout=WAIT
    )
    for page in tabs[1:]:
        page.evaluate("window.__notReloaded = true")
    leader.close()
    rest = tabs[1:]
    for page in rest:  # told their leader went, then live through the next
        page.wait_for_function(
            "window.__states.slice(-2).join() === 'reconnecting,live'", polling=100, timeout=WAIT
        )
    leading_tab(rest)
    rename(tickets[0], "Through the next one")
    for page in rest[1:]:
        expect(page.locator("#id_title")).to_have_value("Through the next one", timeout=WAIT)
        assert page.evaluate("window.__notReloaded === true")
    wait_for(lambda: server_sockets(server) == 1)
