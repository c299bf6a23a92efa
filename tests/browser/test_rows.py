"""Row refreshes in a real browser: one row changes in place, the rest of the page stays."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from testapp.models import Order

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


def count(page: Page, name: str) -> int:
    return int(page.locator("#live-admin").get_attribute(f"data-{name}") or 0)


def following(page: Page) -> None:
    """Until the server follows the rows shown (the answer to the page's watch)."""
    page.wait_for_selector("#live-admin[data-watching]", state="attached", timeout=WAIT)


def row(page: Page, pk: int) -> Locator:
    return page.locator(f"#result_list tbody tr:has(input.action-select[value='{pk}'])")


def test_a_changed_row_is_refreshed_alone_and_the_user_keeps_their_place(
    open_page: OpenPage, admin_user: User
) -> None:
    ann, ben = Order.objects.create(customer="Ann"), Order.objects.create(customer="Ben")
    page = open_page(admin_user, "/admin/testapp/order/")
    following(page)
    field = row(page, ben.pk).locator("input[name$='-status']")
    field.click()  # in another row's field, nothing typed
    ann.customer = "Ann Lee"
    ann.save()  # a field the list neither filters nor orders on: only Ann's row
    expect(row(page, ann.pk)).to_contain_text("Ann Lee", timeout=WAIT)
    assert (count(page, "row-refreshes"), count(page, "refreshes")) == (1, 0)
    expect(field).to_be_focused()
    expect(row(page, ann.pk)).to_have_class("live-admin-flash")
    screenshot(page, "row-refresh")
    page.keyboard.press("Control+A")
    page.keyboard.type("paid")
    page.keyboard.press("Tab")
    ben.status = "shipped"
    ben.save()  # a field the list filters on: the whole list, held over the user's edit
    expect(page.locator("#live-admin-held")).to_have_text("1 update — show", timeout=WAIT)
    page.click("input[name=_save]")
    page.wait_for_load_state()
    ann.refresh_from_db()
    assert ann.customer == "Ann Lee"


def test_an_edit_of_a_refreshed_row_is_saved_against_what_the_user_saw(
    open_page: OpenPage, admin_user: User
) -> None:
    order = Order.objects.create(customer="Ann", priority=0)
    page = open_page(admin_user, "/other-admin/testapp/order/")
    following(page)
    order.priority = 5
    order.save()  # by someone else: the row shows 5
    priority = row(page, order.pk).locator("input[name$='-priority']")
    expect(priority).to_have_value("5", timeout=WAIT)
    assert count(page, "refreshes") == 0
    priority.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("7")  # the user changes what they see
    page.keyboard.press("Tab")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    expect(page.locator(".messagelist")).not_to_contain_text("not saved")
    order.refresh_from_db()
    assert order.priority == 7  # not a conflict with the 5 the user saw


def test_a_change_that_moves_rows_refreshes_the_whole_list(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=c) for c in ("Ann", "Ben", "Cid")]
    page = open_page(admin_user, "/admin/testapp/order/?o=1")  # by customer
    following(page)
    orders[0].customer = "Zoe"
    orders[0].save()  # now last
    expect(page.locator("#result_list tbody tr").last).to_contain_text("Zoe", timeout=WAIT)
    assert count(page, "refreshes") == 1
    assert count(page, "row-refreshes") == 0
