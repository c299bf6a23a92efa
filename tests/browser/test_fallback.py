"""Pages whose websocket is blocked (a proxy that refuses the upgrade, or cuts it at once) go
live over the event stream and its POSTs, and stay as live as over a websocket."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import Daphne, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Page, expect
from proxy import UpgradeRefusingProxy

from live_admin.delivery.sender import sender
from testapp.models import Project, Ticket

from .conftest import screenshot, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000
#: What Chromium logs for a websocket the test blocks: expected here, and only here.
BLOCKED = ("Unexpected response code: 403", "WebSocket is closed before the connection")


@pytest.fixture
def ticket() -> Ticket:
    return Ticket.objects.create(project=Project.objects.create(name="Apollo"), title="First")


@pytest.fixture
def proxies(server: Daphne) -> Iterator[dict[str, UpgradeRefusingProxy]]:
    made = {
        "refused": UpgradeRefusingProxy(server.port),
        "cut": UpgradeRefusingProxy(server.port, cut=True),
        "timed out": UpgradeRefusingProxy(server.port, streams_for=3),
    }
    yield made
    for proxy in made.values():
        proxy.stop()


@pytest.fixture
def blocked(
    browser: Browser, proxies: dict[str, UpgradeRefusingProxy]
) -> Iterator[Callable[..., Page]]:
    """Open ``path`` as ``user`` through a proxy that refuses every websocket upgrade
    (``how="refused"``), or lets it through and closes it at once (``how="cut"``)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_blocked(user: User, path: str, how: str = "refused") -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        url = proxies[how].url
        context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": url}])
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + path)
        return page

    yield open_blocked
    for context in contexts:
        context.close()
    assert [e for e in errors if not any(b in e for b in BLOCKED)] == [], errors


@pytest.mark.parametrize("how", ["refused", "cut"])
def test_a_blocked_page_is_live_over_the_stream_and_hears_a_change_at_once(
    blocked: Callable[..., Page],
    proxies: dict[str, UpgradeRefusingProxy],
    admin_user: User,
    ticket: Ticket,
    how: str,
) -> None:
    began = time.monotonic()
    form = blocked(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/", how)
    wait_live(form)
    assert time.monotonic() - began < 5
    expect(form.locator("#live-admin")).to_have_attribute("data-transport", "stream")
    assert proxies[how].refused >= 2
    ticket.title = "Changed by a script"
    ticket.save()
    assert sender.flush(10)
    expect(form.locator("#id_title")).to_have_value("Changed by a script", timeout=1_000)


def test_presence_and_a_list_work_over_the_stream(
    blocked: Callable[..., Page],
    open_page: OpenPage,
    admin_user: User,
    bob: User,
    ticket: Ticket,
) -> None:
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada = blocked(admin_user, url)
    wait_live(ada)
    other = open_page(bob, url)  # over a websocket
    expect(ada.locator("#live-admin-presence")).to_have_text("Bob Other is viewing", timeout=WAIT)
    expect(other.locator("#live-admin-presence")).to_have_text("Ada Root is viewing", timeout=WAIT)
    ada.click("#id_title")
    ada.keyboard.type(" edited")  # editing, said in a POST
    expect(other.locator("#live-admin-presence")).to_have_text(
        "Ada Root is editing Title", timeout=WAIT
    )
    listing = blocked(admin_user, "/admin/testapp/ticket/")
    wait_live(listing)
    # Its rows followed (the watch POSTed, answered on the stream):
    expect(listing.locator("#live-admin")).to_have_attribute(
        "data-watching", re.compile(r"\d"), timeout=WAIT
    )
    ticket.title = "Renamed by another"
    ticket.save()
    expect(listing.locator("#result_list tbody tr", has_text="Renamed by another")).to_have_count(
        1, timeout=WAIT
    )
    assert listing.locator("#live-admin").get_attribute("data-row-refreshes") == "1"
    screenshot(listing, "fallback-list")


def test_logging_out_in_another_tab_takes_a_streamed_page_offline(
    blocked: Callable[..., Page], open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = blocked(admin_user, "/admin/testapp/ticket/")
    wait_live(page)
    page.context.new_page()  # the same browser: its session
    other = page.context.pages[-1]
    other.goto(page.url.split("/admin/")[0] + "/admin/")
    other.locator("#logout-form button, a[href$='/logout/']").first.click()
    wait_live(page, "offline")
    expect(page.locator("#live-admin .live-admin-label")).to_contain_text("logged out")


def test_a_stream_a_proxy_ends_comes_back_with_its_cursor_and_loses_nothing(
    blocked: Callable[..., Page],
    proxies: dict[str, UpgradeRefusingProxy],
    admin_user: User,
    ticket: Ticket,
) -> None:
    proxy = proxies["timed out"]  # refuses websockets, and ends each stream after 3 s
    listing = blocked(admin_user, "/admin/testapp/ticket/", "timed out")
    wait_live(listing)
    expect(listing.locator("#live-admin")).to_have_attribute("data-watching", re.compile(r"\d"))
    proxy.open.clear()  # the next stream waits
    wait_live(listing, "reconnecting")  # the proxy ended it
    ticket.title = "Changed while the stream was away"
    ticket.save()
    assert sender.flush(10)
    proxy.open.set()
    expect(listing.locator("#result_list tbody tr", has_text="while the stream")).to_have_count(
        1, timeout=WAIT
    )
    live = listing.locator("#live-admin")
    assert (live.get_attribute("data-row-refreshes"), live.get_attribute("data-refreshes")) == (
        "1",
        None,
    )  # told what it missed, from its cursor: the one row
