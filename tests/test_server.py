"""Real ASGI servers (daphne, uvicorn, and gunicorn with uvicorn workers) serving the consumer to
a real websocket client, fed over Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest.mock import ANY

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from conftest import (
    SERVERS,
    Daphne,
    Gunicorn,
    RedisServer,
    make_user,
    session_cookie,
    until,
)
from django.contrib.auth.models import User
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from testapp.models import Document, Project, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 10


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,
) -> Iterator[Daphne]:
    """Each server in turn, once for the module, on the test database and the session's Redis."""
    log = tmp_path_factory.mktemp(request.param) / f"{request.param}.log"
    server = SERVERS[request.param](log, redis_server.url)
    yield server
    server.stop()


@pytest.fixture
def daphne(served: Daphne, redis_layer: RedisServer) -> str:
    """The server's ws URL; this process sends on the same Redis."""
    return f"ws://127.0.0.1:{served.port}/ws/live-admin/"


@pytest_asyncio.fixture
async def socket_of(daphne: str, admin_user: User) -> AsyncIterator[ClientConnection]:
    cookie = await sync_to_async(session_cookie)(admin_user)
    async with connect(
        daphne, origin="http://localhost", additional_headers={"Cookie": f"sessionid={cookie}"}
    ) as ws:
        yield ws


async def receive(ws: ClientConnection) -> dict[str, object]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def test_a_save_here_reaches_a_socket_served_there(socket_of: ClientConnection) -> None:
    ws = socket_of
    await ws.send(json.dumps({"type": "subscribe", "id": "m", "model": "testapp.project"}))
    assert await receive(ws) == {"type": "subscribed", "id": "m", "sockets": ANY, "cursor": ANY}
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


async def test_a_foreign_origin_is_refused(daphne: str, admin_user: User) -> None:
    cookie = await sync_to_async(session_cookie)(admin_user)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            daphne,
            origin="http://evil.example",
            additional_headers={"Cookie": f"sessionid={cookie}"},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_an_anonymous_socket_is_closed(daphne: str, transactional_db: None) -> None:
    async with connect(daphne, origin="http://localhost") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


HANDSHAKES = [
    # (who, Origin header, expected: "open" or the refusal)
    ("staff", "http://localhost", "open"),
    ("staff", "http://127.0.0.1", "open"),
    ("staff", "http://evil.example", 403),
    ("staff", "http://localhost.evil.example", 403),
    ("staff", "https://evil.example:443", 403),
    ("staff", "null", 403),
    ("staff", None, 403),
    ("anonymous", "http://localhost", 4401),
    ("anonymous", "http://evil.example", 403),
    ("inactive", "http://localhost", 4401),
    ("non-staff", "http://localhost", 4403),
    ("non-staff", "http://evil.example", 403),
]


@pytest.mark.parametrize(("who", "origin", "expected"), HANDSHAKES)
async def test_handshake_table(daphne: str, who: str, origin: str | None, expected: object) -> None:
    """Cross-site websocket hijacking: a page elsewhere, with the admin's cookie, gets nothing."""
    from conftest import make_user

    headers = {}
    if who != "anonymous":
        user = await sync_to_async(make_user)(
            who, staff=who != "non-staff", active=who != "inactive"
        )
        headers["Cookie"] = f"sessionid={await sync_to_async(session_cookie)(user)}"
    if expected == 403:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(daphne, origin=origin, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403
        return
    async with connect(daphne, origin=origin, additional_headers=headers) as ws:
        if expected == "open":
            await ws.send(json.dumps({"type": "ping"}))
            assert await receive(ws) == {"type": "pong"}
            return
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == expected


@pytest.fixture
def tenant_data(viewer: User) -> dict[str, str]:
    mine = Project.objects.create(name="Mine", owner=viewer)
    theirs = Project.objects.create(name="Theirs")
    return {
        "mine": str(mine.pk),
        "theirs": str(theirs.pk),
        "my_ticket": str(Ticket.objects.create(project=mine, title="a").pk),
        "their_ticket": str(Ticket.objects.create(project=theirs, title="b").pk),
        "private_doc": str(Document.objects.create(title="private plans").pk),
    }


def attacks(d: dict[str, str]) -> list[tuple[dict[str, object], str | None]]:
    """(subscription, expected error code) for a view-only staff user of a row-filtered admin."""
    return [
        ({"model": "testapp.ticket", "pk": d["their_ticket"]}, "not_found"),
        (
            {"model": "testapp.ticket", "group": {"field": "project", "value": d["theirs"]}},
            "forbidden",
        ),
        ({"model": "testapp.ticket", "group": {"field": "project", "value": None}}, "forbidden"),
        ({"model": "testapp.ticket", "group": {"field": "notes", "value": "x"}}, "invalid"),
        ({"model": "testapp.document", "pk": d["private_doc"]}, "forbidden"),
        ({"model": "testapp.note"}, "forbidden"),  # no view permission on notes
        ({"model": "testapp.secret"}, "not_found"),  # registered, but not live
        ({"model": "auth.group"}, "not_found"),  # registered, but not live
        ({"model": "auth.user"}, "forbidden"),  # live on another site; no view permission
        ({"model": "nope.nothing"}, "not_found"),
        ({"model": "testapp.ticket", "pk": "1 OR 1=1"}, "not_found"),
        ({"model": "testapp.ticket", "pk": "ü" * 200}, "not_found"),
        ({"model": "testapp.document", "pk": "not-a-uuid"}, "not_found"),
        ({"model": "testapp.ticket", "pk": d["my_ticket"]}, None),  # what is theirs works
        ({"model": "testapp.ticket", "group": {"field": "project", "value": d["mine"]}}, None),
    ]


async def test_authorization_attacks_from_a_raw_client(
    daphne: str, viewer: User, tenant_data: dict[str, str]
) -> None:
    """Every subscription rule, tried from a plain websocket client with a valid staff session."""
    cookie = await sync_to_async(session_cookie)(viewer)
    headers = {"Cookie": f"sessionid={cookie}"}
    async with connect(daphne, origin="http://localhost", additional_headers=headers) as ws:
        for i, (sub, expected) in enumerate(attacks(tenant_data)):
            await ws.send(json.dumps({"type": "subscribe", "id": f"a{i}", **sub}))
            reply = await receive(ws)
            if expected is None:
                assert reply == {
                    "type": "subscribed",
                    "id": f"a{i}",
                    "sockets": ANY,
                    "cursor": ANY,
                }, (sub, reply)
            else:
                assert reply["type"] == "error", (sub, reply)
                assert (reply["code"], reply["id"]) == (expected, f"a{i}"), (sub, reply)


@pytest.mark.parametrize("kind", sorted(SERVERS))
async def test_every_close_code_reaches_the_client(
    kind: str, tmp_path: Path, admin_user: User
) -> None:
    """Every server passes on each documented close code (autobahn refuses 1001-2999 ones)."""
    server = SERVERS[kind](tmp_path / f"{kind}.log")
    url = f"ws://127.0.0.1:{server.port}/ws/live-admin/"

    async def close_code(cookie: str | None, *messages: str, opened: int = 0) -> int:
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        async with connect(url, origin="http://localhost", additional_headers=headers) as ws:
            for message in messages:
                await ws.send(message)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None, closed.value
        return closed.value.rcvd.code

    try:
        staff = await sync_to_async(session_cookie)(admin_user)
        plain = await sync_to_async(make_user)("plain", staff=False)
        assert await close_code(None) == 4401
        assert await close_code(await sync_to_async(session_cookie)(plain)) == 4403
        assert await close_code(staff, json.dumps({"type": "ping", "pad": "x" * 5000})) == 4009
        if kind == "uvicorn":  # past --ws-max-size, uvicorn closes before live_admin reads
            assert await close_code(staff, "x" * 70_000) == 1009
        held = [
            await connect(
                url, origin="http://localhost", additional_headers={"Cookie": f"sessionid={staff}"}
            )
            for _ in range(20)
        ]
        if kind != "gunicorn":  # per server process: 20 sockets over two workers are allowed
            assert await close_code(staff) == 4429
        for ws in held:
            await ws.close()
    finally:
        server.stop()


async def test_a_save_reaches_sockets_on_every_gunicorn_worker(
    redis_layer: RedisServer, tmp_path: Path, admin_user: User
) -> None:
    """Several server processes behind one port: each socket is served by one of them, and a
    save in another process reaches every one, through Redis."""
    server = Gunicorn(tmp_path / "gunicorn.log", redis_layer.url)
    url = f"ws://127.0.0.1:{server.port}/ws/live-admin/"
    cookie = await sync_to_async(session_cookie)(admin_user)
    headers = {"Cookie": f"sessionid={cookie}"}
    try:
        sockets = [
            await connect(url, origin="http://localhost", additional_headers=headers)
            for _ in range(8)
        ]
        for ws in sockets:
            await ws.send(json.dumps({"type": "subscribe", "id": "m", "model": "testapp.project"}))
            assert (await receive(ws))["type"] == "subscribed"
        workers: set[int] = set()  # the pids answering fresh connections

        async def both_answer() -> bool:
            workers.add((await asyncio.to_thread(server.state))["pid"])
            return len(workers) == Gunicorn.WORKERS

        await until(both_answer, 30)
        await sync_to_async(Project.objects.create)(name="from the test process")
        for ws in sockets:
            event = await receive(ws)
            assert (event["type"], event["action"]) == ("changed", "saved")
        for ws in sockets:
            await ws.close()
    finally:
        server.stop()
