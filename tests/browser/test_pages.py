"""Live changelists and change forms in a real browser, two users side by side."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from conftest import Daphne
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from live_admin.delivery.sender import sender
from testapp.models import Order, Project, Ticket

from .conftest import forgive_server_away, screenshot, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000  # ms: generous; how fast it arrives is measured by the benchmarks


def mark_page(page: Page) -> None:
    """Tag the document, so a reload (which would drop the tag) can be detected."""
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page: Page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def refreshes(page: Page) -> int:
    return int(page.locator("#live-admin").get_attribute("data-refreshes") or 0)


@pytest.fixture
def tickets() -> list[Ticket]:
    project = Project.objects.create(name="Apollo")
    return [
        Ticket.objects.create(project=project, title=f"Ticket {i}", status="open") for i in range(5)
    ]


def test_an_edit_appears_in_the_other_users_list_without_reload(
    open_page: OpenPage, admin_user: User, bob: User, tickets: list[Ticket]
) -> None:
    watching = open_page(admin_user, "/admin/testapp/ticket/?status__exact=open&q=Ticket&o=1")
    url = watching.url
    mark_page(watching)

    editing = open_page(bob, f"/admin/testapp/ticket/{tickets[2].pk}/change/")
    editing.fill("#id_title", "Ticket renamed by Bob")
    editing.click("input[name=_save]")
    editing.wait_for_url("**/admin/testapp/ticket/")

    row = watching.locator("#result_list tbody tr", has_text="Ticket renamed by Bob")
    expect(row).to_have_count(1, timeout=WAIT)
    expect(row).to_have_class("live-admin-flash", timeout=WAIT)
    assert not_reloaded(watching)
    assert watching.url == url  # filters, search and ordering kept
    screenshot(watching, "changelist-flash")


def test_rows_that_leave_fade_out_and_new_rows_appear(
    open_page: OpenPage, admin_user: User, tickets: list[Ticket]
) -> None:
    page = open_page(admin_user, "/admin/testapp/ticket/?status__exact=open")
    mark_page(page)
    tickets[0].status = "closed"  # leaves the filtered list
    tickets[0].save()
    Ticket.objects.create(project=tickets[1].project, title="Brand new", status="open")
    expect(page.locator("#result_list tbody tr", has_text="Brand new")).to_have_count(
        1, timeout=WAIT
    )
    expect(page.locator("#result_list tbody tr:not(.live-admin-gone)")).to_have_count(
        5, timeout=WAIT
    )
    expect(page.locator("tr.live-admin-gone")).to_have_count(0, timeout=WAIT)  # faded, then removed
    assert not_reloaded(page)


def test_selection_survives_and_an_action_then_runs_on_it(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=f"Customer {i}") for i in range(4)]
    page = open_page(admin_user, "/admin/testapp/order/")
    mark_page(page)
    for order in orders[:2]:
        page.check(f"input.action-select[value='{order.pk}']")
    expect(page.locator(".action-counter")).to_contain_text("2 of 4 selected")

    Order.objects.create(customer="Arrived meanwhile")
    held = page.locator("#live-admin-held")
    expect(held).to_have_text("1 update — show", timeout=WAIT)  # not swapped under the selection
    expect(page.locator("#result_list tbody tr", has_text="Arrived meanwhile")).to_have_count(0)
    held.click()
    expect(page.locator("#result_list tbody tr", has_text="Arrived meanwhile")).to_have_count(
        1, timeout=WAIT
    )
    for order in orders[:2]:
        expect(page.locator(f"input.action-select[value='{order.pk}']")).to_be_checked()
    expect(page.locator(".action-counter")).to_contain_text("2 of 5 selected")
    assert not_reloaded(page)

    page.select_option("select[name=action]", "mark_shipped")
    page.click("button[name=index]")
    page.wait_for_load_state()
    shipped = set(Order.objects.filter(status="shipped").values_list("pk", flat=True))
    assert shipped == {orders[0].pk, orders[1].pk}


def test_a_dirty_list_editable_field_is_not_overwritten(
    open_page: OpenPage, admin_user: User
) -> None:
    order = Order.objects.create(customer="Ann")
    Order.objects.create(customer="Ben")
    page = open_page(admin_user, "/admin/testapp/order/")
    field = page.locator(f"tr:has(input.action-select[value='{order.pk}']) input[name$='-status']")
    field.fill("typing…")
    Order.objects.create(customer="Cid")
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)
    expect(field).to_have_value("typing…")
    expect(field).to_be_focused()


def test_change_form_refreshes_when_pristine(
    open_page: OpenPage, admin_user: User, bob: User, tickets: list[Ticket]
) -> None:
    ticket = tickets[0]
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    editing = open_page(bob, f"/admin/testapp/ticket/{ticket.pk}/change/")
    editing.fill("#id_title", "New title from Bob")
    editing.click("input[name=_save]")
    editing.wait_for_url("**/admin/testapp/ticket/")

    banner = page.locator("#live-admin-banner")
    expect(banner).to_contain_text("Bob Other changed this object", timeout=WAIT)
    expect(page.locator("#id_title")).to_have_value("New title from Bob")
    expect(page.locator(".field-title.live-admin-changed")).to_have_count(1)
    wait_live(page)
    screenshot(page, "change-form-banner")


def test_change_form_keeps_unsaved_edits_until_the_user_chooses(
    open_page: OpenPage, admin_user: User, tickets: list[Ticket]
) -> None:
    ticket = tickets[0]
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    mark_page(page)
    page.fill("#id_notes", "my unsaved notes")
    ticket.status = "closed"
    ticket.save()  # from another process, so no user name
    banner = page.locator("#live-admin-banner")
    expect(banner).to_contain_text("This object was changed at", timeout=WAIT)
    expect(banner).to_contain_text("Your unsaved changes are kept")
    assert not_reloaded(page)
    expect(page.locator("#id_notes")).to_have_value("my unsaved notes")
    expect(page.locator(".field-status.live-admin-changed")).to_have_count(1)
    screenshot(page, "change-form-dirty")
    page.click("#live-admin-banner button")
    expect(page.locator("#id_status")).to_have_value("closed", timeout=WAIT)
    expect(page.locator("#id_notes")).to_have_value("")


def test_change_form_of_a_deleted_object(
    open_page: OpenPage, admin_user: User, tickets: list[Ticket]
) -> None:
    ticket = tickets[0]
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    ticket.delete()
    expect(page.locator("#live-admin-banner")).to_contain_text("was deleted", timeout=WAIT)
    for button in page.locator(".submit-row input[type=submit]").all():
        expect(button).to_be_disabled()


def test_a_view_only_user_gets_updates(open_page: OpenPage, viewer: User) -> None:
    Project.objects.create(name="Visible", owner=viewer)
    page = open_page(viewer, "/admin/testapp/project/")
    mark_page(page)
    Project.objects.create(name="Another", owner=viewer)
    expect(page.locator("#result_list tbody tr", has_text="Another")).to_have_count(1, timeout=WAIT)
    assert not_reloaded(page)


def test_a_group_the_user_may_not_follow_gets_nothing_and_the_page_works(
    open_page: OpenPage, viewer: User
) -> None:
    theirs = Project.objects.create(name="Theirs")
    path = f"/admin/testapp/ticket/?project__id__exact={theirs.pk}"
    page = open_page(viewer, path, state="offline")  # the subscription was refused
    Ticket.objects.create(project=theirs, title="Hidden")
    assert sender.flush(10)
    assert refreshes(page) == 0
    page.click("#site-name a")  # the admin page itself still works
    page.wait_for_url("**/admin/")


def test_reconnects_after_a_server_restart_then_catches_up_by_a_row_refresh(
    open_page: OpenPage,
    admin_user: User,
    server: Daphne,
    tickets: list[Ticket],
    console_errors: list[str],
) -> None:
    page = open_page(admin_user, "/admin/testapp/ticket/")
    mark_page(page)
    server.stop()
    page.wait_for_selector(
        '#live-admin[data-live-state="reconnecting"]', state="attached", timeout=WAIT
    )
    tickets[0].title = "Changed while the server was down"
    tickets[0].save()
    server.start()
    wait_live(page)
    expect(
        page.locator("#result_list tbody tr", has_text="Changed while the server was down")
    ).to_have_count(1, timeout=WAIT)
    assert page.locator("#live-admin").get_attribute("data-row-refreshes") == "1"
    assert refreshes(page) == 0  # told what it missed: not the whole list
    assert not_reloaded(page)
    forgive_server_away(console_errors)


def test_a_burst_gives_only_a_few_refreshes(
    open_page: OpenPage, admin_user: User, tickets: list[Ticket]
) -> None:
    page = open_page(admin_user, "/admin/testapp/ticket/")
    fetches: list[str] = []
    page.on(
        "request",
        lambda r: (
            fetches.append(r.url)
            if {"x-live-admin-refresh", "x-live-admin-rows"} & set(r.headers)
            else None
        ),
    )
    for i in range(200):
        tickets[i % 5].title = f"Burst {i}"
        tickets[i % 5].save()
    assert sender.flush(10)
    expect(page.locator("#result_list tbody tr", has_text="Burst 199")).to_have_count(
        1, timeout=WAIT
    )
    page.wait_for_timeout(1500)  # let any trailing refresh happen, then count
    assert 1 <= len(fetches) <= 4, fetches


def test_the_banner_says_times_in_the_admin_s_time_zone(
    open_page: OpenPage, admin_user: User, tickets: list[Ticket]
) -> None:
    """The admin shows times in TIME_ZONE (America/Chicago here); a browser in Tokyo says the
    banner's time in it too, not in its own."""
    ticket = tickets[0]
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Tokyo"})
    page.click("#id_notes")
    page.keyboard.type("mine")
    ticket.status = "closed"
    ticket.save()
    banner = page.locator("#live-admin-banner")
    expect(banner).to_contain_text("This object was changed at", timeout=WAIT)
    said = re.search(r"changed at (\d+)", banner.inner_text())
    assert said, banner.inner_text()
    hours = page.evaluate(
        """() => ["America/Chicago", "Asia/Tokyo"].map((timeZone) =>
             new Date().toLocaleTimeString("en-US", { timeZone, hour: "numeric", hour12: true })
               .split(" ")[0])"""
    )
    assert said.group(1) == hours[0] != hours[1]
