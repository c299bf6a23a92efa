"""The admin index and app index with change badges: the site's own templates underneath."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, override_settings

from testapp.admin import other_site
from testapp.models import Order

pytestmark = pytest.mark.django_db

BOX = re.compile(r'<div id="live-admin-badges"[^>]*data-models="([^"]*)"')


def badge_models(html: str) -> list[str] | None:
    found = BOX.search(html)
    if found is None:
        return None
    return [m["model"] for m in json.loads(found.group(1).replace("&quot;", '"'))]


def test_index_and_app_index_show_badges_of_the_live_models(admin_client: Client) -> None:
    for path in ("/admin/", "/admin/testapp/"):
        response = admin_client.get(path)
        assert response.status_code == 200
        models = badge_models(response.content.decode())
        assert models is not None
        assert "testapp.order" in models
        assert "testapp.ticket" not in models  # live_badges = False
        assert "testapp.tag" not in models  # not a live admin
        html = response.content.decode()
        # The badges' module alone: an index is no live page.
        assert '<script type="module" src="/static/live_admin/badges.js">' in html
        assert "live_admin/live-admin.js" not in html
        assert 'id="live-admin"' not in html
    assert admin.site.index_template is None  # the site's attributes stay as they were
    assert admin.site.app_index_template is None


def test_the_site_renders_its_own_templates_underneath(admin_client: Client) -> None:
    response = admin_client.get("/admin/")
    assert "admin/index.html" in [t.name for t in response.templates]
    response = admin_client.get("/admin/testapp/")
    assert "admin/app_index.html" in [t.name for t in response.templates]
    assert response.context["app_label"] == "testapp"


def test_an_apps_own_app_index_template_is_kept(
    admin_client: Client, settings: Any, tmp_path: Path
) -> None:
    own = tmp_path / "admin" / "testapp" / "app_index.html"
    own.parent.mkdir(parents=True)
    own.write_text(
        '{% extends "admin/app_index.html" %}{% block content %}OWN APP INDEX'
        "{{ block.super }}{% endblock %}"
    )
    engine = dict(settings.TEMPLATES[0], DIRS=[str(tmp_path)])
    with override_settings(TEMPLATES=[engine]):
        html = admin_client.get("/admin/testapp/").content.decode()
        assert "OWN APP INDEX" in html
        assert badge_models(html)
        assert "OWN APP INDEX" not in admin_client.get("/admin/auth/").content.decode()


def test_a_sites_own_index_template_is_kept(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    other_site.index_template = "testapp/other_index.html"
    try:
        response = client.get("/other-admin/")
    finally:
        other_site.index_template = None
    assert "OTHER SITE INDEX" in response.content.decode()
    assert badge_models(response.content.decode()) is not None
    # Nothing a project reads changes: the site's attribute, the response's template name.
    assert other_site.index_template is None
    assert response.template_name == "testapp/other_index.html"


def test_badges_off_renders_the_stock_pages(admin_client: Client) -> None:
    with override_settings(LIVE_ADMIN={"BADGES": False}):
        for path in ("/admin/", "/admin/testapp/", "/admin/testapp/order/"):
            html = admin_client.get(path).content.decode()
            assert badge_models(html) in (None, [])
            if path != "/admin/testapp/order/":
                assert "live_admin/" not in html


def test_a_changelist_shows_no_badge_of_its_own_model(admin_client: Client) -> None:
    models = badge_models(admin_client.get("/admin/testapp/order/").content.decode())
    assert models is not None
    assert "testapp.order" not in models
    assert "testapp.project" in models
    models = badge_models(admin_client.get("/admin/testapp/order/add/").content.decode())
    assert models is not None
    assert "testapp.order" in models


def test_a_user_sees_badges_only_of_models_the_admin_lists_for_them(client: Client) -> None:
    from conftest import make_user

    client.force_login(make_user("viewer", perms=("view_order",)))
    assert badge_models(client.get("/admin/").content.decode()) == ["testapp.order"]


def test_logged_out_pages_are_the_stock_ones(client: Client) -> None:
    html = client.get("/admin/login/").content.decode()
    assert "live_admin/" not in html


def test_an_index_entry_without_a_model_or_a_link_gets_no_badge() -> None:
    from django.template import Context

    from live_admin.templatetags.live_admin import live_admin_badges

    apps = [{"models": [{"model": None, "admin_url": "/x/"}, {"model": Order, "admin_url": None}]}]
    assert live_admin_badges(Context({"available_apps": apps})) == "[]"
