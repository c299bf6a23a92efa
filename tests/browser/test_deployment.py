"""A production-shaped deployment: daphne, uvicorn and gunicorn (two uvicorn workers) side by side,
a separate writer process, one Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SERVERS, Daphne, RedisServer, run_django, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from testapp.models import Project, Ticket

from .conftest import wait_live

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def servers(redis_layer: RedisServer, tmp_path: Path) -> Iterator[list[Daphne]]:
    servers = [kind(tmp_path / f"{name}.log", redis_layer.url) for name, kind in SERVERS.items()]
    yield servers
    for server in servers:
        server.stop()


def page_on(browser: Browser, server: Daphne, user: User, path: str) -> Page:
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session_cookie(user), "url": server.url}])
    page = context.new_page()
    page.goto(server.url + path)
    wait_live(page)
    return page


def test_a_writer_process_reaches_pages_on_every_server(
    browser: Browser, servers: list[Daphne], redis_layer: RedisServer, admin_user: User
) -> None:
    project = Project.objects.create(name="Apollo")
    ticket = Ticket.objects.create(project=project, title="Shared", status="open")
    lists = [page_on(browser, server, admin_user, "/admin/testapp/ticket/") for server in servers]
    forms = [
        page_on(browser, server, admin_user, f"/admin/testapp/ticket/{ticket.pk}/change/")
        for server in servers
    ]
    result = run_django(
        "touch_ticket", str(ticket.pk), "closed", env={"LIVE_ADMIN_TEST_REDIS": redis_layer.url}
    )
    assert result.returncode == 0, result.stderr
    for page in lists:
        row = page.locator("#result_list tbody tr", has_text="Shared")
        expect(row).to_contain_text("closed", timeout=10_000)
    for page in forms:
        expect(page.locator("#id_status")).to_have_value("closed", timeout=10_000)
        expect(page.locator("#live-admin-banner")).to_contain_text("This object was changed at")
    for page in lists + forms:
        page.context.close()
