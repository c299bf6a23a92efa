"""Pages that were away catch up from their cursor: what they missed is told again, so a list
refreshes only the row that changed; a history that cannot say means one check of everything."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Daphne, RedisServer
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from live_admin.delivery.sender import sender
from testapp.models import Project, Ticket

from .conftest import forgive_server_away, screenshot, wait_live

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


def counted(page: Page, name: str) -> int:
    return int(page.locator("#live-admin").get_attribute(f"data-{name}") or 0)


def fetches(page: Page) -> list[str]:
    """The re-fetches a page makes from now on: whole lists, rows, forms."""
    made: list[str] = []
    page.on(
        "request",
        lambda r: (
            made.append(r.url)
            if r.resource_type in ("fetch", "xhr") and r.method != "HEAD"  # HEAD: is it up?
            else None
        ),
    )
    return made


@pytest.fixture
def tickets() -> list[Ticket]:
    project = Project.objects.create(name="Apollo")
    return [Ticket.objects.create(project=project, title=f"Ticket {i}") for i in range(5)]


def away_while(pages: list[Page], server: Daphne, change: Callable[[], None]) -> None:
    """Stop the server, make ``change`` while every page says it is reconnecting, start it."""
    server.stop()
    for page in pages:
        wait_live(page, "reconnecting")
    change()
    assert sender.flush(10)
    server.start()
    for page in pages:
        wait_live(page)


def test_tabs_catch_up_after_a_server_restart_and_the_list_by_one_row(
    open_page: OpenPage,
    admin_user: User,
    server: Daphne,
    tickets: list[Ticket],
    console_errors: list[str],
) -> None:
    lists = [open_page(admin_user, "/admin/testapp/ticket/") for _ in range(2)]
    form = open_page(admin_user, f"/admin/testapp/ticket/{tickets[0].pk}/change/")
    other_form = open_page(admin_user, f"/admin/testapp/ticket/{tickets[1].pk}/change/")
    for page in [*lists, form, other_form]:
        page.evaluate("window.__notReloaded = true")
    made = [fetches(page) for page in [*lists, other_form]]

    def rename() -> None:
        tickets[0].title = "Renamed while the server was down"
        tickets[0].save()

    away_while([*lists, form, other_form], server, rename)
    for page in lists:
        expect(page.locator("#result_list tbody tr", has_text="Renamed while")).to_have_count(
            1, timeout=WAIT
        )
    expect(form.locator("#id_title")).to_have_value(
        "Renamed while the server was down", timeout=WAIT
    )
    # Then a change heard live: had any page also checked everything on its return, that
    # check would have come first.
    tickets[1].title = "Then one live"
    tickets[1].save()
    expect(other_form.locator("#id_title")).to_have_value("Then one live", timeout=WAIT)
    for page in lists:
        expect(page.locator("#result_list tbody tr", has_text="Then one live")).to_have_count(
            1, timeout=WAIT
        )
        assert counted(page, "row-refreshes") == 2
        assert counted(page, "refreshes") == 0  # never the whole list
    assert [len(urls) for urls in made] == [2, 2, 1], made  # a row each time; the live change
    assert all(page.evaluate("window.__notReloaded === true") for page in [*lists, form])
    screenshot(lists[0], "catch-up-row")
    forgive_server_away(console_errors)


def test_a_lost_history_means_one_whole_check(
    open_page: OpenPage,
    admin_user: User,
    server: Daphne,
    redis_layer: RedisServer,
    tickets: list[Ticket],
    console_errors: list[str],
) -> None:
    page = open_page(admin_user, "/admin/testapp/ticket/")

    def rename_and_forget() -> None:
        tickets[2].title = "Renamed, and the history lost"
        tickets[2].save()
        assert sender.flush(10)
        redis_layer.command("FLUSHALL")  # a Redis that restarted with nothing saved

    away_while([page], server, rename_and_forget)
    expect(page.locator("#result_list tbody tr", has_text="the history lost")).to_have_count(
        1, timeout=WAIT
    )
    assert counted(page, "refreshes") == 1
    forgive_server_away(console_errors)
