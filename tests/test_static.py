"""The vendored htmx is the pinned version and carries its licence."""

from __future__ import annotations

from django.contrib.staticfiles import finders

from live_admin.conf import HTMX_VERSION


def test_vendored_htmx_is_the_pinned_version() -> None:
    path = finders.find("live_admin/vendor/htmx.min.js")
    assert path, "htmx is not found by the staticfiles finders"
    with open(path, encoding="utf-8") as f:
        source = f.read()
    assert f'version:"{HTMX_VERSION}"' in source


def test_htmx_licence_ships_beside_it() -> None:
    path = finders.find("live_admin/vendor/htmx.LICENSE")
    assert path
    with open(path, encoding="utf-8") as f:
        assert "Zero-Clause BSD" in f.read()
