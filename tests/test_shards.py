"""channels-redis sharded over two Redis servers: groups and the server's channel on different
shards, and a shard restarting empty while pages are open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels_redis.utils import _consistent_hash
from conftest import Daphne, make_user, session_cookie, until
from django.test import override_settings
from topologies import CORE, PUBSUB, Page, Shards, ask

from live_admin import protocol as groups
from live_admin.delivery.sender import sender
from testapp.models import Document, Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

PAGES = 10
#: One model list on each shard (the test checks that the hash still places them so).
MODELS = ("testapp.project", "testapp.document")


def shard_of(name: str) -> int:
    return _consistent_hash(name, 2)


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[Shards]:
    topology = Shards(tmp_path)
    yield topology
    topology.stop()


async def save_both() -> None:
    await sync_to_async(Project.objects.create)(name="P")
    await sync_to_async(Document.objects.create)(title="D")
    assert await asyncio.to_thread(sender.flush, 10)


def heard_both_since(page: Page, since: int) -> bool:
    later = [message for _, message in page.heard[since:] if message["type"] == "changed"]
    return {message["model"] for message in later} == set(MODELS)


@pytest.mark.parametrize(
    ("backend", "lost"),
    [
        (CORE, "the channel's shard restarts"),
        (CORE, "a groups' shard restarts"),
        # Its connections survive: as behind a proxy, or when Redis evicts or flushes keys.
        (CORE, "a groups' shard forgets"),
        (PUBSUB, "the channel's shard restarts"),
        (PUBSUB, "a groups' shard restarts"),
    ],
    ids=["core-channel", "core-groups", "core-flushed", "pubsub-channel", "pubsub-groups"],
)
async def test_a_shard_loses_what_it_held_under_open_pages(
    shards: Shards, tmp_path: Path, backend: str, lost: str
) -> None:
    assert {shard_of(groups.model_group(model)) for model in MODELS} == {0, 1}
    layer = shards.layer(backend)
    # The re-join a minute away: each loss must be found by the server's probes or its reads.
    env = {"LIVE_ADMIN_TEST_LAYER": json.dumps(layer)}
    server = await asyncio.to_thread(Daphne, tmp_path / "daphne.log", env=env)
    user = await sync_to_async(make_user)("w", perms=("view_project", "view_document"))
    cookie = await sync_to_async(session_cookie)(user)
    url = f"ws://127.0.0.1:{server.port}/ws/live-admin/"
    pages = [Page(url, server.url, cookie, MODELS) for _ in range(PAGES)]
    tasks = [asyncio.create_task(page.run()) for page in pages]
    try:
        with override_settings(CHANNEL_LAYERS={"default": layer}):
            await asyncio.wait_for(asyncio.gather(*(p.subscribed.wait() for p in pages)), 30)
            await save_both()
            await until(lambda: all(heard_both_since(page, 0) for page in pages), 10)

            if backend == CORE:  # each shard holds one of the groups, the server's channel one
                by_shard = [shards.keys(i, "asgi:group:live_admin.v*") for i in (0, 1)]
                assert all(len(keys) == 1 for keys in by_shard), by_shard
            channel_shard = await asyncio.to_thread(server_channel_shard, shards, backend)
            index = channel_shard if "channel" in lost else 1 - channel_shard
            if "forgets" in lost:
                ask(shards.servers[index].port, "flushall")
            else:
                await asyncio.to_thread(shards.restart, index)

            # Each page is told that it may have missed events (not on the pub/sub layer, which
            # reconnects without a word: docs/deployment.md); then saves reach it again.
            if backend == CORE:
                await until(lambda: all(page.told("resync") for page in pages), 20)
            since = [len(page.heard) for page in pages]

            async def heard_again() -> bool:
                await save_both()
                return all(heard_both_since(p, n) for p, n in zip(pages, since, strict=True))

            await until(heard_again, 20, 0.5)
        resyncs = {len(page.told("resync")) for page in pages}
        assert resyncs == {1} if backend == CORE else resyncs <= {0, 1}  # once, never a storm
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(server.stop)


def server_channel_shard(shards: Shards, backend: str) -> int:
    """The shard the server process reads its channel from."""
    if backend == PUBSUB:  # subscribed to its channel's name on that shard
        for index, server in enumerate(shards.servers):
            names = ask(server.port, "execute_command", "PUBSUB", "CHANNELS", "asgispecific.*")
            if names:
                return index
        raise AssertionError("no shard has the server's channel")
    key = f"asgi:group:{groups.model_group(MODELS[0])}"
    port = shards.servers[shard_of(groups.model_group(MODELS[0]))].port
    (channel,) = ask(port, "zrange", key, 0, -1)
    return shard_of(channel.decode().split("!")[0] + "!")
