"""The public surface, the app config, routing, and what the built wheel contains."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command

import live_admin
from live_admin import admin, routing
from live_admin.capture import record as broadcast
from live_admin.realtime.consumer import LiveAdminConsumer


def test_lazy_public_names() -> None:
    assert live_admin.LiveAdminMixin is admin.LiveAdminMixin
    assert live_admin.notify is broadcast.notify
    assert live_admin.batch is broadcast.batch
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        live_admin.nothing  # noqa: B018
    assert sorted(live_admin.__all__) == ["LiveAdminMixin", "batch", "notify", "send_stats"]


@pytest.mark.django_db(transaction=True)
def test_send_stats_count_what_the_sender_did() -> None:
    from testapp.models import Project

    before = live_admin.send_stats()
    assert set(before) == {"sent", "failed", "dropped", "unheard"}
    Project.objects.create(name="Counted")  # no socket in this process: unheard, in memory
    after = live_admin.send_stats()
    assert sum(after.values()) > sum(before.values())
    after["sent"] += 1  # a copy: the sender's own counts stay as they are
    assert live_admin.send_stats() != after


def test_routing_uses_the_configured_path() -> None:
    (pattern,) = routing.websocket_urlpatterns
    assert str(pattern.pattern) == "ws/live-admin/"
    assert pattern.callback.consumer_class is LiveAdminConsumer
    (stream,) = routing.http_urlpatterns
    assert str(stream.pattern) == "live-admin/stream/"


def test_tests_run_against_the_installed_package() -> None:
    """``make test`` installs the built wheel; this proves the tests import that, not the tree."""
    if os.environ.get("LIVE_ADMIN_TEST_WHEEL") != "1":
        pytest.fail(
            "run through `make test`, which installs the wheel and sets LIVE_ADMIN_TEST_WHEEL=1"
        )
    package = Path(live_admin.__file__).parent
    assert "site-packages" in package.parts
    assert (package / "py.typed").is_file()
    for name in ("page.html", "head.html", "status.html"):
        assert (package / "templates" / "live_admin" / name).is_file(), name
    for name in (
        "live-admin.js",
        "helpers.js",
        "live-admin.css",
        "vendor/htmx.min.js",
        "vendor/htmx.LICENSE",
    ):
        assert (package / "static" / "live_admin" / name).is_file(), name


@pytest.mark.django_db
def test_the_test_apps_migrations_are_current() -> None:
    """PostgreSQL needs them (an app without migrations cannot refer to auth's tables)."""
    call_command("makemigrations", "testapp", "--check", "--dry-run", verbosity=0)
