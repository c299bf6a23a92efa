"""Change badges on the index, the app index and the sidebar, as a person sees them: another
process saves, the count appears; opening the list clears it, on every page of the user."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from conftest import Daphne, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Locator, Page, expect

from testapp.models import Order, Project

from .conftest import forgive_server_away, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


def badges_live(page: Page) -> None:
    page.wait_for_selector('#live-admin-badges[data-state="live"]', state="attached", timeout=WAIT)


def badge(page: Page, model: str, scope: str = "#content-main") -> Locator:
    return page.locator(f"{scope} tr.model-{model} th a .live-admin-badge")


def test_the_index_counts_changes_live_and_opening_the_list_clears_them(
    open_page: OpenPage, admin_user: User
) -> None:
    index = open_page(admin_user, "/admin/", state=None)
    badges_live(index)
    expect(index.locator(".live-admin-badge")).to_have_count(0)
    ann = Order.objects.create(customer="Ann")  # saved by another process: this test's
    expect(badge(index, "order")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    link = index.locator("#content-main tr.model-order th a")
    expect(link).to_have_accessible_name(
        re.compile(r"^Orders \(1 changed since you last opened the list\)\s*$")
    )
    ann.customer = "Ann again"
    ann.save()  # the same object: still one
    Order.objects.create(customer="Ben")
    Project.objects.create(name="Apollo")
    expect(badge(index, "order")).to_have_text(re.compile(r"^2"), timeout=WAIT)
    expect(badge(index, "project")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    expect(badge(index, "ticket")).to_have_count(0)  # its admin sets live_badges = False
    screenshot(index, "badges-index")

    link.click()  # to the list: seen
    index.wait_for_url("**/admin/testapp/order/")
    index.wait_for_selector('#live-admin[data-live-state="live"]', state="attached")
    sidebar = index.locator("#nav-sidebar")
    expect(badge(index, "project", "#nav-sidebar")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    expect(sidebar.locator("tr.model-order .live-admin-badge")).to_have_count(0)
    Order.objects.create(customer="Cid")  # seen here, as the list shows it
    expect(index.locator("#result_list tbody tr", has_text="Cid")).to_have_count(1, timeout=WAIT)
    Project.objects.create(name="Gemini")
    expect(badge(index, "project", "#nav-sidebar")).to_have_text(re.compile(r"^2"), timeout=WAIT)
    # The sidebar's own filter still reads the models' names, not the badges' words.
    index.click("#nav-filter")
    index.keyboard.type("chan")
    expect(index.locator("#nav-sidebar tr.model-project")).to_be_hidden()
    expect(index.locator("#nav-filter")).to_have_class(re.compile(r"\bno-results\b"))
    index.keyboard.press("Escape")
    index.keyboard.type("proj")
    expect(index.locator("#nav-sidebar tr.model-project")).to_be_visible()
    expect(index.locator("#nav-sidebar tr.model-order")).to_be_hidden()

    index.locator("#site-name a").click()  # home, as a person goes
    index.wait_for_url("**/admin/")
    badges_live(index)
    expect(badge(index, "project")).to_have_text(re.compile(r"^2"), timeout=WAIT)
    expect(badge(index, "order")).to_have_count(0)


def test_opening_the_list_in_another_tab_clears_the_badge(
    open_page: OpenPage, admin_user: User, bob: User
) -> None:
    app_index = open_page(admin_user, "/admin/testapp/", state=None)
    badges_live(app_index)
    bobs = open_page(bob, "/admin/", state=None)
    badges_live(bobs)
    Order.objects.create(customer="Ann")
    expect(badge(app_index, "order")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    expect(badge(bobs, "order")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    open_page(admin_user, "/admin/testapp/order/")
    expect(badge(app_index, "order")).to_have_count(0, timeout=WAIT)
    expect(badge(bobs, "order")).to_have_text(re.compile(r"^1"))  # Bob has not looked


def test_the_badges_come_back_after_a_server_restart(
    open_page: OpenPage, admin_user: User, server: Daphne, console_errors: list[str]
) -> None:
    index = open_page(admin_user, "/admin/", state=None)
    badges_live(index)
    server.stop()
    index.wait_for_selector('#live-admin-badges[data-state="offline"]', state="attached")
    Order.objects.create(customer="saved while the server was down")
    server.start()
    expect(badge(index, "order")).to_have_text(re.compile(r"^1"), timeout=WAIT)
    forgive_server_away(console_errors)


def test_badges_in_the_dark_on_a_phone(browser: Browser, server: Daphne, admin_user: User) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    url = server.url
    context.add_cookies([{"name": "sessionid", "value": session_cookie(admin_user), "url": url}])
    page = context.new_page()
    page.goto(url + "/admin/")
    badges_live(page)
    Order.objects.create(customer="Ann")
    found = badge(page, "order")
    expect(found).to_have_text(re.compile(r"^1"), timeout=WAIT)
    box = found.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
    screenshot(page, "badges-phone-dark")
    context.close()
