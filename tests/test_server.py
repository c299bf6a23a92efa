"""A real daphne process serving the consumer to a real websocket client, fed over Redis."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from conftest import ROOT, RedisServer, free_port, session_cookie, wait_for
from django.contrib.auth.models import User
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from testapp.models import Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 10


@pytest.fixture
def daphne(redis_layer: RedisServer, tmp_path: Path) -> Iterator[str]:
    """daphne serving the test project on the test database and Redis; yields its ws URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "LIVE_ADMIN_TEST_DB": str(connection.settings_dict["NAME"]),
        "LIVE_ADMIN_TEST_REDIS": redis_layer.url,
    }
    log = tmp_path / "daphne.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "testproject.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )

    def listening() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    wait_for(listening, 30, 0.1)
    yield f"ws://127.0.0.1:{port}/ws/live-admin/"
    process.terminate()
    process.wait(10)


@pytest_asyncio.fixture
async def socket_of(daphne: str, admin_user: User) -> AsyncIterator[ClientConnection]:
    cookie = await sync_to_async(session_cookie)(admin_user)
    async with connect(
        daphne, origin="http://localhost", additional_headers={"Cookie": f"sessionid={cookie}"}
    ) as ws:
        yield ws


async def receive(ws: ClientConnection) -> dict[str, object]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def test_save_here_reaches_a_socket_served_by_daphne(socket_of: ClientConnection) -> None:
    ws = socket_of
    await ws.send(json.dumps({"type": "subscribe", "id": "m", "model": "testapp.project"}))
    assert await receive(ws) == {"type": "subscribed", "id": "m"}
    await sync_to_async(Project.objects.create)(name="from the test process")
    event = await receive(ws)
    assert (event["type"], event["id"], event["action"], event["count"]) == (
        "changed",
        "m",
        "saved",
        1,
    )
    await ws.send("{not json")
    assert (await receive(ws))["code"] == "invalid"
    await ws.send(json.dumps({"type": "ping"}))
    assert await receive(ws) == {"type": "pong"}


async def test_daphne_refuses_a_foreign_origin(daphne: str, admin_user: User) -> None:
    cookie = await sync_to_async(session_cookie)(admin_user)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            daphne,
            origin="http://evil.example",
            additional_headers={"Cookie": f"sessionid={cookie}"},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_daphne_closes_an_anonymous_socket(daphne: str, transactional_db: None) -> None:
    async with connect(daphne, origin="http://localhost") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
