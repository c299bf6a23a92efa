"""The popular admin themes (live_admin/themes.py): a live list and a live change form on each,
driven as a person drives them. The theme is installed in the server only (its app goes before
the admin's in the test settings)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer
from django.contrib.auth.models import User
from playwright.sync_api import FloatRect, Locator, Page, expect
from test_demo import demo

from testapp.models import Order

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000
#: Per theme: what a person clicks for "Select all N", where the list says how many rows.
QUESTION = {
    "jazzmin": ".actions .question a",
    "grappelli": ".grp-question a",
    "unfold": ".actions .question a",
}
COUNT = {
    "jazzmin": "#changelist-form .dataTables_info",
    "grappelli": ".c-2 .grp-pagination",
    "unfold": "#live-admin-footer",
}
#: And where a change form shows a field ({name}).
FIELD = {
    "jazzmin": ".field-{name}",
    "grappelli": ".form-row.{name}",
    "unfold": ".field-{name}",
}


@pytest.fixture(params=["jazzmin", "grappelli", "unfold"])
def theme(request: pytest.FixtureRequest) -> str:
    if importlib.util.find_spec(request.param) is None:
        pytest.fail(
            f"{request.param} is not installed: pip install --group themes (make test does)"
        )
    return request.param


@pytest.fixture
def server(
    redis_layer: RedisServer, tmp_path: Path, transactional_db: None, theme: str
) -> Iterator[Daphne]:
    daphne = Daphne(tmp_path / "daphne.log", redis_layer.url, env={"LIVE_ADMIN_TEST_THEME": theme})
    yield daphne
    daphne.stop()


def row(page: Page, pk: int) -> Locator:
    return page.locator(f"#result_list tbody tr:has(input.action-select[value='{pk}'])")


def assert_buttons_uncovered(page: Page) -> None:
    """The status stays above the bars a theme fixes at the bottom, not over their buttons:
    as the page first shows it (hidden until its script placed it), and once placed."""
    uncovered(page, page.locator("#live-admin").bounding_box())
    page.wait_for_selector("#live-admin[data-live-modules]", state="attached", timeout=10_000)
    status = page.locator("#live-admin").bounding_box()
    assert status is not None
    uncovered(page, status)


def uncovered(page: Page, status: FloatRect | None) -> None:
    for button in page.locator("[type=submit], .actions a, .grp-changelist-actions a").all():
        box = button.bounding_box()
        assert (
            status is None
            or box is None
            or not (
                status["x"] < box["x"] + box["width"]
                and box["x"] < status["x"] + status["width"]
                and status["y"] < box["y"] + box["height"]
                and box["y"] < status["y"] + status["height"]
            )
        ), "the status indicator covers a button"


def assert_readable(button: Locator) -> None:
    """A button of ours shows its whole label (a theme that sizes every button cuts it)."""
    widths = button.evaluate("e => [e.scrollWidth, e.clientWidth]")
    # Within a pixel or two (sub-pixel text): a cut label is short by far more.
    assert widths[1] > 40, f"cut: {widths} {button.inner_text()}"
    assert widths[0] <= widths[1] + 2, f"cut: {widths} {button.inner_text()}"


def covered_by(locator: Locator, cover: str) -> bool:
    """Whether a click at the centre of ``locator`` would reach ``cover`` instead."""
    return locator.evaluate(
        """(el, cover) => {
            const box = el.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return Boolean(hit && hit.closest(cover));
        }""",
        cover,
    )


def choose_action(page: Page, theme: str, label: str) -> None:
    """Pick an action as a person does: Jazzmin's is a select2 box, the others' a plain select."""
    if theme == "jazzmin":
        page.click(".actions .select2-selection")
        page.click(f".select2-results__option:text-is('{label}')")
    else:
        page.locator("select[name=action]").first.focus()
        page.keyboard.type(label[:4])
    expect(page.locator("select[name=action]")).to_have_value("mark_shipped")


def test_a_live_list_keeps_ticks_and_edits_and_refreshes_its_count(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    ann, ben = Order.objects.create(customer="Ann"), Order.objects.create(customer="Ben")
    page = open_page(admin_user, "/admin/testapp/order/")
    Order.objects.create(customer="Cid")
    arrived = page.locator("#result_list tbody tr", has_text="Cid")
    expect(arrived).to_have_class(re.compile(r"\blive-admin-flash\b"), timeout=WAIT)
    expect(page.locator(COUNT[theme])).to_contain_text("3")
    # A tick, then an unsaved list_editable value left with Tab: updates wait for the user.
    row(page, ben.pk).locator("input.action-select").click()
    field = row(page, ann.pk).locator("input[name$='-status']")
    field.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("shipped")
    page.keyboard.press("Tab")
    Order.objects.create(customer="Dan")
    held = page.locator("#live-admin-held")
    expect(held).to_have_text("1 update — show", timeout=WAIT)
    assert_readable(held)
    box = held.bounding_box()
    assert box is not None
    assert box["y"] > 400, "the held button is over the theme's header"
    if theme == "unfold":  # its filter sheet opens over the whole page, the held button too
        page.locator("#changelist-filter-button, a:text-is('Filters')").first.click()
        expect(page.locator("#changelist-filter")).to_be_visible()
        assert covered_by(held, "#changelist-filter"), "the held button is over Unfold's sheet"
        page.keyboard.press("Escape")
        expect(page.locator("#changelist-filter")).to_be_hidden()
    held.click()
    expect(page.locator("#result_list tbody tr", has_text="Dan")).to_have_count(1, timeout=WAIT)
    expect(row(page, ben.pk).locator("input.action-select")).to_be_checked()
    expect(row(page, ann.pk).locator("input[name$='-status']")).to_have_value("shipped")
    expect(page.locator(COUNT[theme])).to_contain_text("4")
    if theme == "grappelli":  # its filter pulldown, bound once by its script, still opens
        page.click("#grp-filters .grp-pulldown-handler")
        expect(page.locator("#grp-filters .grp-pulldown-content")).to_be_visible()
        page.keyboard.press("Escape")
    assert_buttons_uncovered(page)
    screenshot(page, f"theme-{theme}")
    page.locator("[name=_save]").first.click()  # Unfold's is a button tied by form=
    page.wait_for_load_state()
    ann.refresh_from_db()
    assert ann.status == "shipped"


def test_a_row_refresh_keeps_the_themes_cells(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    ann = Order.objects.create(customer="Ann")
    Order.objects.create(customer="Ben")
    page = open_page(admin_user, "/admin/testapp/order/")
    cell = row(page, ann.pk).locator("td.field-status")
    classes = cell.get_attribute("class")
    ann.priority = 7  # not shown, not in the layout: its row is refreshed in place
    ann.customer = "Ann Other"
    ann.save()
    page.wait_for_function(
        "Number(document.getElementById('live-admin').dataset.rowRefreshes || 0) >= 1",
        timeout=WAIT,
    )
    expect(row(page, ann.pk)).to_contain_text("Ann Other")
    assert row(page, ann.pk).locator("td.field-status").get_attribute("class") == classes
    note = row(page, ann.pk).locator(".live-admin-rownote")
    expect(note).to_have_text("Customer: Ann → Ann Other")  # before → after, on hover
    row(page, ann.pk).locator("td.field-status").hover()
    expect(note).to_be_visible()
    screenshot(page, f"theme-{theme}-row-note")


def test_an_action_on_a_row_changed_meanwhile_asks_in_the_themes_style(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    orders = [Order.objects.create(customer=name) for name in ("Ann", "Ben")]
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#action-toggle")
    choose_action(page, theme, "Mark shipped")
    ben = Order.objects.get(pk=orders[1].pk)
    ben.status = "cancelled"
    ben.save()
    expect(page.locator("#live-admin-held")).to_be_visible(timeout=WAIT)
    page.click("button[name=index]")
    expect(page.locator("#live-admin-changed")).to_contain_text("Status: new → cancelled")
    screenshot(page, f"theme-{theme}-action-confirmation")
    page.get_by_role("button", name="Run it only on the 1 unchanged row").click()
    page.wait_for_url("**/admin/testapp/order/")
    assert list(Order.objects.order_by("pk").values_list("status", flat=True)) == [
        "shipped",
        "cancelled",
    ]


def test_select_all_across_pages_and_an_action_survive_a_refresh(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    Order.objects.bulk_create(Order(customer=f"Customer {i}") for i in range(105))
    page = open_page(admin_user, "/admin/testapp/order/")
    page.click("#action-toggle")
    page.click(QUESTION[theme])  # "Select all 105 orders"
    choose_action(page, theme, "Mark shipped")
    Order.objects.create(customer="Arrived meanwhile")
    held = page.locator("#live-admin-held")
    expect(held).to_be_visible(timeout=WAIT)
    held.click()
    expect(page.locator(COUNT[theme])).to_contain_text("106", timeout=WAIT)
    expect(page.locator("input.select-across").first).to_have_value("1")
    expect(page.locator("select[name=action]")).to_have_value("mark_shipped")
    assert_buttons_uncovered(page)  # Unfold's action bar, "Clear selection" at its end
    if theme == "jazzmin":  # styled by select2 again, showing the action still chosen
        expect(page.locator(".actions .select2-selection__rendered")).to_have_text("Mark shipped")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert Order.objects.exclude(status="shipped").count() == 0  # every order, not one page


def test_a_live_change_form_updates_in_place_keeps_edits_and_sees_a_delete(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    order = Order.objects.create(customer="Ann")
    page = open_page(admin_user, f"/admin/testapp/order/{order.pk}/change/")
    # Pristine: another user's save shows in place.
    order.customer = "Ann Other"
    order.save()
    expect(page.locator("#id_customer")).to_have_value("Ann Other", timeout=WAIT)
    expect(page.locator("#live-admin-banner")).to_contain_text("changed")
    diff = page.locator("#live-admin-banner .live-admin-diff")
    expect(diff).to_have_text("Customer: Ann → Ann Other")
    expect(page.locator(FIELD[theme].format(name="customer")).first).to_have_class(
        re.compile(r"\blive-admin-changed\b")
    )
    # Dirty: the user's typing is never overwritten.
    page.click("#id_status")
    page.keyboard.press("Control+A")
    page.keyboard.type("packed")
    order.priority = 5
    order.save()
    expect(page.locator("#live-admin-banner button")).to_be_visible(timeout=WAIT)
    assert_readable(page.locator("#live-admin-banner button"))
    expect(page.locator("#id_status")).to_have_value("packed")
    expect(page.locator("#id_priority")).to_have_value("0")
    assert_buttons_uncovered(page)
    screenshot(page, f"theme-{theme}-form")
    order.delete()
    expect(page.locator("#live-admin-banner")).to_contain_text("deleted", timeout=WAIT)
    expect(page.locator("[name=_save]").first).to_be_disabled()


def retype(page: Page, selector: str, value: str) -> None:
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(value)


def test_presence_and_a_conflict_on_the_themes_change_form(
    open_page: OpenPage, admin_user: User, bob: User, theme: str
) -> None:
    order = Order.objects.create(customer="Ann")
    url = f"/admin/testapp/order/{order.pk}/change/"
    ada, other = open_page(admin_user, url), open_page(bob, url)
    presence = ada.locator("#live-admin-presence")
    expect(presence).to_have_text("Bob Other is viewing", timeout=WAIT)
    expect(presence).to_be_visible()
    retype(ada, "#id_status", "packed")  # both start typing in the same field
    retype(other, "#id_status", "cancelled")
    expect(presence).to_have_text("Bob Other is editing Status", timeout=WAIT)
    other.locator("[name=_save]").first.click()
    other.wait_for_url("**/admin/testapp/order/")
    expect(ada.locator("#live-admin-banner")).to_contain_text("Bob Other changed", timeout=WAIT)
    ada.locator("[name=_save]").first.click()
    panel = ada.locator("#live-admin-conflicts")
    expect(panel).to_contain_text("Keep mine: “packed”", timeout=WAIT)
    expect(panel).to_be_visible()
    expect(ada.locator(FIELD[theme].format(name="status")).first).to_contain_text(
        "Changed by someone else"
    )
    assert Order.objects.get(pk=order.pk).status == "cancelled"  # nothing written
    assert_buttons_uncovered(ada)
    screenshot(ada, f"theme-{theme}-conflict")
    ada.get_by_label("Keep mine: “packed”").check()
    ada.locator("[name=_save]").first.click()
    ada.wait_for_url("**/admin/testapp/order/")
    order.refresh_from_db()
    assert order.status == "packed"


THEMED_DEMO = """
import django, json, re
from html import unescape
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
connection.creation.create_test_db(verbosity=0)  # in-memory SQLite; demo/db.sqlite3 untouched
call_command("demo_setup", stdout=open("/dev/null", "w"))
call_command("check", fail_level="WARNING", stdout=open("/dev/null", "w"))
client = Client()
assert client.login(username="admin", password="admin")
page = client.get("/admin/shop/order/").content.decode()
theme = json.loads(unescape(re.search(r'data-theme="([^"]*)"', page)[1]))
print(theme["form"], "/static/{theme}/" in page)
"""


def test_the_demo_runs_on_the_theme(theme: str) -> None:
    result = demo("-c", THEMED_DEMO.replace("{theme}", theme), DEMO_THEME=theme)
    assert result.returncode == 0, result.stderr
    form = "#grp-changelist-form" if theme == "grappelli" else "#changelist-form"
    assert result.stdout.split() == [form, "True"]  # the theme's page, read with its selectors


def test_the_demo_refuses_an_unknown_theme() -> None:
    result = demo("manage.py", "check", DEMO_THEME="purple")
    assert result.returncode == 1
    assert "DEMO_THEME='purple': one of jazzmin, grappelli and unfold" in result.stderr


#: Where each theme lists models beside a live page (Grappelli has no sidebar).
SIDEBAR = {"jazzmin": ".nav-sidebar", "grappelli": None, "unfold": "#nav-sidebar-apps, nav"}


def test_change_badges_on_the_index_and_the_sidebar(
    open_page: OpenPage, admin_user: User, theme: str
) -> None:
    index = open_page(admin_user, "/admin/", state=None)
    index.wait_for_selector('#live-admin-badges[data-state="live"]', state="attached")
    Order.objects.create(customer="Ann")
    Order.objects.create(customer="Ben")
    orders = index.locator(".live-admin-badge[data-model='testapp.order']")
    expect(orders.first).to_have_text(re.compile(r"^2 "), timeout=WAIT)
    expect(orders.first).to_be_visible()
    screenshot(index, f"badges-{theme}")
    if SIDEBAR[theme] is None:
        return
    page = open_page(admin_user, "/admin/testapp/order/")
    from testapp.models import Project

    Project.objects.create(name="Apollo")
    projects = page.locator(".live-admin-badge[data-model='testapp.project']")
    expect(projects.first).to_have_text(re.compile(r"^1 "), timeout=WAIT)
    expect(page.locator(".live-admin-badge[data-model='testapp.order']")).to_have_count(0)
    screenshot(page, f"badges-{theme}-sidebar")
