from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest
from django.test import Client, override_settings

from live_admin.pages import themes
from live_admin.pages.themes import STOCK, THEMES, Theme, active


@pytest.fixture(autouse=True)
def _fresh() -> None:
    active.cache_clear()
    yield
    active.cache_clear()


def test_the_stock_admin_without_a_theme_app() -> None:
    assert active() == ("stock", STOCK)


def test_the_first_theme_whose_app_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        themes,
        "THEMES",
        {
            "absent": replace(STOCK, app="no_such_theme"),
            "present": replace(STOCK, app="import_export", form="#theirs"),
            "stock": STOCK,
        },
    )
    name, theme = active()
    assert (name, theme.form) == ("present", "#theirs")


def test_installed_apps_changing_chooses_again() -> None:
    active()
    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"]):
        assert active.cache_info().currsize == 0


def test_the_page_reads_every_selector_in_camel_case() -> None:
    data = json.loads(THEMES["grappelli"].as_json)
    assert len(data) == len(fields(Theme)) - 4  # not what only the server reads
    assert data["changeForm"] == "#grp-content-container form"
    assert data["fieldRow"][0] == ".form-row.{name}"
    assert data["bottomBar"] == ".grp-fixed-footer"
    assert data["restyle"] == []


@pytest.mark.parametrize("name", sorted(THEMES))
def test_every_theme_names_its_app_and_places_rows_in_the_results_table(name: str) -> None:
    theme = THEMES[name]
    assert (theme.app is None) == (name == "stock")
    assert theme.row.startswith("#result_list")  # the row refresh reads the same table
    assert all("{name}" in pattern for pattern in theme.field_row)


@pytest.mark.django_db
def test_a_theme_with_its_own_htmx_and_a_footer_region(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    themed = replace(STOCK, app="import_export", own_htmx=True, footer=True)
    monkeypatch.setattr(themes, "THEMES", {"themed": themed, "stock": STOCK})
    page = admin_client.get("/admin/testapp/order/").content.decode()
    assert "live_admin/vendor/htmx.min.js" not in page  # the theme's htmx serves
    assert page.count('id="live-admin-footer"') == 1
    refresh = admin_client.get("/admin/testapp/order/", headers={"X-Live-Admin-Refresh": "1"})
    assert 'id="live-admin-footer"' in refresh.content.decode()  # a region of the refresh
    active.cache_clear()
    monkeypatch.undo()
    stock = admin_client.get("/admin/testapp/order/").content.decode()
    assert "live_admin/vendor/htmx.min.js" in stock
    assert "live-admin-footer" not in stock


def test_with_two_themes_installed_the_first_in_installed_apps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = replace(STOCK, app="import_export", form="#first")
    later = replace(STOCK, app="testapp", form="#later")  # after import_export in the settings
    monkeypatch.setattr(themes, "THEMES", {"later": later, "first": first, "stock": STOCK})
    assert active()[0] == "first"
