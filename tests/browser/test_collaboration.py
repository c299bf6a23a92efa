"""Two and three people on one object, each in a browser of their own, typing and clicking."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import make_user
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from testapp.models import Order, OrderLine, Project, Ticket

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


@pytest.fixture
def viewer() -> User:
    return make_user("vera", perms=("view_ticket", "view_project"))


@pytest.fixture
def ticket(viewer: User) -> Ticket:
    project = Project.objects.create(name="Apollo", owner=viewer)
    return Ticket.objects.create(project=project, title="Launch", status="open", notes="")


def retype(page: Page, selector: str, value: str) -> None:
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


def save(page: Page) -> None:
    page.click("input[name=_save]")


def test_disjoint_edits_of_two_people_both_survive(
    open_page: OpenPage, admin_user: User, bob: User, ticket: Ticket
) -> None:
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada, other = open_page(admin_user, url), open_page(bob, url)
    retype(ada, "#id_title", "Launch day")
    retype(other, "#id_status", "done")
    save(other)
    other.wait_for_url("**/admin/testapp/ticket/")
    expect(ada.locator("#live-admin-banner")).to_contain_text("Bob Other changed", timeout=WAIT)
    expect(ada.locator("#id_status")).to_have_value("open")  # her form is hers until she saves
    save(ada)
    ada.wait_for_url("**/admin/testapp/ticket/")
    ticket.refresh_from_db()
    assert (ticket.title, ticket.status) == ("Launch day", "done")


def test_the_same_field_changed_by_two_is_a_conflict_and_nothing_is_lost(
    open_page: OpenPage, admin_user: User, bob: User, ticket: Ticket
) -> None:
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada, other = open_page(admin_user, url), open_page(bob, url)
    retype(ada, "#id_status", "blocked")  # both start typing
    retype(other, "#id_status", "done")
    save(other)
    other.wait_for_url("**/admin/testapp/ticket/")
    expect(ada.locator("#live-admin-banner")).to_contain_text("Bob Other changed", timeout=WAIT)
    retype(ada, "#id_notes", "waiting on parts")
    save(ada)
    panel = ada.locator("#live-admin-conflicts")
    expect(panel).to_contain_text("Keep mine: “blocked”", timeout=WAIT)
    expect(panel).to_contain_text("Take theirs: “done”")
    expect(ada.locator(".field-status .errorlist")).to_contain_text("Changed by someone else")
    expect(ada.locator("#id_notes")).to_have_value("waiting on parts")  # her typing is kept
    assert Ticket.objects.get(pk=ticket.pk).status == "done"  # nothing written
    screenshot(ada, "conflict-form")
    ada.get_by_label("Keep mine: “blocked”").check()
    save(ada)
    ada.wait_for_url("**/admin/testapp/ticket/")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.notes) == ("blocked", "waiting on parts")


def test_an_inline_row_changed_by_two_is_a_conflict(
    open_page: OpenPage, admin_user: User, bob: User
) -> None:
    order = Order.objects.create(customer="Ann")
    OrderLine.objects.create(order=order, product="apples", quantity=1)
    url = f"/admin/testapp/order/{order.pk}/change/"
    ada, other = open_page(admin_user, url), open_page(bob, url)
    retype(ada, "#id_lines-0-quantity", "7")
    retype(other, "#id_lines-0-quantity", "5")
    save(other)
    other.wait_for_url("**/admin/testapp/order/")
    retype(ada, "#id_customer", "Ann B.")
    save(ada)
    expect(ada.locator("#live-admin-conflicts")).to_contain_text("Take theirs: “5”", timeout=WAIT)
    ada.get_by_label("Take theirs: “5”").check()
    save(ada)
    ada.wait_for_url("**/admin/testapp/order/")
    order.refresh_from_db()
    assert (order.customer, order.lines.get().quantity) == ("Ann B.", 5)


def test_list_edits_conflicting_rows_are_reported_and_the_rest_saved(
    open_page: OpenPage, admin_user: User, bob: User
) -> None:
    ann = Order.objects.create(customer="Ann")
    Order.objects.create(customer="Ben")
    ada = open_page(admin_user, "/admin/testapp/order/")
    retype(ada, "tr:has-text('Ann') input[name$='-status']", "packed")
    retype(ada, "tr:has-text('Ben') input[name$='-status']", "packed")
    ada.keyboard.press("Tab")
    other = open_page(bob, f"/admin/testapp/order/{ann.pk}/change/")
    retype(other, "#id_status", "cancelled")
    save(other)
    other.wait_for_url("**/admin/testapp/order/")
    ada.click("input[name=_save]")
    expect(ada.locator(".messagelist")).to_contain_text(
        "Status is now “cancelled” (yours: “packed”).", timeout=WAIT
    )
    expect(ada.locator(".messagelist")).to_contain_text("1 order was changed successfully.")
    assert dict(Order.objects.values_list("customer", "status")) == {
        "Ann": "cancelled",
        "Ben": "packed",
    }


def test_presence_comes_and_goes_and_a_viewer_sees_it(
    open_page: OpenPage, admin_user: User, bob: User, viewer: User, ticket: Ticket
) -> None:
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada = open_page(admin_user, url)
    other = open_page(bob, url)
    bar = ada.locator("#live-admin-presence")
    expect(bar).to_have_text("Bob Other is viewing", timeout=WAIT)
    expect(other.locator("#live-admin-presence")).to_have_text("Ada Root is viewing")
    other.click("#id_notes")
    other.keyboard.type("a")  # starting to type is editing, there
    expect(bar).to_have_text("Bob Other is editing Notes", timeout=WAIT)
    other.keyboard.press("Shift+Tab")  # on to another field
    expect(bar).to_have_text("Bob Other is editing Status", timeout=WAIT)
    vera = open_page(viewer, url)  # may view, may not change: sees who is there, and where
    expect(vera.locator("#live-admin-presence")).to_have_text(
        "Bob Other is editing Status · Ada Root is viewing", timeout=WAIT
    )
    expect(bar).to_have_text("Bob Other is editing Status · vera is viewing", timeout=WAIT)
    screenshot(ada, "presence-form")
    other.close()  # the tab closed
    expect(bar).to_have_text("vera is viewing", timeout=WAIT)
    # A changelist marks the row someone has open.
    listing = open_page(bob, "/admin/testapp/ticket/")
    marker = listing.locator(f"tr:has(input[value='{ticket.pk}']) .live-admin-here")
    expect(marker).to_have_attribute("title", "Ada Root is viewing · vera is viewing", timeout=WAIT)
    screenshot(listing, "presence-list")
    # A view-only user's list has no action checkboxes: the rows are found by their links.
    vera.goto(f"{vera.url.split('/admin/')[0]}/admin/testapp/ticket/")
    theirs = vera.locator(f"tr:has(a[href*='/ticket/{ticket.pk}/change/']) .live-admin-here")
    expect(theirs).to_have_attribute("title", "Ada Root is viewing", timeout=WAIT)
    ada.close()
    expect(marker).to_have_count(0, timeout=WAIT)


def test_presence_starts_when_its_script_comes_after_the_socket(
    open_page: OpenPage, admin_user: User, bob: User, ticket: Ticket
) -> None:
    # A slow presence.js: the page subscribed before the script could hear it (seen in CI).
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada = open_page(admin_user, url)
    open_page(bob, url, hold="live_admin/presence.js")
    expect(ada.locator("#live-admin-presence")).to_have_text("Bob Other is viewing", timeout=WAIT)
    listing = open_page(bob, "/admin/testapp/ticket/", hold="live_admin/presence.js")
    marker = listing.locator(f"tr:has(input[value='{ticket.pk}']) .live-admin-here")
    expect(marker).to_have_attribute("title", "Ada Root is viewing", timeout=WAIT)


def test_a_field_the_user_was_in_is_checked_against_what_they_saw(
    open_page: OpenPage, admin_user: User, bob: User, ticket: Ticket
) -> None:
    url = f"/admin/testapp/ticket/{ticket.pk}/change/"
    ada, other = open_page(admin_user, url), open_page(bob, url)
    ada.click("#id_title")  # in the field, nothing typed yet: the form is pristine
    retype(other, "#id_title", "Bob's title")
    save(other)
    other.wait_for_url("**/admin/testapp/ticket/")
    expect(ada.locator("#live-admin-banner")).to_contain_text("Bob Other changed", timeout=WAIT)
    expect(ada.locator("#id_title")).to_have_value("Launch")  # kept under her caret
    ada.keyboard.press("End")
    ada.keyboard.type(" now")
    save(ada)
    expect(ada.locator("#live-admin-conflicts")).to_contain_text(
        "Take theirs: “Bob's title”", timeout=WAIT
    )
    assert Ticket.objects.get(pk=ticket.pk).title == "Bob's title"


def test_held_list_updates_shown_over_an_edit_keep_it_checked(
    open_page: OpenPage, admin_user: User, bob: User
) -> None:
    ann = Order.objects.create(customer="Ann")
    ada = open_page(admin_user, "/admin/testapp/order/")
    retype(ada, "tr:has-text('Ann') input[name$='-status']", "packed")
    ada.keyboard.press("Tab")
    other = open_page(bob, f"/admin/testapp/order/{ann.pk}/change/")
    retype(other, "#id_status", "paid")
    save(other)
    other.wait_for_url("**/admin/testapp/order/")
    ada.click("#live-admin-held", timeout=WAIT)  # "1 update — show": her edit stays
    expect(ada.locator("tr:has-text('Ann') input[name$='-status']")).to_have_value("packed")
    ada.click("input[name=_save]")
    expect(ada.locator(".messagelist")).to_contain_text(
        "Status is now “paid” (yours: “packed”).", timeout=WAIT
    )
    assert Order.objects.get(pk=ann.pk).status == "paid"
