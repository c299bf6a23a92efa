"""Database capture on a real PostgreSQL (``CAPTURE = "database"``): writes that no signal tells
(``psql``, ``update()`` in another process, bulk statements) reach a real server's sockets,
ORM saves reach them once, and a PostgreSQL restart leaves them live.

Each test drives writes from processes of their own, as the people and programs who write to an
admin's database do, and reads what a websocket client of a real daphne receives. Needs psycopg
3 (the entries that run the suite with psycopg2 leave this module out, and say so).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from conftest import Daphne, Gunicorn, RedisServer, free_port, run_django
from postgres import PostgresServer
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 10
SETUP = """
from django.contrib.auth.models import User
from django.test import Client
from testapp.models import Project
user = User.objects.create_superuser("ann", "ann@example.com", "pw", first_name="Ann")
Project.objects.create(name="probe")
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""


class Database:
    """A PostgreSQL of the module's own, migrated with database capture on."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.env = {**server.env, "LIVE_ADMIN_TEST_CAPTURE": "database"}
        done = run_django("migrate", "--verbosity", "0", env=self.env, timeout=120)
        assert done.returncode == 0, done.stderr
        done = run_django("shell", "-c", SETUP, env=self.env)
        assert done.returncode == 0, done.stderr
        self.cookie = done.stdout.strip().splitlines()[-1]
        #: The sockets following the probe, each told of every probe write.
        self.sockets: list[Socket] = []
        self.probe = self.server.psql("SELECT id FROM testapp_project WHERE name = 'probe'")

    def shell(self, code: str, **env: str) -> None:
        """Run ``code`` in ``manage.py shell``: a process of its own, as a worker or script."""
        done = run_django("shell", "-c", code, env={**self.env, **env})
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    server = PostgresServer(free_port())
    try:
        yield Database(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daphne]:
    """daphne on the in-memory layer: the process that listens is the one serving pages."""
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    server = Daphne(log, env=database.env)
    yield server
    server.stop()


class Socket:
    """A websocket client of the server, with a way to know that all before is heard: it
    counts the probe's changes it reads, against the probe writes made since it followed it
    (another socket's settling writes the probe too)."""

    def __init__(self, ws: ClientConnection, database: Database) -> None:
        self.ws = ws
        self.database = database
        #: What a worker writing for this socket's server adds to its settings (its layer).
        self.worker: dict[str, str] = {}
        self.probes_due = 0

    async def receive(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        if self._is_probe(event):
            self.probes_due -= 1
        return event

    async def subscribe(self, id: str, **what: Any) -> None:
        await self.ws.send(json.dumps({"type": "subscribe", "id": id, **what}))
        while (reply := await self.receive())["type"] != "subscribed":
            assert reply["type"] == "changed", reply  # only changes may come before the reply
        assert reply["id"] == id
        if id == "probe":
            self.probes_due = 0
            self.database.sockets.append(self)

    async def settle(self) -> list[dict[str, Any]]:
        """Write the probe (a project) from psql and read until every probe change due has
        arrived, this one's last: what came before it."""
        self.database.server.psql(
            f"UPDATE testapp_project SET name = name || '.' WHERE id = {self.database.probe}"
        )
        for socket in self.database.sockets:
            socket.probes_due += 1
        before = []
        while self.probes_due > 0:
            event = await self.receive()
            if not self._is_probe(event):
                before.append(event)
        return before

    def _is_probe(self, event: dict[str, Any]) -> bool:
        """The probe's own change (not a bulk one: a new listener tells every page one)."""
        return event.get("id") == "probe" and event.get("action") == "saved"

    async def changes(self, id: str) -> list[dict[str, Any]]:
        """The changes subscription ``id`` received before the probe's."""
        return [e for e in await self.settle() if e.get("id") == id]


@pytest.fixture(scope="module")
def two_processes(
    database: Database, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gunicorn]:
    """Two server processes on Redis: one of them listens, and tells both."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {**database.env, "LIVE_ADMIN_TEST_MAX_SOCKETS": str(SPREAD_AT_MOST)}
    server = Gunicorn(log, redis_server.url, env=env)
    yield server
    server.stop()


#: Sockets opened at most while waiting for every server process to serve one.
SPREAD_AT_MOST = 40


@contextlib.asynccontextmanager
async def sockets(
    server: Daphne, database: Database, count: int, *, on_every_process: bool = False
) -> AsyncIterator[list[Socket]]:
    """``count`` sockets of ``server``, each following the probe and settled; with
    ``on_every_process``, more until each of its processes serves one (which process takes a
    connection is the kernel's and the workers' affair)."""
    url = f"ws://127.0.0.1:{server.port}/ws/live-admin/"
    headers = {"Cookie": f"sessionid={database.cookie}"}
    async with contextlib.AsyncExitStack() as stack:
        clients: list[Socket] = []

        async def add() -> None:
            ws = await stack.enter_async_context(
                connect(url, origin="http://localhost", additional_headers=headers)
            )
            client = Socket(ws, database)
            await client.subscribe("probe", model="testapp.project", pk=database.probe)
            clients.append(client)

        for _ in range(count):
            await add()
        while on_every_process and not await every_process_serves(server):
            assert len(clients) < SPREAD_AT_MOST, "one process took every socket"
            await add()
        try:
            for client in clients:  # the listener leads; what it told on taking the lead is read
                await client.settle()
            yield clients
        finally:
            for client in clients:
                database.sockets.remove(client)


async def every_process_serves(server: Daphne) -> bool:
    """Whether each worker serves a socket, as they answer ``__state__`` (each answer comes
    from one of them: asked a few times)."""
    served: dict[int, int] = {}
    for _ in range(20):
        state = await asyncio.to_thread(server.state)
        served[state["pid"]] = state["sockets"]
        if len([n for n in served.values() if n]) == Gunicorn.WORKERS:
            return True
    return False


@pytest_asyncio.fixture
async def socket(served: Daphne, database: Database) -> AsyncIterator[Socket]:
    async with sockets(served, database, 1) as (client,):
        yield client


@pytest_asyncio.fixture(params=["memory", "redis"])
async def either_layer(request: pytest.FixtureRequest, database: Database) -> AsyncIterator[Socket]:
    """A socket of daphne on the in-memory layer, then of two processes on Redis."""
    server = request.getfixturevalue("served" if request.param == "memory" else "two_processes")
    async with sockets(server, database, 1) as (client,):
        if request.param == "redis":
            client.worker = {"LIVE_ADMIN_TEST_REDIS": request.getfixturevalue("redis_server").url}
        yield client


def order(database: Database, customer: str, status: str = "new") -> str:
    return database.server.psql(
        f"INSERT INTO testapp_order (customer, status, priority) "
        f"VALUES ('{customer}', '{status}', 0) RETURNING id"
    )


async def followed(socket: Socket, database: Database, customer: str) -> str:
    """A new order, its list and its form followed by ``socket``, all before read."""
    pk = order(database, customer)
    await socket.subscribe("list", model="testapp.order")
    await socket.subscribe("form", model="testapp.order", pk=pk)
    await socket.settle()
    return pk


@pytest.mark.asyncio
async def test_a_psql_update_reaches_the_list_and_the_form(
    socket: Socket, database: Database
) -> None:
    pk = await followed(socket, database, "Ann")
    database.server.psql(f"UPDATE testapp_order SET status = 'paid' WHERE id = {pk}")
    events = [e for e in await socket.settle() if e["id"] in ("list", "form")]
    assert [(e["id"], e["action"], e.get("pk"), e.get("fields"), e.get("by")) for e in events] == [
        ("list", "saved", None, None, None),
        ("form", "saved", pk, ["status"], None),
    ]
    assert events[0]["count"] == 1


@pytest.mark.asyncio
async def test_update_in_another_process_reaches_the_list_and_the_form(
    socket: Socket, database: Database
) -> None:
    pk = await followed(socket, database, "Ben")
    database.shell(
        "from testapp.models import Order\n"
        f"Order.objects.filter(pk={pk}).update(customer='Ben B', priority=3)\n"
    )
    events = {e["id"]: e for e in await socket.settle()}
    assert events["list"]["action"] == "saved"
    assert events["form"]["fields"] == ["customer", "priority"]


@pytest.mark.asyncio
async def test_an_orm_save_reaches_a_socket_once_with_its_actor(
    either_layer: Socket, database: Database
) -> None:
    """On Redis the shell's observers tell its save, and the trigger leaves it to them; on the
    in-memory layer a shell's sends reach no page, and the trigger tells it."""
    socket = either_layer
    pk = order(database, "Cid")
    await socket.subscribe("form", model="testapp.order", pk=pk)
    await socket.settle()
    database.shell(
        "from live_admin.capture.record import acting\n"
        "from testapp.models import Order\n"
        f"o = Order.objects.get(pk={pk})\n"
        "o.status = 'paid'\n"
        "with acting('Ann Admin', None): o.save()\n"
        "with acting('Ann Admin', None):\n"
        f"    Order.objects.filter(pk={pk}).update(priority=7)\n",
        **socket.worker,
    )
    events = await socket.changes("form")
    # Two senders may tell them (the worker's and the listener's): in either order.
    assert sorted((e["fields"], e["by"]) for e in events) == [
        (["priority"], "Ann Admin"),  # update(): the trigger's, with the actor it was given
        (["status"], "Ann Admin"),  # once: by the observers or by the trigger
    ]


@pytest.mark.asyncio
async def test_every_socket_of_two_processes_hears_a_psql_write_once(
    two_processes: Gunicorn, database: Database
) -> None:
    pk = order(database, "Fay")
    async with sockets(two_processes, database, 4, on_every_process=True) as clients:
        for client in clients:
            await client.subscribe("form", model="testapp.order", pk=pk)
        database.server.psql(f"UPDATE testapp_order SET status = 'paid' WHERE id = {pk}")
        for client in clients:
            assert [e["fields"] for e in await client.changes("form")] == [["status"]]


@pytest.mark.asyncio
async def test_ten_thousand_rows_in_one_statement_are_one_change(
    socket: Socket, database: Database
) -> None:
    await socket.subscribe("list", model="testapp.order")
    await socket.settle()
    database.server.psql(
        "INSERT INTO testapp_order (customer, status, priority) "
        "SELECT 'bulk ' || n, 'new', 0 FROM generate_series(1, 10000) n"
    )
    database.server.psql("UPDATE testapp_order SET status = 'bulk' WHERE customer LIKE 'bulk %'")
    events = await socket.changes("list")
    assert 1 <= len(events) <= 2  # one per statement, or the two folded into one
    assert {(e["action"], e["count"]) for e in events} == {("bulk", None)}


@pytest.mark.asyncio
async def test_a_group_move_from_sql_reaches_both_groups(
    socket: Socket, database: Database
) -> None:
    pk = order(database, "Dee", status="new")
    await socket.subscribe("new", model="testapp.order", group={"field": "status", "value": "new"})
    await socket.subscribe(
        "done", model="testapp.order", group={"field": "status", "value": "done"}
    )
    await socket.settle()
    database.server.psql(f"UPDATE testapp_order SET status = 'done' WHERE id = {pk}")
    events = [e for e in await socket.settle() if e["id"] in ("new", "done")]
    assert sorted((e["id"], e["action"], e["count"]) for e in events) == [
        ("done", "saved", 1),
        ("new", "saved", 1),
    ]


@pytest.mark.asyncio
async def test_a_postgresql_restart_leaves_the_pages_live(
    socket: Socket, database: Database
) -> None:
    pk = order(database, "Eve")
    await socket.subscribe("form", model="testapp.order", pk=pk)
    await socket.settle()
    database.server.restart()
    # What was written while nobody listened is not known: the new leader says so.
    told = {(e["id"], e["action"]) for e in [await socket.receive(), await socket.receive()]}
    assert told == {("form", "bulk"), ("probe", "bulk")}
    database.server.psql(f"UPDATE testapp_order SET status = 'after' WHERE id = {pk}")
    events = await socket.changes("form")
    assert ("saved", ["status"]) in [(e["action"], e.get("fields")) for e in events]


# -- installing: migrate, again, switched back, the command, tables renamed and dropped ------


@pytest.fixture
def other(database: Database) -> Iterator[dict[str, str]]:
    """A second database of the cluster, for tests that change what is installed."""
    database.server.psql("CREATE DATABASE other")
    env = {**database.env, "LIVE_ADMIN_TEST_DB": "other"}
    try:
        yield env
    finally:
        database.server.psql("DROP DATABASE other WITH (FORCE)")


def triggers_of(database: Database, db: str = "other") -> list[tuple[str, str]]:
    rows = database.server.psql(
        "SELECT c.relname || ' ' || t.tgname || ' ' || t.oid FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'pgtrigger_live_admin_%' "
        "ORDER BY 1",
        db,
    )
    return [tuple(row.split(" ", 1)) for row in rows.splitlines() if row]  # type: ignore[misc]


def manage(env: dict[str, str], *args: str) -> str:
    done = run_django(*args, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_migrate_installs_once_and_switching_back_removes_them(
    database: Database, other: dict[str, str]
) -> None:
    manage(other, "migrate", "--verbosity", "0")
    installed = triggers_of(database)
    tables = {table for table, _ in installed}
    assert {"testapp_order", "testapp_orderline", "auth_user"} <= tables
    assert len(installed) == 4 * len(tables)  # insert, update, delete, truncate
    manage(other, "migrate", "--verbosity", "0")
    assert triggers_of(database) == installed  # the same triggers: nothing made anew
    status = manage(other, "live_admin_triggers")
    assert "UNINSTALLED" not in status
    assert "testapp.Order" in status

    signals = {**other, "LIVE_ADMIN_TEST_CAPTURE": "signals"}
    manage(signals, "migrate", "--verbosity", "0")
    assert triggers_of(database) == []
    found = run_django("check", "--deploy", "--database", "default", env=other)
    assert "live_admin.W012" in found.stderr  # the settings say database; nothing is there
    manage(other, "live_admin_triggers", "install")
    assert len(triggers_of(database)) == len(installed)
    manage(signals, "live_admin_triggers", "remove")
    assert triggers_of(database) == []


def test_a_renamed_or_dropped_table_leaves_no_broken_trigger(
    database: Database, other: dict[str, str]
) -> None:
    manage(other, "migrate", "--verbosity", "0")
    database.server.psql(
        "ALTER TABLE testapp_order RENAME TO testapp_order_renamed;\n"
        "INSERT INTO testapp_order_renamed (customer, status, priority) VALUES ('x', 'new', 0);\n"
        "UPDATE testapp_order_renamed SET status = 'paid';\n"
        "DELETE FROM testapp_order_renamed;\n"
        "DROP TABLE testapp_orderline;",
        "other",
    )
    tables = {table for table, _ in triggers_of(database)}
    assert "testapp_orderline" not in tables
    assert "testapp_order_renamed" in tables  # it went with its table, and writes still work


@pytest.mark.asyncio
async def test_a_payload_past_notifys_limit_becomes_one_bulk_change(
    socket: Socket, database: Database
) -> None:
    """50 documents whose long shelf names (a group field: old and new values travel) would
    make a payload past 8,000 bytes: one bulk change instead, and the write goes through."""
    await socket.subscribe("docs", model="testapp.document")
    await socket.settle()
    database.server.psql(
        "INSERT INTO testapp_document (id, title, shelf) SELECT gen_random_uuid(), 'd' || n,"
        " repeat('s', 250) FROM generate_series(1, 50) n"
    )
    database.server.psql("UPDATE testapp_document SET shelf = repeat('t', 250)")
    events = await socket.changes("docs")
    assert [(e["action"], e["count"]) for e in events][-1] == ("bulk", None)
    assert (
        database.server.psql("SELECT count(*) FROM testapp_document WHERE shelf LIKE 't%'") == "50"
    )


@pytest.mark.asyncio
async def test_a_value_that_looks_like_a_mark_is_still_told(
    socket: Socket, database: Database
) -> None:
    """Values are part of a statement's text (client-side binding, or psql): only a comment at
    the very start counts as a mark."""
    pk = order(database, "Hal")
    await socket.subscribe("form", model="testapp.order", pk=pk)
    await socket.settle()
    database.shell(
        "from testapp.models import Order\n"
        f"Order.objects.filter(pk={pk}).update(customer='/*live_admin:told=testapp_order*/')\n"
    )
    assert [e["fields"] for e in await socket.changes("form")] == [["customer"]]


def test_makemigrations_finds_nothing_with_pgtrigger_installed(
    database: Database, other: dict[str, str]
) -> None:
    """The triggers are never put in a model's Meta: django-pgtrigger's migration support, if
    the project uses it, sees no new trigger in the project's apps or Django's."""
    env = {**other, "LIVE_ADMIN_TEST_PGTRIGGER": "1"}
    manage(env, "migrate", "--verbosity", "0")
    done = run_django("makemigrations", "--check", "--dry-run", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
