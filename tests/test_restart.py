"""An ASGI server restarted under 200 sockets: nothing is left subscribed, everyone comes back."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from conftest import SERVERS, Daphne, RedisServer, make_user, redis_layers, session_cookie, until
from django.test import override_settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from live_admin.delivery.sender import sender
from testapp.models import Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

CLIENTS = 200


EXPIRY = 4  # group_expiry of the server's layer, seconds
ENV = {"LIVE_ADMIN_TEST_GROUP_EXPIRY": str(EXPIRY), "LIVE_ADMIN_TEST_RECHECK": "1"}


@pytest.fixture(params=["daphne", "uvicorn"])
def server(
    request: pytest.FixtureRequest, redis_layer: RedisServer, tmp_path: Path
) -> Iterator[Daphne]:
    """live_admin re-joins every second; the layer forgets members after EXPIRY seconds."""
    kind = request.param
    process = SERVERS[kind](tmp_path / f"{kind}.log", redis_layer.url, env=ENV)
    yield process
    process.stop()


async def test_restart_under_200_sockets(server: Daphne, redis_layer: RedisServer) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws/live-admin/"
    users = [await sync_to_async(make_user)(f"r{i}", perms=("view_project",)) for i in range(10)]
    cookies = [await sync_to_async(session_cookie)(user) for user in users]
    heard = [asyncio.Event() for _ in range(CLIENTS)]
    subscribed = [0] * CLIENTS  # subscriptions granted, per client

    async def client(index: int) -> None:
        """Stays subscribed; after losing the server, reconnects with jitter, as pages do."""
        rng = random.Random(index)
        headers = {"Cookie": f"sessionid={cookies[index % 10]}"}
        while True:
            try:
                async with connect(url, origin=server.url, additional_headers=headers) as ws:
                    await ws.send(
                        json.dumps({"type": "subscribe", "id": "p", "model": "testapp.project"})
                    )
                    async for frame in ws:
                        kind = json.loads(frame)["type"]
                        if kind == "subscribed":
                            subscribed[index] += 1
                        elif kind == "changed":
                            heard[index].set()
            except (OSError, ConnectionClosed, InvalidHandshake):
                pass
            await asyncio.sleep(rng.uniform(0, 2))

    tasks = [asyncio.create_task(client(i)) for i in range(CLIENTS)]
    try:
        await until(lambda: min(subscribed) == 1, 60)
        assert redis_layer.group_size() == 1  # the server's one membership

        await asyncio.to_thread(server.stop)
        # a server may stop before its last socket has left the group: a dead member remains...
        left_behind = redis_layer.group_size()
        await asyncio.to_thread(server.start)
        await until(lambda: min(subscribed) == 2, 60)  # every client came back, once
        assert max(subscribed) == 2
        await asyncio.sleep(EXPIRY + 1)  # ...until the layer's group_expiry passes
        layers = redis_layers(redis_layer.url)
        layers["default"]["CONFIG"]["group_expiry"] = EXPIRY  # the sender prunes with its own
        with override_settings(CHANNEL_LAYERS=layers):
            await sync_to_async(Project.objects.create)(name="after the restart")
            assert await asyncio.to_thread(sender.flush, 30)  # sent while the setting holds
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in heard)), 30)
        # the send pruned the dead; the live, re-joining every second, stayed
        assert redis_layer.group_size() == 1, left_behind
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
