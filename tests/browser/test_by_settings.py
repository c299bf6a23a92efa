"""Admins made live by LIVE_ADMIN["MODELS"] alone, in a real browser: a plain ModelAdmin's list
and django.contrib.auth's own user list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from playwright.sync_api import Page, expect

from testapp.models import Widget

from .test_rows import count, following, row

pytestmark = pytest.mark.django_db(transaction=True)

OpenPage = Callable[..., Page]
WAIT = 10_000


def test_a_plain_admins_list_is_live_through_search_and_list_editable(
    open_page: OpenPage, admin_user: User
) -> None:
    bolt, nut = Widget.objects.create(name="bolt"), Widget.objects.create(name="nut")
    page = open_page(admin_user, "/admin/testapp/widget/")
    page.click("#searchbar")
    page.keyboard.type("bolt")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=bolt")
    following(page)
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    bolt.stock = 40
    bolt.save()  # by someone else
    stock = row(page, bolt.pk).locator("input[name$='-stock']")
    expect(stock).to_have_value("40", timeout=WAIT)
    assert count(page, "row-refreshes") == 1
    nut.name = "bolt nut"
    nut.save()  # now matches the search: the list gains it
    expect(page.locator("#result_list tbody tr")).to_have_count(2, timeout=WAIT)
    stock = row(page, bolt.pk).locator("input[name$='-stock']")
    stock.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("41")
    page.keyboard.press("Tab")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    bolt.refresh_from_db()
    assert bolt.stock == 41


def test_a_login_leaves_the_user_list_alone(open_page: OpenPage, admin_user: User) -> None:
    bob = User.objects.create_user("bob", password="pw", is_staff=True)
    frames: list[dict[str, Any]] = []
    page = open_page(admin_user, "/admin/auth/user/", frames=frames)
    following(page)
    assert Client().login(username="bob", password="pw")  # saves bob's last_login
    bob.refresh_from_db()
    assert bob.last_login is not None
    bob.first_name = "Bobby"
    bob.save()  # sent after the login would have been, on the same layer
    expect(row(page, bob.pk)).to_contain_text("Bobby", timeout=WAIT)
    changed = [f for f in frames if f["type"] == "changed"]
    assert changed
    assert all(f.get("fields", ["first_name"]) == ["first_name"] for f in changed)
    assert (count(page, "row-refreshes"), count(page, "refreshes")) == (1, 0)
