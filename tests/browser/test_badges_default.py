"""Change badges with the default settings on a Redis channel layer: no ``BADGE_CACHE``, and a
worker process saving while an index page is open. The badge counts what the worker saved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer, run_django
from django.contrib.auth.models import User
from playwright.sync_api import expect

from .test_badges import WAIT, OpenPage, badge, badges_live

pytestmark = pytest.mark.django_db(transaction=True)

SAVE_THREE = (
    "from testapp.models import Order\n"
    "for name in ('Ann', 'Ben', 'Cid'): Order.objects.create(customer=name)\n"
)


@pytest.fixture
def server(redis_server: RedisServer, tmp_path: Path, transactional_db: None) -> Iterator[Daphne]:
    """A server on the Redis layer whose settings name no badge store."""
    redis_server.command("FLUSHDB")  # no batch or "seen" left by another test
    daphne = Daphne(tmp_path / "daphne.log", redis_server.url)
    daphne.env.pop("LIVE_ADMIN_TEST_BADGE_CACHE")
    daphne.stop()
    daphne.start()
    yield daphne
    daphne.stop()


def test_a_workers_saves_count_on_the_index_without_a_badge_cache(
    open_page: OpenPage, admin_user: User, redis_server: RedisServer
) -> None:
    index = open_page(admin_user, "/admin/", state=None)
    badges_live(index)
    expect(index.locator(".live-admin-badge")).to_have_count(0)
    worker = {"LIVE_ADMIN_TEST_REDIS": redis_server.url}  # its own process, no badge store
    done = run_django("shell", "-c", SAVE_THREE, env=worker)
    assert done.returncode == 0, done.stderr
    expect(badge(index, "order")).to_have_text(re.compile(r"^3"), timeout=WAIT)
    index.reload()  # counted from the store, not only from what the page heard
    badges_live(index)
    expect(badge(index, "order")).to_have_text(re.compile(r"^3"), timeout=WAIT)
