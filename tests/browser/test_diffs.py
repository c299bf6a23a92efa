"""What changed, as before → after: on a change form's banner and on a changed list row, read as
a person reads them (the pointer on the row, the keyboard's focus in it, a screen reader)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from testapp.models import Order, Project, Ticket

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


@pytest.fixture
def ticket() -> Ticket:
    Project.objects.create(name="Gemini")
    return Ticket.objects.create(
        project=Project.objects.create(name="Apollo"), title="First", status="open"
    )


def test_a_pristine_form_says_what_changed_as_before_and_after(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    ticket.project = Project.objects.get(name="Gemini")
    ticket.status = "done"
    ticket.save()
    diff = page.locator("#live-admin-banner .live-admin-diff")
    expect(diff).to_contain_text("Project: Apollo → Gemini", timeout=WAIT)
    expect(diff).to_contain_text("Status: open → done")
    expect(diff.locator("li")).to_have_count(2)  # the fields that changed, no others
    expect(page.locator("#live-admin-announce")).to_contain_text("Status: open → done")
    screenshot(page, "diff-change-form")


def test_a_form_with_unsaved_edits_says_what_changed_and_keeps_them(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    page.click("#id_notes")
    page.keyboard.type("my words")
    ticket.status = "done"
    ticket.save()
    banner = page.locator("#live-admin-banner")
    expect(banner).to_contain_text("Your unsaved changes are kept", timeout=WAIT)
    expect(banner.locator(".live-admin-diff")).to_contain_text("Status: open → done", timeout=WAIT)
    expect(page.locator("#id_status")).to_have_value("open")  # not applied: the user chooses
    expect(page.locator("#id_notes")).to_have_value("my words")


def test_a_long_value_is_shortened_and_opens_with_the_keyboard(
    open_page: OpenPage, admin_user: User, ticket: Ticket
) -> None:
    ticket.title = "A" * 150
    ticket.save()
    page = open_page(admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
    ticket.title = "B" * 150
    ticket.save()
    long = page.locator("#live-admin-banner .live-admin-long")
    expect(long).to_have_count(2, timeout=WAIT)
    expect(long.first).not_to_have_attribute("open", "")
    assert len(long.first.locator("summary").inner_text()) == 80
    long.first.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(long.first).to_have_attribute("open", "")
    expect(long.first).to_contain_text("A" * 150)


def test_a_changed_row_says_what_changed_on_hover_and_on_focus(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=name) for name in ("Ada", "Bea")]
    page = open_page(admin_user, "/admin/testapp/order/")
    bea = orders[1]
    bea.customer = "Beatrix"
    bea.save()
    expect(page.locator("#live-admin")).to_have_attribute("data-row-refreshes", "1", timeout=WAIT)
    row = page.locator(f"#result_list tr:has(input.action-select[value='{bea.pk}'])")
    note = row.locator(".live-admin-rownote")
    expect(note).to_have_text("Customer: Bea → Beatrix")
    expect(note).to_be_hidden()
    row.locator("td").last.hover()
    expect(note).to_be_visible()
    screenshot(page, "diff-row-hover")
    page.mouse.move(0, 0)
    expect(note).to_be_hidden()
    row.locator("input.action-select").focus()  # as Tab would reach it
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(note).to_be_visible()
    expect(page.locator("#live-admin-announce")).to_have_text(
        "1 row changed: Customer: Bea → Beatrix"
    )
    other = page.locator(f"#result_list tr:has(input.action-select[value='{orders[0].pk}'])")
    expect(other.locator(".live-admin-rownote")).to_have_count(0)


def test_a_whole_list_refresh_notes_the_rows_that_changed_and_only_those(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=name) for name in ("Ada", "Bea", "Cy")]
    page = open_page(admin_user, "/admin/testapp/order/")
    ada = orders[0]
    ada.customer = "Adele"
    ada.save()  # in place: a row refresh, and a note on Ada's row
    expect(page.locator("#live-admin")).to_have_attribute("data-row-refreshes", "1", timeout=WAIT)
    bea = orders[1]
    bea.status = "paid"
    bea.save()  # the list's filter and groups follow status: the whole list is refreshed
    expect(page.locator("#live-admin")).to_have_attribute("data-refreshes", "1", timeout=WAIT)
    row = page.locator(f"#result_list tr:has(input.action-select[value='{bea.pk}'])")
    expect(row.locator(".live-admin-rownote")).to_have_text("Status: new → paid")
    flashed = page.locator("#result_list tr.live-admin-flash input.action-select")
    assert [box.get_attribute("value") for box in flashed.all()] == [str(bea.pk)]


def test_a_list_sorted_by_two_columns_labels_its_notes_without_their_priorities(
    open_page: OpenPage, admin_user: User
) -> None:
    orders = [Order.objects.create(customer=name) for name in ("Ada", "Bea")]
    page = open_page(admin_user, "/admin/testapp/order/?o=1.2")  # customer, then status
    assert page.locator("#result_list thead .sortpriority").count() == 2
    bea = orders[1]
    bea.customer = "Beatrix"
    bea.save()
    row = page.locator(f"#result_list tr:has(input.action-select[value='{bea.pk}'])")
    expect(row.locator(".live-admin-rownote")).to_have_text("Customer: Bea → Beatrix", timeout=WAIT)
