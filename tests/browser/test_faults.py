"""Pages under faults: Redis restarting beneath them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer, redis_layers, session_cookie
from django.contrib.auth.models import User
from django.test import override_settings
from playwright.sync_api import Browser, Page, expect

from testapp.models import Project

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, for the server and for this process's saves."""
    server = RedisServer(tmp_path)
    with override_settings(CHANNEL_LAYERS=redis_layers(server.url)):
        yield server
    server.stop()


@pytest.fixture
def server(redis: RedisServer, tmp_path: Path, transactional_db: None) -> Iterator[Daphne]:
    daphne = Daphne(tmp_path / "daphne.log", redis.url)
    yield daphne
    daphne.stop()


def test_redis_restart_gives_one_catch_up_refresh(
    open_page: Callable[..., Page], admin_user: User, redis: RedisServer, tmp_path: Path
) -> None:
    Project.objects.create(name="Before")
    page = open_page(admin_user, "/admin/testapp/project/")
    page.evaluate("window.__notReloaded = true")
    redis.stop()
    restarted = RedisServer(tmp_path, port=redis.port)  # empty: every group membership is gone
    try:
        live = page.locator("#live-admin")
        expect(live).to_have_attribute("data-refreshes", "1", timeout=15_000)
        expect(live).to_have_attribute("data-live-state", "live")
        assert page.evaluate("window.__notReloaded === true")
        Project.objects.create(name="After the restart")  # and changes flow again
        expect(page.locator("#result_list tbody tr", has_text="After the restart")).to_have_count(
            1, timeout=15_000
        )
    finally:
        restarted.stop()


def test_a_page_whose_helpers_were_not_served_says_it_is_offline(
    browser: Browser, admin_user: User, server: Daphne
) -> None:
    """An upgrade served without its new static files (collectstatic not run again)."""
    Project.objects.create(name="Apollo")
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": session_cookie(admin_user), "url": server.url}]
    )
    page = context.new_page()
    page.route("**/static/live_admin/helpers.js", lambda route: route.fulfill(status=404))
    page.goto(server.url + "/admin/testapp/project/")
    live = page.locator("#live-admin")
    expect(live).to_have_attribute("data-live-state", "offline")
    expect(live).to_contain_text("Offline")
    expect(page.locator("#result_list")).to_be_visible()  # the stock page works as ever
    context.close()
