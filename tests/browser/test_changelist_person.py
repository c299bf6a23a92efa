"""A live changelist driven as a person drives it: search box, Tab, the action bar, the mouse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, Route, expect

from testapp.models import Order, Project, Ticket

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


def refreshes(page: Page) -> int:
    return int(page.locator("#live-admin").get_attribute("data-refreshes") or 0)


def wait_refreshes(page: Page, count: int) -> None:
    """Until the page has refreshed at least ``count`` times (changes close together coalesce)."""
    page.wait_for_function(
        f"Number(document.getElementById('live-admin').dataset.refreshes || 0) >= {count}",
        timeout=WAIT,
    )


def row(page: Page, pk: int) -> Locator:
    return page.locator(f"#result_list tbody tr:has(input.action-select[value='{pk}'])")


def test_search_box_and_enter_search_as_on_a_stock_page(
    open_page: OpenPage, admin_user: User
) -> None:
    Order.objects.create(customer="Ann")
    Order.objects.create(customer="Zed")
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#searchbar")
    page.keyboard.type("Zed")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/testapp/order/?q=Zed")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list tbody tr")).to_contain_text("Zed")
    assert page.locator("#changelist-search input[name=_live_origin]").count() == 0


def test_a_filter_folded_by_the_user_stays_folded_through_a_refresh(
    open_page: OpenPage, admin_user: User
) -> None:
    Order.objects.create(customer="Ann")
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#changelist-filter details summary")  # "By status": folded
    expect(page.locator("#changelist-filter details")).not_to_have_attribute("open", "")
    Order.objects.create(customer="Ben", status="paid")  # a new choice: the filters refresh
    expect(page.locator("#changelist-filter a", has_text="paid")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#changelist-filter details")).not_to_have_attribute("open", "")


def test_rows_removed_together_fade_out_where_they_were(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=f"Customer {i}") for i in range(5)]
    page = open_page(admin_user, "/admin/testapp/order/")
    names = "Array.from(document.querySelectorAll('#result_list tbody th'), (th) => th.innerText)"
    shown = page.evaluate(names)
    page.evaluate(
        "document.getElementById('live-admin').addEventListener('live-admin:refreshed', () => {"
        f" window.seen = {names}; }}, {{ once: true }})"
    )
    Order.objects.filter(pk__in=[orders[1].pk, orders[3].pk]).delete()  # one transaction
    page.wait_for_function("window.seen !== undefined", timeout=WAIT)
    assert page.evaluate("window.seen") == shown  # the two ghosts fading where each row was
    expect(page.locator("#result_list tbody tr.live-admin-gone")).to_have_count(0)


def test_a_list_editable_edit_survives_tab_and_a_change_elsewhere(
    open_page: OpenPage, admin_user: User
) -> None:
    ann = Order.objects.create(customer="Ann")
    Order.objects.create(customer="Ben")
    page = open_page(admin_user, "/admin/testapp/order/")
    field = row(page, ann.pk).locator("input[name$='-status']")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("shipped")
    page.keyboard.press("Tab")  # focus leaves the field: the value is still unsaved
    Order.objects.create(customer="Cid")
    expect(page.locator("#live-admin-held")).to_have_text("1 update — show", timeout=WAIT)
    expect(field).to_have_value("shipped")
    page.locator("#live-admin-held").click()  # the user chooses: their value is kept
    expect(page.locator("#result_list tbody tr", has_text="Cid")).to_have_count(1, timeout=WAIT)
    expect(row(page, ann.pk).locator("input[name$='-status']")).to_have_value("shipped")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    ann.refresh_from_db()
    assert ann.status == "shipped"


def test_a_click_pressed_while_the_list_refreshes_is_not_lost(
    open_page: OpenPage, admin_user: User
) -> None:
    """A click is a press and a release on the same element: a swap in between would make the
    release land on the fresh copy of the button, and the click would never happen."""
    ann = Order.objects.create(customer="Ann")
    page = open_page(admin_user, "/admin/testapp/order/")
    row(page, ann.pk).locator("input[name$='-status']").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("shipped")
    page.keyboard.press("Tab")
    Order.objects.create(customer="Ben")  # held: the list has an unsaved value
    held = page.locator("#live-admin-held")
    expect(held).to_be_visible(timeout=WAIT)
    refreshes: list[Route] = []
    page.route(
        "**/admin/testapp/order/",
        lambda route: (
            refreshes.append(route)
            if route.request.headers.get("x-live-admin-refresh")
            else route.continue_()
        ),
    )
    page.evaluate(
        "document.addEventListener('htmx:afterRequest', () => { window.answered = true; })"
    )
    held.click()  # the refresh's request waits in the route
    page.wait_for_function("document.getElementById('live-admin-held') === null")
    box = page.locator("input[name=_save]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()  # the press begins; the fresh list arrives meanwhile
    assert len(refreshes) == 1
    refreshes[0].continue_()
    page.wait_for_function("window.answered === true")
    with page.expect_response(lambda r: r.request.method == "POST", timeout=WAIT):
        page.mouse.up()  # ... and ends: a click on Save
    page.wait_for_load_state()
    ann.refresh_from_db()
    assert ann.status == "shipped"


def test_select_all_across_pages_survives_held_updates(
    open_page: OpenPage, admin_user: User
) -> None:
    Order.objects.bulk_create(Order(customer=f"Customer {i}") for i in range(105))
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#action-toggle")
    page.click(".actions .question a")  # "Select all 105 orders"
    expect(page.locator(".actions .clear")).to_be_visible()
    Order.objects.create(customer="Arrived meanwhile")
    held = page.locator("#live-admin-held")
    expect(held).to_be_visible(timeout=WAIT)
    held.click()
    wait_refreshes(page, 1)
    expect(page.locator("input.select-across").first).to_have_value("1")
    expect(page.locator(".actions .clear")).to_be_visible()
    expect(page.locator(".action-counter")).to_be_hidden()
    page.select_option("select[name=action]", "mark_shipped")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert Order.objects.exclude(status="shipped").count() == 0  # every order, not one page


def test_clearing_the_selection_with_the_header_box_applies_held_updates(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=f"Customer {i}") for i in range(3)]
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#action-toggle")  # all selected
    Order.objects.create(customer="Arrived meanwhile")
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)
    page.click("#action-toggle")  # none selected: nothing left to lose
    expect(page.locator("#result_list tbody tr", has_text="Arrived meanwhile")).to_have_count(
        1, timeout=WAIT
    )
    expect(page.locator("#live-admin-held")).to_have_count(0)
    expect(page.locator("#action-toggle")).to_be_focused()
    orders[0].customer = "Renamed while the header box has focus"
    orders[0].save()
    expect(page.locator("#result_list tbody tr", has_text="Renamed while")).to_have_count(
        1, timeout=WAIT
    )


def test_focus_and_the_next_tab_survive_a_refresh(open_page: OpenPage, admin_user: User) -> None:
    project = Project.objects.create(name="Apollo")
    tickets = [Ticket.objects.create(project=project, title=f"Ticket {i}") for i in range(4)]
    page = open_page(admin_user, "/admin/testapp/ticket/?o=1")  # by title
    second = page.locator("#result_list tbody tr", has_text="Ticket 1").locator("th a")
    second.focus()
    tickets[3].title = "Ticket 3, renamed"
    tickets[3].save()
    wait_refreshes(page, 1)
    expect(
        page.locator("#result_list tbody tr", has_text="Ticket 1").locator("th a")
    ).to_be_focused()
    page.keyboard.press("Tab")  # the next row's checkbox, not the filter sidebar
    focused = page.evaluate("document.activeElement.closest('tr')?.textContent || ''")
    assert "Ticket 2" in focused


def test_one_announcement_that_says_what_changed(open_page: OpenPage, admin_user: User) -> None:
    project = Project.objects.create(name="Apollo")
    tickets = [Ticket.objects.create(project=project, title=f"Ticket {i}") for i in range(3)]
    page = open_page(admin_user, "/admin/testapp/ticket/")
    # One region of ours, none nested; the admin's own (Django 6.1's action counter) as stock.
    ours = "[aria-live]:not(.action-counter), [role=status]:not(.action-counter)"
    assert page.locator(ours).count() == 1
    assert page.locator("#live-admin-announce[aria-live=polite]").count() == 1
    assert page.locator("[role=status] [aria-live], [aria-live] [aria-live]").count() == 0
    tickets[0].title = "Ticket 0, renamed"
    tickets[0].save()  # a row refresh
    said = "1 row changed: Title: Ticket 0 → Ticket 0, renamed"  # and what changed in it
    expect(page.locator("#live-admin-announce")).to_have_text(said, timeout=WAIT)
    for i in range(3):  # more refreshes within ten seconds: no more announcements yet
        Ticket.objects.create(project=project, title=f"New {i}")
        expect(page.locator("#result_list tbody tr", has_text=f"New {i}")).to_have_count(
            1, timeout=WAIT
        )
    assert page.locator("#live-admin").get_attribute("data-announcements") == "1"
    expect(page.locator("#live-admin-announce")).to_have_text(said)


def test_nothing_moves_under_the_pointer(open_page: OpenPage, admin_user: User) -> None:
    Order.objects.bulk_create(Order(customer=f"Customer {i:03}") for i in range(60))
    page = open_page(admin_user, "/admin/testapp/order/")
    first = page.locator("input.action-select").first
    first.check()
    table_top = page.locator("#result_list").bounding_box()["y"]
    Order.objects.create(customer="Arrived meanwhile")
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)
    assert page.locator("#result_list").bounding_box()["y"] == table_top  # the notice overlays
    first.uncheck()  # applies the held update
    wait_refreshes(page, 1)
    page.mouse.wheel(0, 900)
    reading = page.locator("#result_list tbody tr").nth(30)
    page.wait_for_function("window.scrollY > 500")
    before = reading.bounding_box()["y"]
    key = reading.locator("input.action-select").get_attribute("value")
    for i in range(2):  # newest first: these rows come in above the one being read
        Order.objects.create(customer=f"Above {i}")
    expect(page.locator("#result_list tbody tr", has_text="Above 1")).to_have_count(1, timeout=WAIT)
    after = row(page, int(key)).bounding_box()["y"]
    assert abs(after - before) < 2, (before, after)
    screenshot(page, "changelist-rows-added-above")


def test_a_tick_and_an_action_chosen_while_the_list_is_on_its_way_are_kept(
    open_page: OpenPage, admin_user: User
) -> None:
    ann = Order.objects.create(customer="Ann")
    page = open_page(admin_user, "/admin/testapp/order/")
    held: list[Route] = []

    def hold_refreshes(route: Route) -> None:
        if route.request.headers.get("x-live-admin-refresh"):
            held.append(route)  # the list is on its way, slowly
        else:
            route.continue_()

    page.route(lambda url: "/admin/testapp/order/" in url, hold_refreshes)
    with page.expect_request(lambda r: bool(r.headers.get("x-live-admin-refresh"))):
        Order.objects.create(customer="Cid")  # a new row: the whole list
    row(page, ann.pk).locator("input.action-select").click()  # meanwhile, the user ticks
    page.focus("select[name=action]")
    page.keyboard.press("ArrowDown")  # and picks an action
    chosen = page.locator("select[name=action]").input_value()
    assert chosen
    for route in held:
        route.continue_()
    expect(page.locator("#result_list tbody tr", has_text="Cid")).to_have_count(1, timeout=WAIT)
    expect(row(page, ann.pk).locator("input.action-select")).to_be_checked()
    expect(page.locator("select[name=action]")).to_have_value(chosen)
    page.click("button[name=index]")  # Go: the action's own page (delete: "Are you sure?")
    expect(page.locator("input[name=post][value=yes]")).to_have_count(1, timeout=WAIT)
