"""Database capture, as a person sees it: someone at ``psql`` updates an order while its list
and its change form are open; both show the new value, without a reload."""

from __future__ import annotations

import re

from conftest import Daphne
from playwright.sync_api import Browser, Page, expect
from test_database_capture import Database, database, served  # noqa: F401 (fixtures)

from .conftest import screenshot, wait_live

WAIT = 10_000


def open_as_ann(
    browser: Browser,
    served: Daphne,  # noqa: F811 (the fixtures, imported)
    database: Database,  # noqa: F811
    path: str,
) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "sessionid", "value": database.cookie, "url": served.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served.url + path)
    wait_live(page)
    assert errors == []
    return page


def test_a_psql_update_shows_on_the_open_list_and_form(
    browser: Browser,
    served: Daphne,  # noqa: F811 (the fixtures, imported)
    database: Database,  # noqa: F811
) -> None:
    pk = database.server.psql(
        "INSERT INTO testapp_order (customer, status, priority) "
        "VALUES ('Gus', 'new', 0) RETURNING id"
    )
    listing = open_as_ann(browser, served, database, "/admin/testapp/order/")
    form = open_as_ann(browser, served, database, f"/admin/testapp/order/{pk}/change/")
    row = listing.locator("#result_list tbody tr", has_text="Gus")
    expect(row).to_have_count(1)
    expect(form.locator("#id_customer")).to_have_value("Gus")

    database.server.psql(f"UPDATE testapp_order SET customer = 'Gus Grant' WHERE id = {pk}")

    expect(listing.locator("#result_list tbody tr", has_text="Gus Grant")).to_have_count(
        1, timeout=WAIT
    )
    expect(form.locator("#id_customer")).to_have_value("Gus Grant", timeout=WAIT)
    # The badges count that one change; the listener's "check everything" on taking the lead
    # (nothing known to have changed) counts on none of them.
    sidebar = form.locator("#nav-sidebar")
    expect(sidebar.locator("tr.model-order .live-admin-badge")).to_have_text(
        re.compile(r"^1(?!\d|\+)"), timeout=WAIT
    )
    expect(sidebar.locator(".live-admin-badge")).to_have_count(1)
    screenshot(listing, "database-capture-list")
    screenshot(form, "database-capture-form")

    database.server.psql(f"DELETE FROM testapp_order WHERE id = {pk}")
    expect(listing.locator("#result_list tbody tr", has_text="Gus")).to_have_count(0, timeout=WAIT)
    expect(form.locator("#live-admin-banner, .live-admin-banner").first).to_contain_text(
        re.compile("deleted", re.I), timeout=WAIT
    )
