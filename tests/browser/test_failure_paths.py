"""Where things fail, as a person meets it: a proxy's 502, server errors, a list open all day,
too many tabs, a server without the live route. Only the server's explicit word ends a page or
marks an object gone."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Page, Route, WebSocketRoute, expect

from testapp.models import Project, Ticket

from .conftest import wait_live, without_shared_connection

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 15_000


def refreshes(route: Route) -> bool:
    return route.request.headers.get("x-live-admin-refresh") == "1"


@pytest.mark.parametrize("failure", ["502", "network"])
def test_a_failed_refetch_of_a_change_form_is_no_deletion(
    open_page: OpenPage, admin_user: User, failure: str, console_errors: list[str]
) -> None:
    ticket = Ticket.objects.create(title="Before", project=Project.objects.create(name="P"))
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    failing = True

    def proxy(route: Route) -> None:
        if not (failing and refreshes(route)):
            route.continue_()
        elif failure == "502":  # what a proxy answers while the server restarts for a deploy
            route.fulfill(status=502, body="Bad Gateway")
        else:
            route.abort("connectionreset")

    page.route(re.compile(r".*/change/$"), proxy)
    ticket.title = "Saved by someone else"
    ticket.save()
    banner = page.locator("#live-admin-banner")
    expect(banner).to_contain_text("Couldn't check for changes, retrying", timeout=WAIT)
    expect(page.locator("#live-admin")).not_to_have_attribute("data-object-deleted", "true")
    expect(page.locator("input[name=_save]")).to_be_enabled()  # saving stays possible
    expect(page.locator(".submit-row a.deletelink")).to_have_attribute("href", re.compile("delete"))
    failing = False  # the server is back: the next try brings the change in
    expect(page.locator("#id_title")).to_have_value("Saved by someone else", timeout=WAIT)
    page.unroute(re.compile(r".*/change/$"))
    # The browser's own report of the failed fetches, which this test made on purpose.
    failed = ("502 (Bad Gateway)", "ERR_CONNECTION_RESET")
    console_errors[:] = [e for e in console_errors if not any(f in e for f in failed)]


def test_a_deleted_objects_delete_link_is_disabled_with_its_save_buttons(
    open_page: OpenPage, admin_user: User
) -> None:
    ticket = Ticket.objects.create(title="Going", project=Project.objects.create(name="P"))
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    ticket.delete()
    expect(page.locator("#live-admin-banner")).to_contain_text("was deleted", timeout=WAIT)
    expect(page.locator("input[name=_save]")).to_be_disabled()
    link = page.locator(".submit-row a.deletelink")
    expect(link).to_have_attribute("aria-disabled", "true")
    expect(link).not_to_have_attribute("href", re.compile(".*"))


def test_server_errors_do_not_end_a_page(open_page: OpenPage, admin_user: User) -> None:
    """A database hiccup or a rate limit is told to the page as an error; only ``forbidden``
    and ``not_found`` end it. The errors are the server's, passed through a real socket."""
    page = open_page(admin_user, "/admin/testapp/project/", state=None, own_socket=True)
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:  # the real server, with errors said in between
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))
        server.on_message(lambda message: ws.send(message))
        sockets.append(ws)

    page.route_web_socket(re.compile(r".*/ws/live-admin/"), through)
    page.reload()
    wait_live(page)
    for code in ("server_error", "rate_limited", "too_many", "invalid"):
        error = {"type": "error", "id": "page", "code": code, "message": "passing"}
        sockets[-1].send(json.dumps(error))
    live = page.locator("#live-admin")
    Project.objects.create(name="Still heard")  # the page still follows its list
    expect(page.locator("#result_list tbody tr", has_text="Still heard")).to_have_count(
        1, timeout=WAIT
    )
    expect(live).to_have_attribute("data-live-state", "live")
    sockets[-1].send(
        json.dumps({"type": "error", "id": "page", "code": "forbidden", "message": "x"})
    )
    expect(live).to_have_attribute("data-live-state", "offline", timeout=WAIT)
    expect(live).to_contain_text("not allowed")


def listeners(page: Page) -> dict[str, int]:
    """How many event listeners the document and the window hold (Chromium's own count)."""
    cdp = page.context.new_cdp_session(page)
    counts = {}
    for name in ("document", "window"):
        found = cdp.send("Runtime.evaluate", {"expression": name})
        reply = cdp.send("DOMDebugger.getEventListeners", {"objectId": found["result"]["objectId"]})
        counts[name] = len(reply["listeners"])
    cdp.detach()
    return counts


def test_whole_list_swaps_leave_no_listeners_behind(open_page: OpenPage, admin_user: User) -> None:
    Project.objects.create(name="First")
    page = open_page(admin_user, "/admin/testapp/project/")
    live = page.locator("#live-admin")
    Project.objects.create(name="Swap 1")  # created: always a whole-list refresh
    expect(live).to_have_attribute("data-refreshes", "1", timeout=WAIT)
    after_first = listeners(page)
    for n in range(2, 13):
        Project.objects.create(name=f"Swap {n}")
        expect(live).to_have_attribute("data-refreshes", str(n), timeout=WAIT)
    assert listeners(page) == after_first
    # Django's action bar still works on the twelfth list: a tick counts, select-all answers.
    page.locator("#result_list tbody input.action-select").first.click()
    expect(page.locator(".action-counter")).to_contain_text("1 of")


@contextmanager
def logged_in(browser: Browser, server: Daphne, user: User) -> Iterator[BrowserContext]:
    """A browser context of ``user``'s on a server of the test's own, both ended after."""
    context = browser.new_context()
    try:
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie(user), "url": server.url}]
        )
        yield context
    finally:
        context.close()
        server.stop()


def test_a_tab_over_the_socket_limit_says_so_and_gets_a_socket_when_one_frees(
    browser: Browser, admin_user: User, tmp_path: Path, redis_layer: RedisServer
) -> None:
    server = Daphne(
        tmp_path / "daphne.log", redis_layer.url, env={"LIVE_ADMIN_TEST_MAX_SOCKETS": "1"}
    )
    with logged_in(browser, server, admin_user) as context:
        without_shared_connection(context)  # its tabs share no socket: each spends one
        first = context.new_page()
        first.goto(server.url + "/admin/testapp/project/")
        wait_live(first)
        second = context.new_page()  # one tab too many for this user
        second.goto(server.url + "/admin/testapp/project/")
        live = second.locator("#live-admin")
        expect(live).to_have_attribute("data-live-reason", "tooManyTabs", timeout=WAIT)
        expect(live).to_contain_text("too many tabs open")
        expect(live).not_to_contain_text("unreachable")
        first.close()  # its socket frees: the waiting tab takes one
        expect(live).to_have_attribute("data-live-state", "live", timeout=30_000)


class HttpOnly(Daphne):
    """The stock asgi.py: HTTP only, no websocket route."""

    def command(self) -> list[str]:
        return [
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "testproject.asgi:django_asgi_app",
        ]


def test_a_refused_live_connection_says_so_while_the_site_answers(
    browser: Browser, admin_user: User, tmp_path: Path, transactional_db: None
) -> None:
    Project.objects.create(name="Listed")
    server = HttpOnly(tmp_path / "daphne.log")
    with logged_in(browser, server, admin_user) as context:
        page = context.new_page()
        page.goto(server.url + "/admin/testapp/project/")
        live = page.locator("#live-admin")
        expect(live).to_have_attribute("data-live-reason", "refused", timeout=WAIT)
        expect(live).to_contain_text("refuses live updates")
        expect(live.locator("a")).to_have_attribute("target", "_blank")  # the installation docs
        expect(page.locator("#result_list")).to_be_visible()  # the stock page works as ever
