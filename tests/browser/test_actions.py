"""Actions and deletes on rows that changed meanwhile, driven as a person: ticks, the action bar,
the confirmation page's buttons."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from testapp.models import Order

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000
SURE = "Yes, I\N{RIGHT SINGLE QUOTATION MARK}m sure"  # the stock delete pages' button


def tick(page: Page, *orders: Order) -> None:
    for order in orders:
        page.locator(f"input.action-select[value='{order.pk}']").click()


def run(page: Page, action: str) -> None:
    """Choose ``action`` with the keyboard and press Go."""
    page.focus("select[name=action]")
    label = page.locator(f"select[name=action] option[value={action}]").inner_text()
    page.keyboard.type(label[:4])  # a select jumps to the option typed
    assert page.locator("select[name=action]").input_value() == action
    page.click("button[name=index]")
    page.wait_for_load_state()


def statuses(*orders: Order) -> list[str]:
    return [Order.objects.get(pk=order.pk).status for order in orders]


@pytest.fixture
def orders() -> list[Order]:
    return [Order.objects.create(customer=name) for name in ("Ada", "Bea", "Cy")]


def changed_meanwhile(page: Page, order: Order, status: str = "cancelled") -> None:
    """Another process saves ``order``; the page, with rows ticked, holds the update."""
    order.status = status
    order.save()
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)


@pytest.mark.parametrize("answer", ["all", "unchanged", "back"])
def test_an_action_on_a_row_changed_meanwhile_asks_first(
    open_page: OpenPage, admin_user: User, orders: list[Order], answer: str
) -> None:
    page = open_page(admin_user, "/admin/testapp/order/")
    tick(page, *orders)
    changed_meanwhile(page, Order.objects.get(pk=orders[1].pk))
    run(page, "mark_shipped")
    confirmation = page.locator("#live-admin-confirmation")
    expect(confirmation).to_contain_text("“Mark shipped” was not run")
    expect(page.locator("#live-admin-changed li").first).to_contain_text("Status: new → cancelled")
    assert statuses(*orders) == ["new", "cancelled", "new"]
    screenshot(page, f"action-confirmation-{answer}")
    if answer == "all":
        page.get_by_role("button", name="Run it on all 3 rows anyway").click()
        page.wait_for_url("**/admin/testapp/order/")
        assert statuses(*orders) == ["shipped", "shipped", "shipped"]
    elif answer == "unchanged":
        page.get_by_role("button", name="Run it only on the 2 unchanged rows").click()
        page.wait_for_url("**/admin/testapp/order/")
        assert statuses(*orders) == ["shipped", "cancelled", "shipped"]
    else:
        page.get_by_role("link", name="Back to the list").click()
        page.wait_for_url("**/admin/testapp/order/")
        bea = page.locator(f"#result_list tr:has(input.action-select[value='{orders[1].pk}'])")
        expect(bea.locator("input[name$=status]")).to_have_value("cancelled")
        assert statuses(*orders) == ["new", "cancelled", "new"]


def test_rows_nobody_changed_run_at_once(
    open_page: OpenPage, admin_user: User, orders: list[Order]
) -> None:
    page = open_page(admin_user, "/admin/testapp/order/")
    tick(page, orders[0], orders[2])
    run(page, "mark_shipped")
    page.wait_for_url("**/admin/testapp/order/")
    assert statuses(*orders) == ["shipped", "new", "shipped"]


def test_a_row_refreshed_in_place_is_what_the_user_saw(
    open_page: OpenPage, admin_user: User, orders: list[Order]
) -> None:
    page = open_page(admin_user, "/admin/testapp/order/")
    bea = Order.objects.get(pk=orders[1].pk)
    bea.priority = 3
    bea.save()  # nothing ticked: the row refreshes in place, and the user sees it
    expect(page.locator("#live-admin")).to_have_attribute("data-row-refreshes", "1", timeout=WAIT)
    tick(page, *orders)
    run(page, "mark_shipped")
    page.wait_for_url("**/admin/testapp/order/")
    assert statuses(*orders) == ["shipped", "shipped", "shipped"]


def test_select_all_says_a_row_joined_the_list(open_page: OpenPage, admin_user: User) -> None:
    Order.objects.bulk_create(Order(customer=f"Customer {i}") for i in range(105))
    page = open_page(admin_user, "/admin/testapp/order/?status__exact=new")
    page.click("#action-toggle")
    page.click(".actions .question a")  # "Select all 105 orders"
    expect(page.locator(".actions .clear")).to_be_visible()
    Order.objects.create(customer="Arrived meanwhile")
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)
    run(page, "mark_shipped")
    expect(page.locator("#live-admin-confirmation")).to_contain_text(
        "105 rows matched when the list was shown; 106 match now."
    )
    assert not Order.objects.filter(status="shipped").exists()
    page.get_by_role("button", name="Run it on all 106 rows anyway").click()
    page.wait_for_url("**/admin/testapp/order/?status__exact=new")
    assert Order.objects.exclude(status="shipped").count() == 0


def test_a_stale_delete_confirmation_asks_again(
    open_page: OpenPage, admin_user: User, orders: list[Order]
) -> None:
    bea = orders[1]
    page = open_page(admin_user, f"/admin/testapp/order/{bea.pk}/change/")
    page.locator("a.deletelink").click()  # a link (Django 6.1: with role="button")
    page.wait_for_url(f"**/admin/testapp/order/{bea.pk}/delete/")
    Order.objects.filter(pk=bea.pk).update(customer="Beatrix")  # a script, meanwhile
    page.get_by_role("button", name=SURE).click()
    page.wait_for_load_state()
    expect(page.locator("#live-admin-changed")).to_contain_text("Customer: Bea → Beatrix")
    assert Order.objects.filter(pk=bea.pk).exists()
    screenshot(page, "delete-confirmation-stale")
    page.get_by_role("button", name="Delete it anyway").click()
    page.wait_for_url("**/admin/testapp/order/")
    assert not Order.objects.filter(pk=bea.pk).exists()


def test_delete_selected_is_checked_on_its_own_confirmation_page(
    open_page: OpenPage, admin_user: User, orders: list[Order]
) -> None:
    page = open_page(admin_user, "/admin/testapp/order/")
    tick(page, orders[0], orders[1])
    run(page, "delete_selected")
    expect(page.get_by_role("button", name=SURE)).to_be_visible()
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    page.get_by_role("button", name=SURE).click()
    page.wait_for_load_state()
    expect(page.locator("#live-admin-changed")).to_contain_text("Status: new → cancelled")
    assert Order.objects.count() == 3
    page.get_by_role("button", name="Run it only on the 1 unchanged row").click()
    page.wait_for_url("**/admin/testapp/order/")
    assert sorted(Order.objects.values_list("customer", flat=True)) == ["Bea", "Cy"]
