"""Database capture's pieces that need no PostgreSQL: the comment a write carries, reading a
notification, and the system checks of ``CAPTURE``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import connection
from test_checks import ids

from live_admin.capture.changes import Changes
from live_admin.capture.database import events, marks
from live_admin.capture.record import acting
from live_admin.delivery.sender import sender
from testapp.models import Order, Programme, Project, Tag

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}


def test_reads_and_unsignalled_writes_without_an_actor_carry_nothing() -> None:
    assert marks.comment("SELECT 1") == ""
    assert marks.comment('UPDATE "testapp_order" SET "status" = %s') == ""


def test_an_actors_unsignalled_write_carries_who_made_it() -> None:
    with acting("Ann O'Neil */ --", "tab-1"):
        comment = marks.comment('UPDATE "testapp_order" SET "status" = %s')
    assert comment.startswith("/*live_admin:by=")
    assert comment.endswith("*/")
    assert comment.count("*/") == 1  # nothing in a name can end the comment early
    encoded = comment.removeprefix("/*live_admin:by=").removesuffix("*/")
    assert events.who(encoded) == ("Ann O'Neil */ --", "tab-1")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reaches", [True, False])
def test_an_orm_save_is_told_by_its_observers_only_where_they_reach_pages(
    monkeypatch: pytest.MonkeyPatch, reaches: bool
) -> None:
    monkeypatch.setattr(sender, "reaches_pages", lambda: reaches)
    seen: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append(marks.comment(sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        order = Order.objects.create(customer="Ann")
        order.status = "paid"
        order.save()
        Order.objects.filter(pk=order.pk).update(priority=2)  # no signal: the trigger's
        order.delete()
    told = "/*live_admin:told=testapp_order*/"
    # insert, update, update(), delete (reads carry nothing, and differ between databases)
    if reaches:
        assert seen == [told, told, "", told]
    else:
        assert seen == [""] * 4


@pytest.mark.django_db(transaction=True)
def test_unobserved_models_and_a_parent_table_are_left_to_the_triggers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only what this process's observers tell is marked: not a model with no live admin, nor
    the parent table's row of a multi-table child (no signal names the parent's pages)."""
    monkeypatch.setattr(sender, "reaches_pages", lambda: True)
    seen: list[tuple[str, str]] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE")):
            seen.append((sql.split('"')[1], marks.comment(sql)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        Tag.objects.create(name="not live")
        Programme.objects.create(name="a child of a live model", budget=1)
        Project.objects.create(name="live")
    assert seen == [
        ("testapp_tag", ""),
        ("testapp_project", ""),  # Programme's parent row: Project's observers hear no signal
        ("testapp_programme", ""),  # Programme has no live admin of its own
        ("testapp_project", "/*live_admin:told=testapp_project*/"),
    ]


def test_the_mark_stays_when_a_wrapper_block_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection made inside someone's ``execute_wrapper()`` block: the block's end removes
    its own wrapper, not the mark."""
    from live_admin.capture import database

    monkeypatch.setattr(marks, "in_database", lambda alias: True)
    before = list(connection.execute_wrappers)
    try:
        with connection.execute_wrapper(lambda *args: None):
            marks.install(connection)
        assert connection.execute_wrappers == [marks.mark, *before]
    finally:
        connection.execute_wrappers[:] = before
    assert database.CHANNEL == "live_admin"


@pytest.mark.parametrize(
    "text", [None, 3, "not base64!", base64.b64encode(b"[1, 2, 3]").decode(), "e30="]
)
def test_a_malformed_actor_is_nobody(text: object) -> None:
    assert events.who(text) == (None, None)


@pytest.mark.parametrize(
    "payload",
    ["not json", "[]", '{"m": "nosuch.model"}', '{"op": "saved"}', '{"m": 3}'],
)
def test_a_notification_that_is_not_ours_is_ignored(payload: str) -> None:
    changes = Changes()
    assert events.record(changes, payload) is False
    assert not changes


def test_a_bulk_notification_tells_the_model_and_its_parents() -> None:
    changes = Changes()
    assert events.record(changes, json.dumps({"m": "testapp.orderline", "op": "saved", "n": 500}))
    groups = {group for group, _ in changes.messages()}
    assert any(g.startswith("live_admin.vtestapp-order") for g in groups)  # the parent's pages


def test_capture_must_be_signals_or_database() -> None:
    assert ids(LIVE_ADMIN={"CAPTURE": "triggers"}) == ["live_admin.E018"]
    assert ids(LIVE_ADMIN={"CAPTURE": 1}) == ["live_admin.E003"]


def test_database_capture_needs_postgresql_psycopg_3_and_pgtrigger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = {"LIVE_ADMIN": {"CAPTURE": "database"}}
    sqlite = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
    with pytest.warns(UserWarning, match="DATABASES"):
        assert ids(**database, DATABASES=sqlite) == ["live_admin.E019"]
    both = {**sqlite, "pg": POSTGRES}
    from live_admin.capture.database import checks

    monkeypatch.setattr(checks, "find_spec", lambda name: True)  # whatever this entry has
    with pytest.warns(UserWarning, match="DATABASES"):
        assert ids(**database, DATABASES=both) == []
    monkeypatch.setattr(checks, "find_spec", lambda name: None if name == "psycopg" else True)
    with pytest.warns(UserWarning, match="DATABASES"):
        assert ids(**database, DATABASES=both) == ["live_admin.E020"]


def test_the_triggers_command_refuses_a_database_without_triggers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from django.core.management import CommandError, call_command

    from live_admin.management.commands import live_admin_triggers

    sqlite = {"default": SimpleNamespace(vendor="sqlite")}  # whichever this suite runs on
    monkeypatch.setattr(live_admin_triggers, "connections", sqlite)
    with pytest.raises(CommandError, match="is not PostgreSQL"):
        call_command("live_admin_triggers", "status", database="default")


# -- the listener's parts that need no PostgreSQL ------------------------------------------------


def test_one_leader_per_layer_and_none_on_the_in_memory_layer() -> None:
    from django.test import override_settings

    from live_admin.capture.database import listener

    redis = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}
    with override_settings(CHANNEL_LAYERS=redis):
        key = listener.lock_key()
        assert isinstance(key, int)
        assert 0 <= key < 2**63
        assert listener.lock_key() == key  # the same in every process
    memory = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with override_settings(CHANNEL_LAYERS=memory):
        assert listener.lock_key() is None


def test_the_listener_logs_what_it_cannot_do_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    from live_admin.capture.database import listener

    one = listener.Listener("default")

    def broken(*args: Any) -> list[Any]:
        raise RuntimeError("no catalogue")

    monkeypatch.setattr(listener, "not_installed", broken)
    with caplog.at_level(logging.DEBUG, logger="live_admin"):  # a repeated failure: DEBUG
        one.say_what_is_missing()
        monkeypatch.setattr(listener, "not_installed", lambda using: [(Order, "UNINSTALLED")])
        one.say_what_is_missing()
        one.heard("not a notification")  # not ours: ignored
        monkeypatch.setattr(listener, "record", broken)
        one.heard("not a notification")  # a failure reading it: logged, never raised
    assert "the triggers could not be checked: no catalogue" in caplog.text
    assert "triggers missing, run migrate: testapp.Order (uninstalled)" in caplog.text
    assert "ignored a notification: not a notification" in caplog.text
    assert "a notification could not be read: not a notification" in caplog.text
    asyncio.run(listener.stop())  # none running in this loop: nothing to stop


def test_migrate_goes_on_whatever_the_triggers_do(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    from types import SimpleNamespace

    from django.apps import apps

    from live_admin.capture.database import install

    config = apps.get_app_config("testapp")
    for failure, said in [
        (ImportError("no pgtrigger"), "database capture needs django-pgtrigger: no pgtrigger"),
        (RuntimeError("no rights"), "the triggers of testapp: no rights"),
    ]:

        def failing(*args: Any, failure: Exception = failure) -> None:
            raise failure

        monkeypatch.setattr(install, "sync", failing)
        with caplog.at_level(logging.WARNING, logger="live_admin"):
            install.after_migrate(config, using="default")  # never raised into migrate
        assert said in caplog.text
    sqlite = {"default": SimpleNamespace(vendor="sqlite")}
    monkeypatch.setattr(install, "connections", sqlite)
    assert install.not_installed("default") == []  # no triggers where there are none


def test_a_notification_of_a_model_no_longer_live_here_is_taken_and_dropped() -> None:
    assert events.record(Changes(), json.dumps({"m": "auth.group", "op": "upd", "n": 3}))


def test_a_comment_that_cannot_be_made_leaves_the_write_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(sql: str) -> str:
        raise RuntimeError("no frames")

    monkeypatch.setattr(marks, "comment", broken)
    ran: list[str] = []
    marks.mark(lambda sql, *rest: ran.append(sql), "UPDATE t SET a = 1", None, False, {})
    assert ran == ["UPDATE t SET a = 1"]


def test_inlines_that_are_not_a_list_are_none() -> None:
    from types import SimpleNamespace

    from live_admin.capture import observers

    assert observers._inlines(SimpleNamespace(inlines="not a list")) == []  # type: ignore[arg-type]
