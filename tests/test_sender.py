"""Delivery through a real redis-server, and saves that survive it failing."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from conftest import (
    RedisServer,
    free_port,
    redis_layers,
    run_django,
    subscribed_socket,
    until,
)
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings

from live_admin import protocol as groups
from live_admin.capture.changes import Changes
from live_admin.capture.record import acting
from live_admin.delivery import badges
from live_admin.delivery.sender import Sender, sender
from testapp.models import Project, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 10
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"
MODEL_GROUP_KEY = f"asgi:group:{groups.model_group('testapp.project')}"


@pytest.fixture(autouse=True)
def _no_badges(settings: Any) -> None:
    """The sender's counts here are of change messages; badges add one message a change."""
    settings.LIVE_ADMIN = {**settings.LIVE_ADMIN, "BADGES": False}


@pytest_asyncio.fixture
async def pubsub_receivers_end() -> AsyncIterator[None]:
    """End channels-redis's pub/sub receive loops before the test's event loop closes. On Python
    3.10 a cancel that meets the 0.1 s time-out of the loop's ``get_message`` can be taken for
    the time-out (``async_timeout``), and the loop runs on: the event loop's teardown, which
    cancels once, would then wait for it forever. Cancelled until it ends, at most 5 s."""
    yield
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", "").endswith("_do_receiving"):
            for _ in range(50):
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=0.1)
                if done:
                    break


def connections_received(server: RedisServer) -> int:
    info = server.command("INFO", "stats").decode()
    return int(re.search(r"total_connections_received:(\d+)", info).group(1))


@pytest.mark.parametrize("backend", ["channels_redis.core.RedisChannelLayer", PUBSUB])
async def test_delivery_over_redis(
    redis_server: RedisServer, admin_user: User, backend: str, pubsub_receivers_end: None
) -> None:
    redis_server.command("FLUSHALL")
    with override_settings(CHANNEL_LAYERS=redis_layers(redis_server.url, backend)):
        project = await sync_to_async(Project.objects.create)(name="P")
        comm = await subscribed_socket(admin_user, model="testapp.project", pk=str(project.pk))
        project.name = "Q"
        await sync_to_async(project.save)()
        event = await comm.receive_json_from(timeout=TIMEOUT)
        assert (event["type"], event["pk"], event["fields"]) == (
            "changed",
            str(project.pk),
            ["name"],
        )
        await comm.disconnect()
        assert sender.flush(TIMEOUT)


async def test_one_connection_for_many_saves(redis_layer: RedisServer, admin_user: User) -> None:
    project = await sync_to_async(Project.objects.create)(name="P0")
    assert sender.flush(TIMEOUT)
    before = connections_received(redis_layer)

    def save_many() -> None:
        for i in range(100):
            project.name = f"P{i + 1}"
            project.save()

    sent = sender.stats["sent"]
    await sync_to_async(save_many)()
    assert sender.flush(TIMEOUT)
    # Two messages (model group and object group) per save, less what a busy sender folded.
    assert 2 <= sender.stats["sent"] - sent <= 200
    assert connections_received(redis_layer) - before <= 1


async def test_save_from_inside_a_running_event_loop(
    redis_layer: RedisServer, admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    comm = await subscribed_socket(admin_user, model="testapp.project")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    Project.objects.create(name="saved on the loop's own thread")
    connection.close()  # the loop thread's own connection
    event = await comm.receive_json_from(timeout=TIMEOUT)
    assert event["model"] == "testapp.project"
    await comm.disconnect()


async def test_save_on_the_in_memory_layer_inside_the_loop(
    admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    comm = await subscribed_socket(admin_user, model="testapp.project")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    Project.objects.create(name="in memory")
    connection.close()
    assert (await comm.receive_json_from(timeout=TIMEOUT))["model"] == "testapp.project"
    await comm.disconnect()


async def test_redis_refused_never_fails_a_save(
    transactional_db: None, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    failed = sender.stats["failed"]
    with (
        # No badges: only the changes' own messages are counted here.
        override_settings(
            CHANNEL_LAYERS=redis_layers(url), LIVE_ADMIN={**settings.LIVE_ADMIN, "BADGES": False}
        ),
        caplog.at_level(logging.WARNING, "live_admin"),
    ):
        for i in range(20):
            await sync_to_async(Project.objects.create)(name=f"p{i}")
        assert await sync_to_async(Project.objects.count)() == 20
        assert sender.flush(TIMEOUT)
    # Each save's object message, and the model's: 40, or fewer where a busy sender folded two
    # saves' model messages into one (the objects' messages never fold: each is another object).
    assert 21 <= sender.stats["failed"] - failed <= 40
    warnings = [r.getMessage() for r in caplog.records if r.name == "live_admin"]
    sending = [w for w in warnings if "for replay" not in w]  # the history's, and the sender's
    assert 1 <= len(sending) <= 2  # rate-limited
    assert "could not send" in sending[0]
    assert 1 <= len(warnings) - len(sending) <= 2


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


async def test_redis_hung_never_blocks_a_save(
    own_redis: RedisServer, admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    # A long send time-out keeps the worker stuck on the first send while the flood arrives.
    config = {"SEND_TIMEOUT": 3.0, "MAX_PENDING": 50, "BADGES": False}
    with override_settings(CHANNEL_LAYERS=redis_layers(own_redis.url), LIVE_ADMIN=config):
        project = await sync_to_async(Project.objects.create)(name="before")
        comm = await subscribed_socket(admin_user, model="testapp.project", pk=str(project.pk))
        assert sender.flush(TIMEOUT)
        failed, dropped = sender.stats["failed"], sender.stats["dropped"]

        os.kill(own_redis.process.pid, signal.SIGSTOP)
        project.name = "while hung"
        await sync_to_async(project.save)()
        assert not sender.flush(0)  # the save returned while its send is still stuck

        def flood() -> None:
            for i in range(70):
                Project.objects.create(name=f"flood {i}")

        await sync_to_async(flood)()  # 70 transactions into a queue of 50
        assert len(sender._pending) == 50  # bounded, while the worker is stuck on one batch
        assert sender.stats["dropped"] - dropped >= 20  # the rest, less what that batch holds
        with (
            override_settings(LIVE_ADMIN={**config, "FLUSH_TIMEOUT": 0.01}),
            caplog.at_level(logging.WARNING),
        ):
            sender._flush_at_exit()  # what an exiting process does: waits briefly, then says so
        assert "not sent before exit" in caplog.text
        await until(lambda: sender.stats["failed"] > failed, TIMEOUT)
        assert await asyncio.to_thread(sender.flush, TIMEOUT)

        os.kill(own_redis.process.pid, signal.SIGCONT)
        sender._down_until = 0.0

        def delivered() -> bool:
            failed = sender.stats["failed"]
            project.name = f"after {sender.stats['sent']}"
            project.save()
            return sender.flush(TIMEOUT) and sender.stats["failed"] == failed

        await until(sync_to_async(delivered), TIMEOUT, 0.2)
        while True:  # the stale replies of the stopped period may come first: find ours
            event = await comm.receive_json_from(timeout=TIMEOUT)
            if event["fields"] == ["name"]:
                break
        await comm.disconnect()


async def test_rejoins_groups_that_redis_forgot(redis_layer: RedisServer, admin_user: User) -> None:
    # The re-join a minute away (it could mend the loss unnoticed): the hub's probe finds it.
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 60}):
        comm = await subscribed_socket(admin_user, model="testapp.project")
        redis_layer.command("FLUSHALL")  # as after a restart without persistence

        def membership_back() -> bool:
            return redis_layer.command("EXISTS", MODEL_GROUP_KEY) == b":1\r\n"

        await until(membership_back, 2 * TIMEOUT)  # a probe lost: PROBE_SECONDS to notice
        # The hub's probe did not come back: the page is told its updates are delayed, then,
        # once its groups are back, that it may have missed events.
        assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "delayed"}
        assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "resync"}
        await sync_to_async(Project.objects.create)(name="after the flush")
        assert (await comm.receive_json_from(timeout=TIMEOUT))["model"] == "testapp.project"
        await comm.disconnect()


async def test_save_in_another_process_reaches_this_one(
    redis_layer: RedisServer, admin_user: User
) -> None:
    """A management command saves and exits; its observers and exit flush deliver over Redis."""
    project = await sync_to_async(Project.objects.create)(name="P")
    ticket = await sync_to_async(Ticket.objects.create)(project=project, title="T")
    comm = await subscribed_socket(admin_user, model="testapp.ticket", pk=str(ticket.pk))
    result = await asyncio.to_thread(
        run_django,
        "touch_ticket",
        str(ticket.pk),
        "closed",
        env={"LIVE_ADMIN_TEST_REDIS": redis_layer.url},
    )
    assert result.returncode == 0, result.stderr
    event = await comm.receive_json_from(timeout=TIMEOUT)
    assert (event["pk"], event["fields"], event["action"]) == (str(ticket.pk), ["status"], "saved")
    assert "closed" not in json.dumps(event)
    await comm.disconnect()


async def test_without_channel_layers_an_in_memory_layer_is_used(admin_user: User) -> None:
    from channels.layers import InMemoryChannelLayer

    from live_admin.delivery.sender import get_layer

    with override_settings(CHANNEL_LAYERS={}):
        assert isinstance(get_layer(), InMemoryChannelLayer)
        comm = await subscribed_socket(admin_user, model="testapp.project")
        await sync_to_async(Project.objects.create)(name="fallback")
        assert (await comm.receive_json_from(timeout=TIMEOUT))["model"] == "testapp.project"
        await comm.disconnect()


@pytest.mark.parametrize(
    "broken",
    [{"BACKEND": "no.such.Layer"}, {"CONFIG": {}}],
    ids=["fails in the worker", "fails in the save's thread"],
)
async def test_a_broken_layer_setting_never_fails_a_save(
    transactional_db: None, broken: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="live_admin")
    failed = sender.stats["failed"]
    with override_settings(CHANNEL_LAYERS={"default": broken}):
        await sync_to_async(Project.objects.create)(name="saved anyway")
        assert sender.flush(5)
    assert sender.stats["failed"] - failed == 2
    said = [r for r in caplog.records if "could not send 2 event(s)" in r.getMessage()]
    in_worker = "BACKEND" in broken  # a class to import: the worker finds it missing
    assert [r.threadName == sender.name for r in said] == [in_worker]
    assert await sync_to_async(Project.objects.filter(name="saved anyway").exists)()


async def test_an_in_memory_layer_named_by_a_module_not_imported_yet_stays_in_process(
    transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save cannot tell the layer's kind without importing its module (the worker does
    that); the worker finds it in-memory and hands the events to the process's own layer."""
    (tmp_path / "late_layer.py").write_text(
        "from channels.layers import InMemoryChannelLayer\n\n"
        "class LateLayer(InMemoryChannelLayer):\n    pass\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.setattr(sender, "home_loop", None)  # no socket in this process
    counts = dict(sender.stats)
    try:
        with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "late_layer.LateLayer"}}):
            await sync_to_async(Project.objects.create)(name="kept here")
            assert sender.flush(5)
    finally:
        sys.modules.pop("late_layer", None)
    unheard = sender.stats["unheard"] - counts.get("unheard", 0)
    assert unheard == 2  # no socket in this process: nobody to hand them to
    assert sender.stats["failed"] == counts.get("failed", 0)
    assert sender.stats["sent"] == counts.get("sent", 0)


async def test_a_batch_the_worker_cannot_deliver_counts_as_failed(
    redis_layer: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(self: Sender, batch: list[Any]) -> None:
        raise RuntimeError("a bug in delivery")

    caplog.set_level(logging.DEBUG, logger="live_admin")
    monkeypatch.setattr(Sender, "_deliver_batch", broken)
    failed = sender.stats["failed"]
    await sync_to_async(Project.objects.create)(name="saved anyway")
    assert sender.flush(5)
    assert sender.stats["failed"] - failed == 2
    assert "a bug in delivery" in caplog.text
    monkeypatch.undo()
    sent = sender.stats["sent"]
    await sync_to_async(Project.objects.create)(name="and the next is sent")
    assert sender.flush(5)
    assert sender.stats["sent"] - sent == 2


async def test_redis_restart_with_sockets_open(
    tmp_path: Path, admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes away and comes back empty: sockets survive, re-join, and hear changes again."""
    caplog.set_level(logging.DEBUG, logger="live_admin")
    server = RedisServer(tmp_path)
    port = server.port
    try:
        # The periodic re-check is a minute away: the recovery must come from the receive path.
        with override_settings(CHANNEL_LAYERS=redis_layers(server.url)):
            staying = await subscribed_socket(admin_user, model="testapp.project")
            leaving = await subscribed_socket(admin_user, model="testapp.project")
            server.stop()
            await leaving.send_json_to({"type": "unsubscribe", "id": "s"})
            assert await leaving.receive_json_from(timeout=TIMEOUT) == {
                "type": "unsubscribed",
                "id": "s",
            }
            await leaving.disconnect()
            await sync_to_async(Project.objects.create)(name="during the outage")  # saves fine
            await until(lambda: any("joining" in r.getMessage() for r in caplog.records), TIMEOUT)

            server = RedisServer(tmp_path, port=port)
            # Back within moments: groups re-joined, and the page told it may have missed events
            # (told first, while Redis was away, that its updates were delayed).
            assert await staying.receive_json_from(timeout=TIMEOUT) == {"type": "delayed"}
            assert await staying.receive_json_from(timeout=TIMEOUT) == {"type": "resync"}
            assert server.command("EXISTS", MODEL_GROUP_KEY) == b":1\r\n"

            # Once the back-off after the outage's failures has passed, the very first save is
            # delivered: the sender's connection from before the restart is stale, and it retries.
            sender._down_until = 0.0
            failed = sender.stats["failed"]
            await sync_to_async(Project.objects.create)(name="after the restart")
            assert await asyncio.to_thread(sender.flush, TIMEOUT)
            assert sender.stats["failed"] == failed
            event = await staying.receive_json_from(timeout=TIMEOUT)
            assert (event["type"], event["model"]) == ("changed", "testapp.project")
            await staying.disconnect()
            assert any(
                "receiving from the channel layer failed" in r.getMessage() for r in caplog.records
            )
    finally:
        server.stop()


async def test_an_idle_sender_delivers_its_first_message_after_a_redis_restart(
    tmp_path: Path, transactional_db: None
) -> None:
    server = RedisServer(tmp_path)
    try:
        # A send time-out a loaded machine cannot hit (CI saw one step of a send take 1.7 s):
        # what is tested is the retry on the stale connection, not speed.
        with override_settings(
            CHANNEL_LAYERS=redis_layers(server.url), LIVE_ADMIN={"SEND_TIMEOUT": 10.0}
        ):
            await sync_to_async(Project.objects.create)(name="opens the sender's connection")
            assert await asyncio.to_thread(sender.flush, TIMEOUT)
            server.stop()
            server = RedisServer(tmp_path, port=server.port)  # the pooled connection is now stale
            failed, sent = sender.stats["failed"], sender.stats["sent"]
            await sync_to_async(Project.objects.create)(name="first after the restart")
            # The change's two messages, and its badge batch's (the recorder sends it).
            assert await asyncio.to_thread(badges.recorder.flush, TIMEOUT)
            assert await asyncio.to_thread(sender.flush, TIMEOUT)
            assert (sender.stats["failed"], sender.stats["sent"]) == (failed, sent + 3)
    finally:
        server.stop()


# -- folding a backlog ----------------------------------------------------------------------------


def changes_of(
    *adds: tuple[Any, ...], by: str | None = None, origin: str | None = None, at: str = "t"
) -> Changes:
    changes = Changes()
    with acting(by, origin):
        for add in adds:
            changes.add(*add)
    changes.at = at
    return changes


async def test_a_backlog_reaches_sockets_as_one_change_per_group(
    redis_layer: RedisServer, admin_user: User
) -> None:
    # Transactions that queued up while the sender was busy go out folded, one message per
    # group, by the rule one transaction's changes follow.
    project = await sync_to_async(Project.objects.create)(name="P")
    pk = str(project.pk)
    model_socket = await subscribed_socket(admin_user, model="testapp.project")
    object_socket = await subscribed_socket(admin_user, model="testapp.project", pk=pk)
    backlog: list[Any] = []
    for i in range(30):
        fields = ["name"] if i % 2 else ["status"]
        backlog.append(changes_of(("testapp.project", pk, "saved", fields), by="ann", at=f"t{i}"))
    # Logging the sockets' user in saved its last_login (the test project's user admin is
    # live): let that go out before counting.
    assert await asyncio.to_thread(sender.flush, TIMEOUT)
    sent = sender.stats["sent"]
    sender._submit(backlog)  # one call: the worker takes it as one batch
    assert await asyncio.to_thread(sender.flush, TIMEOUT)
    assert sender.stats["sent"] - sent == 2  # the model's group and the object's
    event = await model_socket.receive_json_from(timeout=TIMEOUT)
    assert (event["action"], event["count"]) == ("saved", 1)
    event = await object_socket.receive_json_from(timeout=TIMEOUT)
    assert (event["fields"], event["by"], event["at"]) == (["name", "status"], "ann", "t29")
    assert await model_socket.receive_nothing(0.2)
    assert await object_socket.receive_nothing(0.1)
    await model_socket.disconnect()
    await object_socket.disconnect()


async def test_folding_keeps_only_what_all_folded_changes_agree_on() -> None:
    label = "testapp.project"
    first = changes_of((label, 1, "saved", ["a"]), by="ann", origin="tab1", at="t1")
    first.merge(changes_of((label, 1, "deleted", ["b"]), by="bob", origin="tab2", at="t2"))
    told = dict(first.messages())
    obj = told[groups.object_group(label, "1")]
    assert (obj["action"], obj["fields"], obj["by"], obj["origin"], obj["at"]) == (
        "deleted",
        ["a", "b"],
        None,  # two authors: neither is named
        None,  # two pages: neither takes it as its own echo
        "t2",
    )
    assert told[groups.model_group(label)]["origin"] is None
    agreed = changes_of((label, 1, "saved", ["a"]), by="ann", origin="tab1")
    agreed.merge(changes_of((label, 1, "saved", ["b"]), by="ann", origin="tab1"))
    obj = dict(agreed.messages())[groups.object_group(label, "1")]
    assert (obj["by"], obj["origin"]) == ("ann", "tab1")
    assert dict(agreed.messages())[groups.model_group(label)]["origin"] == "tab1"


async def test_folding_adds_up_the_objects_as_one_transaction_would() -> None:
    from live_admin.protocol import MAX_OBJECTS

    label = "testapp.project"
    first = changes_of((label, 1, "saved", ["a"]), (label, 2, "deleted"), by="ann")
    first.add_bulk(label, [3])
    later = changes_of((label, 2, "saved", ["a"]), (label, 3, "saved", ["a"]), (label, 4, "saved"))
    later.add(label, 1, "saved", ["b"], created=True)
    first.merge(later)
    objects = dict(first.messages())[groups.model_group(label)]["objects"]
    assert objects["1"] == {
        "action": "saved",
        "fields": ["a", "b"],
        "by": None,
        "origin": None,
        "created": True,
    }
    assert objects["2"]["action"] == "deleted"  # a delete sticks
    assert objects["3"]["action"] == "bulk"  # so does a change whose fields are not known
    assert objects["4"]["action"] == "saved"
    many = changes_of(*[(label, i, "saved", ["a"]) for i in range(MAX_OBJECTS)])
    many.merge(changes_of((label, "x", "saved", ["a"])))
    assert dict(many.messages())[groups.model_group(label)]["objects"] is None  # too many
    unknown = changes_of((label, 1, "saved", ["a"]))
    unknown.merge(Changes())
    unknown.add_bulk(label, None)
    assert dict(unknown.messages())[groups.model_group(label)]["objects"] is None


async def test_a_page_opened_while_redis_is_down_hears_changes_once_it_is_back(
    tmp_path: Path, admin_user: User, pubsub_receivers_end: None
) -> None:
    # On the pub/sub layer even making the process's channel is a Redis call: it is retried,
    # the page's subscription is answered meanwhile, and the page is told to resync once joined.
    server = RedisServer(tmp_path)
    port = server.port
    server.stop()
    try:
        with override_settings(CHANNEL_LAYERS=redis_layers(server.url, PUBSUB)):
            comm = await subscribed_socket(admin_user, model="testapp.project", delayed=True)
            server = RedisServer(tmp_path, port=port)
            assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "resync"}
            sender._down_until = 0.0
            await sync_to_async(Project.objects.create)(name="once Redis is back")
            assert await asyncio.to_thread(sender.flush, TIMEOUT)
            event = await comm.receive_json_from(timeout=TIMEOUT)
            assert (event["type"], event["model"]) == ("changed", "testapp.project")
            await comm.disconnect()
    finally:
        server.stop()


@pytest.mark.parametrize("redis", ["up", "refused"])
async def test_a_save_never_builds_the_layer(
    redis_server: RedisServer, redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building a network layer imports its package (~200 ms): the worker does it, not a save."""
    import threading

    from channels.layers import channel_layers

    built_on: list[int] = []
    make_backend = channel_layers.make_backend

    def recording(name: str) -> object:
        built_on.append(threading.get_ident())
        return make_backend(name)

    monkeypatch.setattr(channel_layers, "make_backend", recording)
    url = redis_server.url if redis == "up" else f"redis://127.0.0.1:{free_port()}/0"

    def save() -> int:
        Project.objects.create(name="first save")
        return threading.get_ident()

    monkeypatch.setattr(sender, "_layer", None)  # built anew for this test, wherever it runs
    with override_settings(CHANNEL_LAYERS=redis_layers(url)):
        saving_thread = await sync_to_async(save)()
        sender.flush(5)
    assert built_on
    assert saving_thread not in built_on


@pytest.mark.django_db(transaction=True)
async def test_a_shell_on_the_in_memory_layer_is_told_once_its_saves_reach_no_page() -> None:
    """As a newcomer meets it: ``manage.py shell`` saves twice; the page would never hear."""
    from conftest import run_django

    code = (
        "from testapp.models import Project\n"
        "from live_admin.delivery.sender import sender\n"
        "Project.objects.create(name='From a shell')\n"
        "Project.objects.create(name='And again')\n"
        "sender.flush(5)\n"
    )
    done = await asyncio.to_thread(
        run_django, "shell", "-c", code, env={"LIVE_ADMIN_TEST_REDIS": ""}
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("this process's changes cannot reach pages") == 1, done.stderr
