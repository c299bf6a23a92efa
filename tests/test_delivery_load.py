"""Delivery under load: the workers' spacing, groups nobody listens to, badge batches folded."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from conftest import RedisServer, subscribed_socket
from django.contrib.auth.models import User

from live_admin import protocol
from live_admin.delivery import badges
from live_admin.delivery.listeners import knows_groups, listened
from live_admin.delivery.sender import get_layer, sender
from live_admin.delivery.worker import Worker
from live_admin.protocol import MAX_OBJECTS
from testapp.models import Project

TIMEOUT = 10


class Recording(Worker):
    """A worker that keeps its batches and says when it has taken one."""

    name = "live-admin-test-worker"

    def __init__(self, spacing: float) -> None:
        self.spacing = spacing
        self.batches: list[list[Any]] = []
        self.took = threading.Event()
        super().__init__()

    def _work(self, batch: list[Any]) -> None:
        self.batches.append(batch)
        self.took.set()

    def _unfinished(self) -> str:
        return "test items left"


def test_items_queued_within_the_spacing_wait_and_go_together() -> None:
    worker = Recording(spacing=30)
    worker._put([1], 100)
    # A new thread's first batch waits a spacing too, so that it does not take the GIL from
    # the save that started it.
    assert not worker.took.wait(0.5)
    assert worker.flush(TIMEOUT)  # cuts the spacing short
    assert worker.batches == [[1]]
    worker.took.clear()
    worker._put([2], 100)
    worker._put([3], 100)
    # Within the spacing nothing is taken, and queuing did not wake the worker to look.
    assert not worker.took.wait(0.5)
    assert worker.batches == [[1]]
    assert worker.flush(TIMEOUT)
    assert worker.batches == [[1], [2, 3]]


def test_the_first_item_after_a_quiet_spell_goes_at_once() -> None:
    worker = Recording(spacing=30)
    worker._put([1], 100)
    assert worker.flush(TIMEOUT)
    worker.took.clear()
    worker._due = time.monotonic()  # the spacing since batch 1 is over
    worker._put([2], 100)
    assert worker.took.wait(TIMEOUT)  # well within the 30 s a spacing would hold it
    assert worker.batches == [[1], [2]]


def test_badge_changes_between_two_opened_lists_are_stored_as_one_batch_per_model() -> None:
    items = [
        ("changed", "a.x", ["1"], 1),
        ("changed", "a.y", None, None),
        ("changed", "a.x", ["2", "1"], 2),
        ("opened", "ann", "a.x"),
        ("changed", "a.x", ["3"], 1),
        ("changed", "a.y", None, 4),
        ("changed", "a.y", ["9"], 1),
    ]
    assert badges._folded(items) == [
        ("changed", "a.x", ["1", "2"], 2),
        ("changed", "a.y", None, None),
        # A change after the list was opened counts for the user who opened it.
        ("opened", "ann", "a.x"),
        ("changed", "a.x", ["3"], 1),
        ("changed", "a.y", None, 5),
    ]
    many = [("changed", "a.x", [str(n)], 1) for n in range(MAX_OBJECTS + 1)]
    assert badges._folded(many) == [("changed", "a.x", None, MAX_OBJECTS + 1)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_folded_badge_changes_count_every_object(
    redis_layer: RedisServer, admin_user: User
) -> None:
    projects = [await sync_to_async(Project.objects.create)(name=f"P{n}") for n in range(3)]
    assert await asyncio.to_thread(badges.recorder.flush, TIMEOUT)
    badges.recorder.spacing = 30
    try:
        before = badges.latest(["testapp.project"])["testapp.project"]
        for project in projects:  # three commits, taken by the recorder as one batch
            project.name += "!"
            await sync_to_async(project.save)()
        assert await asyncio.to_thread(badges.recorder.flush, TIMEOUT)
    finally:
        badges.recorder.spacing = Worker.spacing
    last = badges.latest(["testapp.project"])["testapp.project"]
    stored = badges.batches("testapp.project", before + 1, last)
    pks = sorted(pk for _, found, _ in stored.values() for pk in found or ())
    assert pks == sorted(str(p.pk) for p in projects)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_only_groups_with_a_live_member_are_listened_to(redis_layer: RedisServer) -> None:
    layer = get_layer()
    assert knows_groups(layer)
    await layer.group_add("heard", "live-admin-test.one")
    await layer.group_add("gone", "live-admin-test.two")
    key = layer._group_key("gone").decode()  # type: ignore[attr-defined]
    expired = int(time.time()) - layer.group_expiry  # type: ignore[attr-defined]
    redis_layer.command("ZADD", key, str(expired), "live-admin-test.two")
    assert await listened(layer, ["heard", "gone", "nobody", "heard"]) == {"heard"}
    await layer.close_pools()  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_save_sends_only_to_groups_someone_follows(
    redis_layer: RedisServer, admin_user: User, settings: Any
) -> None:
    settings.LIVE_ADMIN = {**settings.LIVE_ADMIN, "BADGES": False}
    watched, unwatched = [
        await sync_to_async(Project.objects.create)(name=name) for name in ("W", "U")
    ]
    socket = await subscribed_socket(admin_user, model="testapp.project", pk=str(watched.pk))
    assert await asyncio.to_thread(sender.flush, TIMEOUT)
    told = []
    own_layer = sender._layer[1]  # type: ignore[index]
    send = own_layer.group_send

    async def counted(group: str, message: dict[str, Any]) -> None:
        told.append(group)
        await send(group, message)

    own_layer.group_send = counted
    try:
        failed = sender.stats["failed"]
        for project in (watched, unwatched):
            project.name += "!"
            await sync_to_async(project.save)()
        assert await asyncio.to_thread(sender.flush, TIMEOUT)
    finally:
        del own_layer.group_send
    assert sender.stats["failed"] == failed
    # Not the model's group nor the other object's: nobody follows them.
    assert set(told) == {protocol.object_group("testapp.project", str(watched.pk))}
    event = await socket.receive_json_from(timeout=TIMEOUT)
    assert event["pk"] == str(watched.pk)
    await socket.disconnect()
