"""Shared fixtures: real redis-server processes, users, and authenticated websocket clients."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.db import connections
from django.test import Client, override_settings
from ports import free_port

from live_admin import protocol as groups
from live_admin.delivery import badges
from live_admin.delivery.sender import sender
from live_admin.logs import Throttled
from live_admin.realtime.reader import STOP_SECONDS

WS_PATH = "/ws/live-admin/"
ROOT = Path(__file__).resolve().parent


def python_command() -> list[str]:
    """How to start Python in a server or writer process; under coverage when `make test` asks
    (LIVE_ADMIN_SUBPROCESS_COVERAGE), so the code that only runs there is measured too."""
    if not os.environ.get("LIVE_ADMIN_SUBPROCESS_COVERAGE"):
        return [sys.executable]
    project = ROOT.parent
    return [sys.executable, "-m", "coverage", "run", "-p", f"--rcfile={project / 'pyproject.toml'}"]


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


async def until(
    predicate: Any, timeout: float = 10.0, interval: float = 0.02, what: Any = ""
) -> Any:
    """``wait_for`` for async tests: polls without holding the thread that sync_to_async uses."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout}s waiting for {said or predicate}")
        await asyncio.sleep(interval)


class RedisServer:
    """A redis-server process of the test's own on a free loopback port."""

    def __init__(
        self, directory: Path, port: int | None = None, args: list[str] | None = None
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail(
                "redis-server is not installed: run `make test`, or apt-get install redis-server"
            )
        self.directory, self.port = directory, port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *(args or []),
            ],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(7) == b"+PONG\r\n"
        except OSError:
            return False

    def command(self, *words: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(" ".join(words).encode() + b"\r\n")
            return s.recv(65536)

    def group_size(self, model: str = "testapp.project") -> int:
        """Members of a model's group as channels-redis stores it (a sorted set)."""
        reply = self.command("ZCARD", f"asgi:group:{groups.model_group(model)}")
        return int(reply.strip()[1:])  # an integer reply: b":3\r\n"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def redis_layers(
    url: str, backend: str = "channels_redis.core.RedisChannelLayer"
) -> dict[str, Any]:
    """CHANNEL_LAYERS as the README recommends: a read time-out above channels-redis's 5 s poll."""
    joiner = "&" if "?" in url else "?"
    config: dict[str, Any] = {"hosts": [url + joiner + "socket_timeout=10"]}
    if backend.endswith("RedisChannelLayer") and "PubSub" not in backend:
        config["group_expiry"] = 180  # about 3 x RECHECK_SECONDS (check live_admin.W009)
    return {"default": {"BACKEND": backend, "CONFIG": config}}


@pytest.fixture
def redis_layer(redis_server: RedisServer) -> Iterator[RedisServer]:
    """Run the test on channels-redis against the session's redis-server, emptied first."""
    redis_server.command("FLUSHALL")
    with override_settings(
        CHANNEL_LAYERS=redis_layers(redis_server.url),
        CACHES=badge_caches(redis_server.url),
        LIVE_ADMIN={**settings.LIVE_ADMIN, "BADGE_CACHE": "badges"},
    ):
        yield redis_server
        assert badges.recorder.flush(5)
    assert sender.flush(5)


def badge_caches(url: str) -> dict[str, Any]:
    """CACHES with a badge store on Redis, as the README recommends (short time-outs)."""
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "badges": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        },
    }


@pytest.fixture(scope="session", autouse=True)
def _no_connection_left(django_db_setup: None) -> Iterator[None]:
    """Close what ``sync_to_async`` opened in its worker thread before the test database goes
    (PostgreSQL will not drop a database that a session still uses)."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture(autouse=True)
def _fresh_badges() -> Iterator[None]:
    """Each test counts badges from an empty store, with nothing left queued by the last."""
    assert badges.recorder.flush(10)
    badges.store().clear()
    yield
    badges.recorder.flush(10)


@pytest.fixture(autouse=True)
def _fresh_sender() -> Iterator[None]:
    sender._down_until = 0.0
    sender._warnings = Throttled()  # a test's failures do not silence the next one's warning
    yield
    sender._down_until = 0.0


# -- users ---------------------------------------------------------------------------------------


def make_user(
    username: str, *, staff: bool = True, active: bool = True, perms: tuple[str, ...] = ()
) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=staff, is_active=active)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.fixture
def admin_user(transactional_db: None) -> User:
    return User.objects.create_superuser("root", password="pw", first_name="Ada", last_name="Root")


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    """A test client logged in as ``admin_user``."""
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer(transactional_db: None) -> User:
    """Staff with view permission only."""
    return make_user("viewer", perms=("view_ticket", "view_project", "view_order", "view_document"))


class Page:
    """What the hub needs of a socket: it only records what it is handed."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def deliver(self, event: dict[str, object]) -> None:
        self.events.append(event)


async def subscribed_socket(
    user: User, timeout: float = 10, delayed: bool = False, **sub: Any
) -> WebsocketCommunicator:
    """A socket subscribed once earlier changes are out, so it hears only what follows.
    ``delayed``: the server's layer is away, and says so before or after the subscription."""
    assert await asyncio.to_thread(sender.flush, timeout)
    comm = communicator(await sync_to_async(session_cookie)(user))
    assert (await comm.connect(timeout=timeout))[0]
    await comm.send_json_to({"type": "subscribe", "id": "s", **sub})
    subscribed = {"type": "subscribed", "id": "s", "sockets": ANY, "cursor": ANY}
    if delayed:
        told = [await comm.receive_json_from(timeout=timeout) for _ in range(2)]
        assert sorted(told, key=lambda m: m["type"]) == [{"type": "delayed"}, subscribed]
    else:
        assert await comm.receive_json_from(timeout=timeout) == subscribed
    return comm


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(
    cookie: str | None, *, origin: str | None = "http://testserver", query: str = ""
) -> WebsocketCommunicator:
    from testproject.asgi import application  # late: reads ALLOWED_HOSTS at import

    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, WS_PATH + query, headers=headers)


class Daphne:
    """A daphne process serving the test project on the test database (and Redis, if given)."""

    def __init__(
        self,
        log: Path,
        redis_url: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        traced: bool = True,
    ) -> None:
        from django.db import connection

        self.port = port or free_port()
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "testproject.settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "LIVE_ADMIN_TEST_DB": str(connection.settings_dict["NAME"]),
        }
        if redis_url:  # the layer, and the badge store the test process shares
            self.env["LIVE_ADMIN_TEST_REDIS"] = redis_url
            self.env["LIVE_ADMIN_TEST_BADGE_CACHE"] = redis_url
        # The test process may run in dev mode (warnings as errors); a server under load in
        # asyncio's debug mode is several times slower than any real one.
        self.env.pop("PYTHONDEVMODE", None)
        self.env.update(env or {})
        self.traced = traced  # False: never under coverage (load tests measure the server)
        self.start()

    def command(self) -> list[str]:
        return ["daphne", "-b", "127.0.0.1", "-p", str(self.port), "testproject.asgi:application"]

    def start(self) -> None:
        python = python_command() if self.traced else [sys.executable]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [*python, "-m", *self.command()],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.listening, 30, 0.05)

    def listening(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def state(self) -> dict[str, int]:
        """The server process's tasks, RSS and open live admin sockets (``__state__``)."""
        with urllib.request.urlopen(self.url + "/__state__/", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            # A hub whose reader misses its stop message waits 2 x STOP_SECONDS before it
            # cancels it (live_admin.hub._stop_reader): a clean exit may take that long.
            self.process.wait(2 * STOP_SECONDS + 10)


class Uvicorn(Daphne):
    """uvicorn (its ``websockets`` implementation) serving the test project."""

    def command(self) -> list[str]:
        address = ["--host", "127.0.0.1", "--port", str(self.port)]
        # After a handshake channels refuses (a foreign origin) on a channels-redis layer,
        # uvicorn waits at shutdown until Redis goes away: bounded, as a deployment should.
        bounded = ["--timeout-graceful-shutdown", "5"]
        # As docs/deployment.md recommends: no permessage-deflate, frames of at most 64 KiB.
        frames = ["--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
        app = "testproject.asgi:application"
        return ["uvicorn", *address, *bounded, *frames, "--ws", "websockets", app]


class Gunicorn(Daphne):
    """gunicorn with two uvicorn workers: two server processes behind one port."""

    WORKERS = 2

    def command(self) -> list[str]:
        address = ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.WORKERS)]
        worker = ["--worker-class", "uvicorn_worker.UvicornWorker", "--graceful-timeout", "5"]
        return ["gunicorn", *address, *worker, "testproject.asgi:application"]


SERVERS = {"daphne": Daphne, "uvicorn": Uvicorn, "gunicorn": Gunicorn}


def run_django(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``django-admin`` with the test settings in a separate OS process."""
    from django.db import connection

    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "LIVE_ADMIN_TEST_DB": str(connection.settings_dict["NAME"]),
        **(env or {}),
    }
    return subprocess.run(
        [*python_command(), "-m", "django", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


# -- every message of the whole run is content-free ---------------------------------------------

TO_CLIENT = {
    "subscribed": {"type", "id", "sockets", "cursor", "replay"},
    "unsubscribed": {"type", "id"},
    "pong": {"type"},
    "resync": {"type"},
    "delayed": {"type"},
    "error": {"type", "id", "code", "message"},
    "changed": {
        "type",
        "id",
        "model",
        "action",
        "count",
        "origin",
        "pk",
        "fields",
        "by",
        "at",
        "in_place",
        "cursor",
        "replayed",
    },
    "presence": {"type", "id", "pk", "people"},
    "watching": {"type", "id", "pks", "replay"},
    "badges": {"type", "id", "counts"},
}
PRESENCE_ON_LAYER = {"type", "group", "model", "pk", "pks", "key", "user", "name", "state", "reply"}
PRESENCE_ON_LAYER |= {"field"}  # the name of the form field an editor is in, never its value
# A change on the layer: what pages are told, less their ids, plus what sockets read themselves.
ON_LAYER = TO_CLIENT["changed"] - {"id", "in_place", "replayed"} | {"group", "objects"}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_event(message: dict[str, Any]) -> None:
    """A change names what changed, never a value: only these keys, and field *names*."""
    assert message["action"] in ("saved", "deleted", "bulk"), message
    assert re.fullmatch(r"\w+\.\w+", message["model"]), message
    assert message.get("count") is None or isinstance(message["count"], int), message
    assert all(IDENTIFIER.match(name) for name in message.get("fields") or []), message
    for obj in (message.get("objects") or {}).values():  # per object: the same, no values
        assert set(obj) <= {"action", "fields", "by", "origin", "created"}, message
        assert all(IDENTIFIER.match(name) for name in obj["fields"]), message
    assert message.get("pk") is None or isinstance(message["pk"], str), message


@pytest.fixture(scope="session", autouse=True)
def _all_traffic_is_content_free() -> Iterator[None]:
    from live_admin.realtime.consumer import LiveAdminConsumer

    to_clients: list[dict[str, Any]] = []
    on_layer: list[dict[str, Any]] = []
    original_send = LiveAdminConsumer.send_message
    sender.captures.append(on_layer)

    async def recording_send(self: Any, content: dict[str, Any]) -> None:
        to_clients.append(content)
        await original_send(self, content)

    from live_admin.realtime import presence_socket as presence

    original_announce = presence.announce

    async def recording_announce(layer: Any, event: dict[str, Any], timeout: float) -> None:
        on_layer.append(event)
        await original_announce(layer, event, timeout)

    LiveAdminConsumer.send_message = recording_send  # type: ignore[method-assign]
    presence.announce = recording_announce  # type: ignore[assignment]
    try:
        yield
    finally:
        LiveAdminConsumer.send_message = original_send  # type: ignore[method-assign]
        presence.announce = original_announce  # type: ignore[assignment]
        sender.captures[:] = [c for c in sender.captures if c is not on_layer]
    from live_admin.realtime.consumer import sockets_per_user as _sockets_per_user

    assert not _sockets_per_user, (
        f"sockets still counted after every test ended: {_sockets_per_user}"
    )
    for message in to_clients:
        assert set(message) <= TO_CLIENT[message["type"]], message
        if message["type"] == "changed":
            check_event(message)
            # A model or group subscription hears no pk, and no fields (they may be a row's
            # the user cannot see): its socket only says whether the change was in place.
            assert "pk" in message or "fields" not in message, message
        if message["type"] == "badges":  # counts, nothing else
            for told in message["counts"].values():
                assert told is None or set(told) == {"count", "more"}, message
        if message["type"] == "presence":  # display names, a state, an editor's field name
            for person in message["people"]:
                assert set(person) - {"field"} == {"name", "state"}, message
                assert IDENTIFIER.match(person.get("field", "f").replace("-", "_")), message
    for message in on_layer:
        if message["type"] == "live_admin.changed":
            assert set(message) <= ON_LAYER, message
            check_event(message)
        elif message["type"] == "live_admin.presence":
            assert set(message) <= PRESENCE_ON_LAYER, message
        else:
            assert message["type"] == "live_admin.logout", message
            assert set(message) == {"type", "group"}, message
