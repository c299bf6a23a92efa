"""Every system check id, triggered and silent."""

from __future__ import annotations

from typing import Any

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.contrib import admin
from django.core.asgi import get_asgi_application
from django.core.checks import run_checks
from django.test import override_settings
from django.urls import path

from live_admin import checks
from live_admin.admin import LiveAdminMixin
from testapp.models import Secret, Tag

# Django 6.1's model checks ask the database whether it supports JSONField.
pytestmark = pytest.mark.django_db

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def ids(deploy: bool = False, **settings: Any) -> list[str]:
    with override_settings(**{"DEBUG": True, **settings}):
        found = run_checks(include_deployment_checks=deploy)
        return [m.id for m in found if m.id and m.id.startswith("live_admin.")]


def test_the_test_project_is_clean() -> None:
    assert ids() == []


def test_settings_not_a_dict() -> None:
    assert ids(LIVE_ADMIN=["WS_PATH"]) == ["live_admin.E001"]


def test_unknown_key_suggests_the_right_one() -> None:
    with override_settings(LIVE_ADMIN={"RECHECK_SECOND": 5, "ZZZ": 1}):
        messages = [m for m in run_checks() if m.id == "live_admin.W002"]
    assert [m.hint for m in messages] == ["Did you mean 'RECHECK_SECONDS'?", messages[1].hint]
    assert messages[1].hint.startswith("Known keys: WS_PATH")


@pytest.mark.parametrize(
    "value", [{"MAX_SUBSCRIPTIONS": "5"}, {"RATE_LIMIT": True}, {"WS_PATH": 3}]
)
def test_wrong_types(value: dict[str, Any]) -> None:
    assert ids(LIVE_ADMIN=value) == ["live_admin.E003"]


def test_channels_not_set_up() -> None:
    assert "live_admin.W004" in ids(ASGI_APPLICATION=None)


def test_no_channel_layers() -> None:
    """The in-memory default is right for one process: said by ``check --deploy`` only, not
    on every management command of a development project."""
    assert ids(CHANNEL_LAYERS={}) == []
    assert ids(deploy=True, CHANNEL_LAYERS={}) == ["live_admin.W005"]
    assert ids(deploy=True, CHANNEL_LAYERS=IN_MEMORY, LIVE_ADMIN={"CHANNEL_LAYER": "other"}) == [
        "live_admin.W005"
    ]


#: ASGI applications for ASGI_APPLICATION: the stock asgi.py's, one with websockets routed
#: elsewhere, and one no check can look into.
STOCK = get_asgi_application()
ELSEWHERE = ProtocolTypeRouter(
    {"http": STOCK, "websocket": URLRouter([path("ws/chat/", AsyncWebsocketConsumer.as_asgi())])}
)


async def OPAQUE(scope: Any, receive: Any, send: Any) -> None:
    """An application of the project's own."""


def test_websocket_route() -> None:
    assert "live_admin.W013" not in ids()  # the test project routes it
    for application in ("STOCK", "ELSEWHERE"):
        assert ids(ASGI_APPLICATION=f"{__name__}.{application}") == ["live_admin.W013"]
    assert ids(ASGI_APPLICATION=f"{__name__}.OPAQUE") == []  # cannot tell: says nothing
    assert ids(ASGI_APPLICATION=f"{__name__}.MISSING") == []  # the server's start says why


def test_runserver_without_daphne(settings: Any) -> None:
    without = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    assert ids(INSTALLED_APPS=without) == ["live_admin.W014"]
    assert ids(INSTALLED_APPS=without, DEBUG=False) == []


def test_displayed_field_outside_live_fields() -> None:
    site = admin.AdminSite(name="checks")

    class PartlyLive(LiveAdminMixin, admin.ModelAdmin):
        live_fields = ("title",)
        list_display = ("title", "status", "notes", "__str__")
        list_filter = ("status", ("project", admin.RelatedOnlyFieldListFilter))

    from testapp.models import Ticket

    site.register(Ticket, PartlyLive)
    try:
        messages = [m.msg for m in run_checks() if m.id == "live_admin.W015"]
        assert messages == [
            f"PartlyLive.{attr} names {name!r}, but PartlyLive.live_fields leaves it out: a "
            "change to it alone reaches no page, so the list goes on showing it as it was."
            for name, attr in [
                ("status", "list_display"),
                ("notes", "list_display"),
                ("project", "list_filter"),
            ]
        ]
    finally:
        site.unregister(Ticket)


def test_in_memory_layer_without_debug() -> None:
    assert ids(deploy=True, DEBUG=False, CHANNEL_LAYERS=IN_MEMORY) == ["live_admin.W006"]
    assert ids(DEBUG=False, CHANNEL_LAYERS=IN_MEMORY) == []  # tests run so: only with --deploy
    redis = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"group_expiry": 180},
        }
    }
    assert ids(deploy=True, DEBUG=False, CHANNEL_LAYERS=redis) == []


def test_badges_counted_per_process_on_a_network_layer() -> None:
    redis = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}
    on_redis = {"DEBUG": False, "CHANNEL_LAYERS": redis}
    assert ids(deploy=True, **on_redis) == ["live_admin.W009"]  # counted in the layer's Redis
    other = {"default": {"BACKEND": "myproject.layers.Layer"}}  # a network layer of its own
    on_other = {"DEBUG": False, "CHANNEL_LAYERS": other}
    assert ids(deploy=True, **on_other) == ["live_admin.W011"]
    assert ids(deploy=True, **on_other, LIVE_ADMIN={"BADGES": False}) == []
    shared = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": ""},
    }
    both = {**on_redis, "CACHES": shared}
    assert ids(deploy=True, **both, LIVE_ADMIN={"BADGE_CACHE": "shared"}) == ["live_admin.W009"]
    local = {**both, "LIVE_ADMIN": {"BADGE_CACHE": "default"}}
    assert ids(deploy=True, **local) == ["live_admin.W009", "live_admin.W011"]
    assert ids(LIVE_ADMIN={"BADGE_CACHE": "default"}) == []
    assert ids(deploy=True, CHANNEL_LAYERS={}) == ["live_admin.W005"]  # one process: no W011


def test_unknown_badge_cache() -> None:
    assert ids(LIVE_ADMIN={"BADGE_CACHE": "nosuch"}) == ["live_admin.E017"]
    assert ids(LIVE_ADMIN={"BADGE_CACHE": 1}) == ["live_admin.E003"]
    assert ids(LIVE_ADMIN={"BADGES": "yes"}) == ["live_admin.E003"]
    assert ids(LIVE_ADMIN={"BADGES": False, "BADGE_CACHE": None}) == []


def test_long_group_expiry() -> None:
    redis = {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": []}}
    assert ids(CHANNEL_LAYERS={"default": redis}) == ["live_admin.W009"]
    short = {**redis, "CONFIG": {"hosts": [], "group_expiry": 180}}
    assert ids(CHANNEL_LAYERS={"default": short}) == []
    pubsub = {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {}}
    assert ids(CHANNEL_LAYERS={"default": pubsub}) == []  # memberships die with the process


def test_allowed_hosts_star() -> None:
    assert ids(ALLOWED_HOSTS=["*"]) == ["live_admin.W007"]


def test_app_directories_loader(settings: Any) -> None:
    engine = dict(settings.TEMPLATES[0], APP_DIRS=False)
    assert ids(TEMPLATES=[engine]) == ["live_admin.W008"]
    loaders = [
        (
            "django.template.loaders.cached.Loader",
            ["django.template.loaders.app_directories.Loader"],
        )
    ]
    with_loaders = dict(engine, OPTIONS={**engine["OPTIONS"], "loaders": loaders})
    assert ids(TEMPLATES=[with_loaders]) == []
    jinja = {"BACKEND": "django.template.backends.jinja2.Jinja2", "APP_DIRS": True}
    with override_settings(TEMPLATES=[jinja, engine]):  # only Django engines count
        assert [m.id for m in checks.check_templates()] == ["live_admin.W008"]


def test_live_fields_must_name_fields() -> None:
    site = admin.AdminSite(name="checks")

    class BadAdmin(LiveAdminMixin, admin.ModelAdmin):
        live_fields = ("code", "nope")
        live_group_by = ("missing",)

    site.register(Secret, BadAdmin)
    try:
        messages = [m for m in run_checks() if m.id == "live_admin.E009"]
        assert [m.msg for m in messages] == [
            "BadAdmin.live_fields names 'nope', which is not a field of testapp.Secret.",
            "BadAdmin.live_group_by names 'missing', which is not a concrete field of "
            "testapp.Secret.",
        ]
    finally:
        site.unregister(Secret)


def test_a_misspelled_field_gets_a_did_you_mean() -> None:
    site = admin.AdminSite(name="checks")

    class Misspelled(LiveAdminMixin, admin.ModelAdmin):
        live_fields = ("cod", "zzz")

    site.register(Secret, Misspelled)
    try:
        hints = [m.hint for m in run_checks() if m.id == "live_admin.E009"]
        assert [h.split("?")[0] if "?" in h else None for h in hints] == [
            "Did you mean 'code'",
            None,
        ]
    finally:
        site.unregister(Secret)


def test_live_group_by_may_not_name_a_many_to_many_field() -> None:
    """On every Django (the field is concrete up to 5.2, not from 6.0): it has no one value."""
    from testapp.admin import TicketAdmin
    from testapp.models import Ticket

    site = admin.AdminSite(name="checks")

    class ByTags(LiveAdminMixin, admin.ModelAdmin):
        live_fields = TicketAdmin.live_fields  # what is observed of tickets stays as it was
        live_group_by = ("tags",)

    site.register(Ticket, ByTags)
    try:
        messages = [m.msg for m in run_checks() if m.id == "live_admin.E009"]
        assert messages == [
            "ByTags.live_group_by names 'tags', which is not a concrete field of testapp.Ticket."
        ]
    finally:
        site.unregister(Ticket)


def test_mixin_listed_after_model_admin() -> None:
    site = admin.AdminSite(name="checks-mro")

    class LateAdmin(admin.ModelAdmin, LiveAdminMixin):
        pass

    site.register(Secret, LateAdmin)
    try:
        (message,) = [m for m in run_checks() if m.id == "live_admin.E010"]
        assert message.msg.startswith("LateAdmin lists LiveAdminMixin after ModelAdmin")
        assert "Put LiveAdminMixin first" in message.hint
    finally:
        site.unregister(Secret)


class NoForeignKeyInline(admin.TabularInline):
    model = Tag  # no foreign key to Secret: admin.E202


class NoModelInline(admin.TabularInline):
    pass


BAD_INLINES = [
    (5, "admin.E103"),
    ([object], "admin.E104"),
    ([NoModelInline], "admin.E105"),
    ([type("NotAModel", (admin.TabularInline,), {"model": int})], "admin.E106"),
    ([NoForeignKeyInline], "admin.E202"),
]


@pytest.mark.parametrize(("inlines", "expected"), BAD_INLINES)
def test_bad_inlines_are_djangos_check_not_a_crash(inlines: object, expected: str) -> None:
    site = admin.AdminSite(name="checks-inlines")
    bad = type("BadInlinesAdmin", (LiveAdminMixin, admin.ModelAdmin), {"inlines": inlines})
    site.register(Secret, bad)  # at import time in a project: must not raise
    try:
        assert expected in [m.id for m in site._registry[Secret].check()]
    finally:
        site.unregister(Secret)


@pytest.mark.parametrize("attr", ["live_fields", "live_group_by"])
@pytest.mark.parametrize("value", [5, "code", [1], {"code": 1}, {1}])
def test_live_names_must_be_a_list(attr: str, value: object) -> None:
    site = admin.AdminSite(name="checks-names")
    site.register(Secret, type("OddAdmin", (LiveAdminMixin, admin.ModelAdmin), {attr: value}))
    try:
        (message,) = [m for m in run_checks() if m.id == "live_admin.E011"]
        assert message.msg == f"OddAdmin.{attr} must be a list, tuple or set of field names."
    finally:
        site.unregister(Secret)


def test_silent_where_live_admin_is_not_installed() -> None:
    apps = ["daphne", "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes"]
    assert ids(LIVE_ADMIN=5) == ["live_admin.E001"]
    assert ids(LIVE_ADMIN=5, INSTALLED_APPS=apps) == []


@pytest.mark.parametrize("value", ["merged", "", 1])
def test_live_conflicts_must_be_a_mode(value: object) -> None:
    site = admin.AdminSite(name="checks-conflicts")
    odd = type("OddAdmin", (LiveAdminMixin, admin.ModelAdmin), {"live_conflicts": value})
    site.register(Secret, odd)
    try:
        (message,) = [m for m in run_checks() if m.id == "live_admin.E012"]
        assert message.msg.startswith(f"OddAdmin.live_conflicts is {value!r}; it must be one of")
        assert site._registry[Secret]._live_conflict_mode() == "merge"  # until fixed
    finally:
        site.unregister(Secret)


@pytest.mark.parametrize("value", ["ask", "", 1])
def test_live_action_checks_must_be_a_mode(value: object) -> None:
    site = admin.AdminSite(name="checks-actions")
    odd = type("OddAdmin", (LiveAdminMixin, admin.ModelAdmin), {"live_action_checks": value})
    site.register(Secret, odd)
    try:
        (message,) = [m for m in run_checks() if m.id == "live_admin.E021"]
        assert message.msg.startswith(f"OddAdmin.live_action_checks is {value!r}; it must be")
        assert site._registry[Secret]._live_action_mode() == "confirm"  # until fixed
    finally:
        site.unregister(Secret)


def test_the_action_checks_setting_must_be_a_mode() -> None:
    assert ids(LIVE_ADMIN={"ACTION_CHECKS": "sometimes"}) == ["live_admin.E021"]
    assert ids(LIVE_ADMIN={"ACTION_CHECKS": "refuse"}) == []
    assert ids(LIVE_ADMIN={"ACTION_CHECKS": 3}) == ["live_admin.E003"]


def test_the_conflicts_setting_must_be_a_mode() -> None:
    assert ids(LIVE_ADMIN={"CONFLICTS": "sometimes"}) == ["live_admin.E012"]
    assert ids(LIVE_ADMIN={"CONFLICTS": "refuse"}) == []
