"""The mixin's page injection: namespaced templates that extend what the admin would render."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import pytest
from django.test import Client, override_settings

from live_admin.admin import LiveAdminMixin, live_admins
from live_admin.realtime import layouts
from testapp.admin import OrderAdmin
from testapp.models import Note, Order, Project, Tag, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def config(html: str) -> dict[str, str]:
    match = re.search(r'<div id="live-admin"(.*?)>', html, re.S)
    assert match, "no live-admin config on the page"
    found = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(1)))
    assert json.loads(unescape(found.pop("strings")))["live"] == "Live"
    assert json.loads(unescape(found.pop("theme")))["form"] == "#changelist-form"  # stock
    return found


def test_changelist_carries_its_config(admin_client: Client) -> None:
    html = admin_client.get("/admin/testapp/ticket/").content.decode()
    found = config(html)
    assert layouts.read_layout(found.pop("layout"), "testapp.ticket") == {
        "id"
    }  # signed (see test_rows)
    assert len(found.pop("csrf")) == 64  # for the fallback transport's POSTs
    assert found == {
        "live-state": "connecting",
        "ws-path": "/ws/live-admin/",
        "stream-path": "/live-admin/stream/",
        "worker": "/static/live_admin/shared.js",
        "model": "testapp.ticket",
        "debounce-ms": "300",
        "reconnect-ms": "1000",
        "origin-field": "_live_origin",
        "login-url": "/admin/login/",
        "time-zone": "America/Chicago",  # the admin's (TIME_ZONE), for the times the page says
        # The limits the page script shares with the server (live_admin.protocol), written once.
        "max-watched": "200",
        "max-parts": "100",
        "heartbeat": "4",
    }
    assert 'id="changelist"' in html  # still the admin's own page
    assert re.search(r'<script src="/static/live_admin/vendor/htmx.min.js" defer>', html)
    # The page's own modules (a changelist's, not a change form's), and the classic script
    # that says "Offline" when they could not run.
    assert re.findall(r'<script (?:type="module" )?src="/static/live_admin/([^"]+)"', html) == [
        "vendor/htmx.min.js",
        "live-admin.js",
        "changelist.js",
        "presence.js",
        "badges.js",
    ]
    assert '<link rel="stylesheet" href="/static/live_admin/live-admin.css">' in html
    assert "<script>" not in html.split('id="live-admin"')[1]  # no inline script of ours


def test_a_refresh_renders_only_what_the_page_swaps_in(admin_client: Client) -> None:
    Order.objects.create(customer="on the list")
    refresh = {"headers": {"X-Live-Admin-Refresh": "1"}}
    full = admin_client.get("/admin/testapp/order/").content.decode()
    part = admin_client.get("/admin/testapp/order/", **refresh).content.decode()
    for kept in ('id="changelist-form"', 'id="toolbar"', 'id="changelist-filter"', "on the list"):
        assert kept in full
        assert kept in part
    for left_out in ('id="header"', 'id="nav-sidebar"', 'class="breadcrumbs"', 'id="live-admin"'):
        assert left_out in full
        assert left_out not in part
    assert len(part) < len(full) * 0.8


def test_a_refresh_leaves_the_sessions_messages_for_the_next_page(admin_client: Client) -> None:
    project = Project.objects.create(name="p")
    ticket = Ticket.objects.create(project=project, title="renamed")
    saved = admin_client.post(
        f"/admin/testapp/ticket/{ticket.pk}/change/",
        {"title": "renamed again", "status": "open", "project": project.pk},
    )
    assert saved.status_code == 302  # the admin queued a "changed successfully" message
    for path in ("/admin/testapp/ticket/", f"/admin/testapp/ticket/{ticket.pk}/change/"):
        part = admin_client.get(path, headers={"X-Live-Admin-Refresh": "1"}).content.decode()
        assert "messagelist" not in part
        if path.endswith("/change/"):
            assert 'name="title"' in part  # what the change form's catch-up reads
    page = admin_client.get(saved["Location"]).content.decode()
    assert "messagelist" in page
    assert "renamed again" in page


@pytest.mark.parametrize(
    ("query", "group"),
    [
        ("?project__id__exact=3", ("project", "3")),
        ("?project=3&status=open", ("project", "3")),
        ("?project_id__exact=3&q=x", ("project", "3")),
        ("?status=open", None),
        ("?project__id__exact=3&project__id__exact=4", None),
    ],
)
def test_a_list_filtered_to_one_group_follows_it(
    admin_client: Client, query: str, group: Any
) -> None:
    page = config(admin_client.get("/admin/testapp/ticket/" + query).content.decode())
    assert (page.get("group-field"), page.get("group-value")) == (group or (None, None))


def test_change_form_names_its_object(admin_client: Client) -> None:
    ticket = Ticket.objects.create(project=Project.objects.create(name="P"), title="T")
    html = admin_client.get(f"/admin/testapp/ticket/{ticket.pk}/change/").content.decode()
    assert config(html)["pk"] == str(ticket.pk)
    assert "pk" not in config(admin_client.get("/admin/testapp/ticket/add/").content.decode())


def test_settings_reach_the_page(admin_client: Client) -> None:
    with override_settings(LIVE_ADMIN={"WS_PATH": "live/", "DEBOUNCE_MS": 50}):
        page = config(admin_client.get("/admin/testapp/project/").content.decode())
    assert (page["ws-path"], page["debounce-ms"]) == ("/live/", "50")


@pytest.mark.parametrize("language", ["en", "de"])
def test_numbers_in_the_page_config_are_not_localised(admin_client: Client, language: str) -> None:
    live = {"RECONNECT_MS": 12_000, "DEBOUNCE_MS": 1_500}
    with override_settings(
        LIVE_ADMIN=live, USE_THOUSAND_SEPARATOR=True, LANGUAGE_CODE=language, USE_I18N=True
    ):
        page = config(admin_client.get("/admin/testapp/project/").content.decode())
    assert (page["reconnect-ms"], page["debounce-ms"]) == ("12000", "1500")


def test_an_admins_own_template_is_kept(admin_client: Client) -> None:
    Order.objects.create(customer="Ann")
    html = admin_client.get("/admin/testapp/order/").content.decode()
    assert '<meta name="order-admin-own-template">' in html
    assert config(html)["model"] == "testapp.order"
    admin = next(a for a in live_admins(Order) if a.admin_site.name == "admin")
    assert isinstance(admin, OrderAdmin)
    assert admin.change_list_template == "testapp/order_change_list.html"  # never rewritten


def test_admins_without_the_mixin_load_nothing(admin_client: Client) -> None:
    Tag.objects.create(name="t")
    html = admin_client.get("/admin/testapp/tag/").content.decode()
    assert "live-admin" not in html
    assert live_admins(Tag) == []


def test_every_site_lists_its_live_admin() -> None:
    admins = live_admins(Project)
    assert len(admins) == 2
    assert all(isinstance(a, LiveAdminMixin) for a in admins)


@pytest.mark.parametrize("prefix", ["/admin/", "/other-admin/"])
def test_import_export_admin_stays_working_and_live(admin_client: Client, prefix: str) -> None:
    """LiveAdminMixin combined with ImportExportModelAdmin (listed first, as mixins are)."""
    Note.objects.create(text="hello")
    html = admin_client.get(f"{prefix}testapp/note/").content.decode()
    assert config(html)["model"] == "testapp.note"
    assert re.search(f"href=['\"]{prefix}testapp/note/import/['\"]", html)
    assert re.search(f"href=['\"]{prefix}testapp/note/export/", html)
    assert 'id="changelist"' in html


def test_an_admin_built_without_a_site_works_as_stock() -> None:
    # Django's own admin tests construct ModelAdmin(Model, None).
    from testapp.admin import TicketAdmin

    admin = TicketAdmin(Ticket, None)
    assert admin.admin_site is None
    assert admin.model is Ticket


def test_building_an_admin_touches_nothing_outside_it() -> None:
    # Only registration prepares an admin (its model's observers, its site's index badges).
    from django.contrib import admin as django_admin
    from django.db.models import signals

    from live_admin.capture.observers import _specs
    from live_admin.pages.index import MARK
    from testapp.models import Secret

    site = django_admin.AdminSite(name="built-not-registered")
    live = type("SecretAdmin", (LiveAdminMixin, django_admin.ModelAdmin), {})
    try:
        live(Secret, site)
        assert Secret not in _specs
        assert not getattr(site.index, MARK, False)
        site.register(Secret, live)
        site.get_urls()
        assert Secret in _specs
        assert getattr(site.index, MARK, False)
    finally:  # Secret is otherwise never observed: leave it so
        _specs.pop(Secret, None)
        for signal in (signals.post_save, signals.post_delete):
            signal.disconnect(sender=Secret, dispatch_uid="live_admin.testapp.secret")


def test_a_response_the_admin_did_not_render_from_a_template_name_is_left_or_wrapped() -> None:
    from django.http import HttpResponse
    from django.template import Template
    from django.template.response import TemplateResponse
    from django.test import RequestFactory

    from live_admin.pages import mixin

    plain = HttpResponse("ok")
    mixin._render_live(plain, {})  # not a template response: as it is
    assert plain.content == b"ok"
    own = Template("{{ x }}")
    response = TemplateResponse(RequestFactory().get("/"), own)
    live: dict[str, Any] = {}
    mixin._render_live(response, live)
    assert (live["base"], response.template_name) == (own, mixin.PAGE_TEMPLATE)


def test_an_odd_live_group_by_counts_as_none() -> None:
    from live_admin import options

    odd = type("Odd", (LiveAdminMixin,), {"live_group_by": "status", "model": Order})()
    assert options.group_by(odd) == []
