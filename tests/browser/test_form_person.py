"""Change forms and the connection, as a person meets them: typing, outages, logouts, phones."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from testapp.models import Project, Ticket

from .conftest import forgive_server_away, screenshot, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000
#: Hide or show the page as the browser does when its tab is switched away from and back.
FLIP = (
    "(state) => { Object.defineProperty(document, 'visibilityState',"
    " {value: state, configurable: true});"
    " document.dispatchEvent(new Event('visibilitychange')); }"
)


@pytest.fixture
def ticket() -> Ticket:
    return Ticket.objects.create(project=Project.objects.create(name="Apollo"), title="First")


def mark_page(page: Page) -> None:
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def test_typing_goes_on_while_a_pristine_form_updates_in_place(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    mark_page(page)
    page.click("#id_notes")
    ticket.title = "Renamed elsewhere"
    ticket.save()
    expect(page.locator("#id_title")).to_have_value("Renamed elsewhere", timeout=WAIT)
    page.keyboard.type("my words")
    expect(page.locator("#id_notes")).to_have_value("my words")
    expect(page.locator("#id_notes")).to_be_focused()
    expect(page.locator("#live-admin-banner")).to_contain_text("This object was changed")
    expect(page.locator(".field-title.live-admin-changed")).to_have_count(1)
    assert not_reloaded(page)
    page.click("input[name=_save]")  # saves the typed notes with the other user's title
    page.wait_for_url("**/admin/testapp/ticket/")
    ticket.refresh_from_db()
    assert (ticket.title, ticket.notes) == ("Renamed elsewhere", "my words")


def test_a_focused_field_is_the_users_until_they_leave_it_unchanged(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    page.click("#id_title")
    ticket.title = "Renamed elsewhere"
    ticket.save()
    expect(page.locator("#live-admin-banner")).to_contain_text("changed", timeout=WAIT)
    expect(page.locator("#id_title")).to_have_value("First")  # not changed under the caret
    page.keyboard.press("Tab")
    expect(page.locator("#id_title")).to_have_value("Renamed elsewhere")


def test_a_change_form_catches_up_after_the_server_was_away(
    open_page: OpenPage, admin_user: User, server: Daphne, ticket: Ticket, console_errors: list
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    server.stop()
    page.wait_for_selector('#live-admin[data-live-state="reconnecting"]', state="attached")
    ticket.title = "Saved while the server was down"
    ticket.save()
    server.start()
    started = time.monotonic()
    wait_live(page)
    assert time.monotonic() - started < 5  # a small deployment is back quickly
    expect(page.locator("#id_title")).to_have_value("Saved while the server was down", timeout=WAIT)
    expect(page.locator("#live-admin-banner")).to_contain_text("This object was changed")
    forgive_server_away(console_errors)


def test_offline_says_why_and_offers_a_way_back(
    browser: Browser, open_page: OpenPage, admin_user: User, server: Daphne
) -> None:
    page = open_page(admin_user, "/admin/testapp/project/")
    elsewhere = browser.new_context()
    cookie = page.context.cookies()[0]["value"]
    elsewhere.add_cookies([{"name": "sessionid", "value": cookie, "url": server.url}])
    other = elsewhere.new_page()
    other.goto(server.url + "/admin/")
    other.click("#logout-form button")  # the same session logs out in another window
    # Closed once the logout's answer is in: a context closed mid-navigation can leave
    # Chromium's close waiting forever (a hang seen once in a few dozen runs).
    other.wait_for_url("**/admin/logout/")
    expect(other.locator("#content")).to_contain_text("Thanks for spending some quality time")
    elsewhere.close()
    live = page.locator("#live-admin")
    expect(live).to_have_attribute("data-live-reason", "loggedOut", timeout=WAIT)
    expect(live).to_contain_text("Offline: logged out.")
    with page.context.expect_page() as opened:
        page.click("#live-admin a")  # the pill takes no clicks, but its link does
    login = opened.value  # in a tab of its own: nothing unsaved on this page is lost
    login.wait_for_url("**/admin/login/?next=%2Fadmin%2Ftestapp%2Fproject%2F")
    expect(login.locator("#id_username")).to_be_visible()
    assert page.url.endswith("/admin/testapp/project/")


def test_a_long_outage_says_the_server_is_unreachable(
    open_page: OpenPage, admin_user: User, server: Daphne, console_errors: list
) -> None:
    page = open_page(admin_user, "/admin/testapp/project/")
    server.stop()
    expect(page.locator("#live-admin")).to_have_attribute(
        "data-live-reason", "unreachable", timeout=15_000
    )
    expect(page.locator("#live-admin")).to_contain_text("Server unreachable")
    page.close()  # the page would go on trying, and Chromium on logging each refusal
    forgive_server_away(console_errors)


def test_the_pill_takes_no_click_meant_for_the_page(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    box = page.locator("#live-admin").bounding_box()
    hit = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y).closest('#live-admin') === null",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit


def test_a_phone_sized_screen(
    browser: Browser, server: Daphne, admin_user: User, ticket: Ticket
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(admin_user), "url": server.url}]
    )
    page = context.new_page()
    page.goto(server.url + f"/admin/testapp/ticket/{ticket.pk}/change/")
    wait_live(page)
    page.locator("input[name=_save]").scroll_into_view_if_needed()
    pill = page.locator("#live-admin").bounding_box()
    save = page.locator("input[name=_save]").bounding_box()
    overlap = not (
        pill["x"] > save["x"] + save["width"]
        or pill["x"] + pill["width"] < save["x"]
        or pill["y"] > save["y"] + save["height"]
        or pill["y"] + pill["height"] < save["y"]
    )
    assert not overlap or pill["width"] < 24  # the dot alone, and it takes no clicks anyway
    screenshot(page, "change-form-phone")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/testapp/ticket/")
    context.close()


def test_a_strict_content_security_policy_holds(
    browser: Browser, redis_layer: RedisServer, tmp_path: Path, admin_user: User, ticket: Ticket
) -> None:
    strict = Daphne(tmp_path / "daphne.log", redis_layer.url, env={"LIVE_ADMIN_TEST_CSP": "1"})
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(admin_user), "url": strict.url}]
    )
    context.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        page = context.new_page()
        response = page.goto(strict.url + "/admin/testapp/ticket/")
        assert response.headers["content-security-policy"] == "default-src 'self'"
        wait_live(page)
        Ticket.objects.create(project=ticket.project, title="Arrived under a strict policy")
        expect(page.locator("#result_list tbody tr", has_text="Arrived under")).to_have_count(
            1, timeout=WAIT
        )
        assert page.evaluate("window.__violations") == []
        page.goto(strict.url + f"/admin/testapp/ticket/{ticket.pk}/change/")
        wait_live(page)
        ticket.title = "Changed under a strict policy"
        ticket.save()
        expect(page.locator("#id_title")).to_have_value(
            "Changed under a strict policy", timeout=WAIT
        )
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()
        strict.stop()


@pytest.mark.parametrize("kind", ["form", "list"])
def test_a_page_coming_back_into_view_checks_what_it_missed(
    open_page: OpenPage, admin_user: User, ticket: Ticket, kind: str
) -> None:
    path = (
        f"/admin/testapp/ticket/{ticket.pk}/change/" if kind == "form" else "/admin/testapp/ticket/"
    )
    page = open_page(admin_user, path)
    page.evaluate(FLIP, "hidden")
    Ticket.objects.filter(pk=ticket.pk).update(title="Changed, unannounced")  # no signal
    page.evaluate(FLIP, "visible")
    if kind == "form":
        expect(page.locator("#id_title")).to_have_value("Changed, unannounced", timeout=WAIT)
    else:
        expect(
            page.locator("#result_list tbody tr", has_text="Changed, unannounced")
        ).to_have_count(1, timeout=WAIT)


def test_an_ended_session_is_not_a_deleted_object(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    from django.contrib.sessions.models import Session

    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    Session.objects.all().delete()  # the session ends without a logout (expiry, a flush)
    page.evaluate(FLIP, "hidden")
    page.evaluate(FLIP, "visible")  # the page checks its object: the admin answers with login
    expect(page.locator("#live-admin")).to_have_attribute("data-checks", "1", timeout=WAIT)
    expect(page.locator("#live-admin-banner")).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_be_enabled()
