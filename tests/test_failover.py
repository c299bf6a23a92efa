"""Redis Sentinel fails the master over while pages are open and saves are being made: no save
fails or waits, events flow again within seconds, and every page is told once to refresh."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from conftest import Daphne, make_user, session_cookie, until
from django.test import override_settings
from topologies import CORE, PUBSUB, Page, Sentinels

from live_admin.delivery.sender import sender
from testapp.models import Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

PAGES = 20
FLOWING_WITHIN = 10.0  # seconds from the master's death to every page hearing saves again
SEND_TIMEOUT = 1.0  # LIVE_ADMIN["SEND_TIMEOUT"] in the test settings


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[Sentinels]:
    topology = Sentinels(tmp_path)
    yield topology
    topology.stop()


@pytest.mark.parametrize("backend", [CORE, PUBSUB], ids=["core", "pubsub"])
async def test_the_master_fails_over_under_open_pages_and_saves(
    sentinels: Sentinels, tmp_path: Path, backend: str
) -> None:
    layer = sentinels.layer(backend)
    server = await asyncio.to_thread(
        Daphne, tmp_path / "daphne.log", env={"LIVE_ADMIN_TEST_LAYER": json.dumps(layer)}
    )
    user = await sync_to_async(make_user)("watcher", perms=("view_project",))
    cookie = await sync_to_async(session_cookie)(user)
    pages = [Page(f"ws://127.0.0.1:{server.port}/ws/live-admin/", server.url, cookie)]
    pages += [Page(pages[0].url, server.url, cookie) for _ in range(PAGES - 1)]
    tasks = [asyncio.create_task(page.run()) for page in pages]
    taken: list[float] = []  # seconds each save took
    stop_saving = asyncio.Event()

    async def save_all_along() -> None:
        while not stop_saving.is_set():
            started = time.monotonic()
            await sync_to_async(Project.objects.create)(name="saved")
            taken.append(time.monotonic() - started)
            await asyncio.sleep(0.1)

    try:
        with override_settings(CHANNEL_LAYERS={"default": layer}):
            await asyncio.wait_for(asyncio.gather(*(p.subscribed.wait() for p in pages)), 30)
            saving = asyncio.create_task(save_all_along())
            await until(lambda: all(page.told("changed") for page in pages), FLOWING_WITHIN)
            old_master = sentinels.master_port()

            killed_at = time.monotonic()
            sentinels.master.process.kill()  # a crash: no goodbye to any client
            await until(lambda: sentinels.master_port() != old_master, 30)
            # The dead master delivers nothing: what pages hear from now on came through the
            # new one (the sentinels wait a second of silence before they fail over).
            promoted_at = time.monotonic()

            def first_heard_through_the_new_master(page: Page) -> float | None:
                heard = [t for t, m in page.heard if m["type"] == "changed" and t > promoted_at]
                return min(heard, default=None)

            await until(lambda: all(map(first_heard_through_the_new_master, pages)), 60)
            flowing_after = max(map(first_heard_through_the_new_master, pages)) - killed_at
            if backend == CORE:  # the pub/sub layer reconnects without a word (deployment.md)
                await until(lambda: all(page.told("resync") for page in pages), FLOWING_WITHIN)
            stop_saving.set()
            await saving
            assert await asyncio.to_thread(sender.flush, 10)

        slowest = max(taken)
        assert slowest < SEND_TIMEOUT, f"a save took {slowest:.2f} s"
        assert flowing_after < FLOWING_WITHIN, f"events flowed again after {flowing_after:.1f} s"
        resyncs = {len(page.told("resync")) for page in pages}
        assert resyncs == {1} if backend == CORE else resyncs <= {0, 1}  # once, never a storm
        assert all(p.told("error") == [] for p in pages)
    finally:
        stop_saving.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(server.stop)
        await forget_the_sentinel_layer()


async def forget_the_sentinel_layer() -> None:
    """The sender replaces its layer at its next send. channels-redis then closes the old one's
    connections to the master, not redis-py's to the sentinels: they are collected here, where
    their warnings are known, rather than in whichever test runs next. (A deployed process keeps
    one layer for its lifetime.)"""
    await sync_to_async(Project.objects.create)(name="on the test's own layer")
    assert await asyncio.to_thread(sender.flush, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
