"""The fallback transport through the project's ASGI stack: an event stream out, POSTs in, with
the websocket's checks (session, user, origin, each subscription) and Django's CSRF check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from conftest import make_user, session_cookie
from django.contrib.auth.models import User
from django.test import Client, override_settings

from live_admin.delivery.sender import sender
from live_admin.protocol import CLOSE_NOT_LOGGED_IN
from live_admin.realtime import stream as streams
from testapp.models import Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5
PATH = "/live-admin/stream/"
CSRF = "a1B2" * 8  # a CSRF secret as Django's cookie holds it (32 letters and digits)


def scope(method: str, cookie: str | None, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    sent = [(b"host", b"testserver"), *headers]
    if cookie:
        sent.append((b"cookie", f"sessionid={cookie}; csrftoken={CSRF}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": sent,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


class Stream:
    """One open event stream, read event by event."""

    def __init__(self, comm: ApplicationCommunicator, status: int, headers: list[Any]) -> None:
        self.comm, self.status, self.headers = comm, status, dict(headers)
        self.pending: list[dict[str, Any]] = []
        self.ended = False
        self.id = ""

    async def event(self) -> dict[str, Any]:
        while not self.pending:
            body = await self.comm.receive_output(TIMEOUT)
            assert body["type"] == "http.response.body"
            if not body.get("more_body"):
                self.ended = True
            for part in body["body"].decode().split("\n\n"):
                if part.startswith("data: "):
                    self.pending.append(json.loads(part[len("data: ") :]))
            if self.ended and not self.pending:
                raise AssertionError("the stream ended")
        return self.pending.pop(0)

    async def next_of(self, kind: str) -> dict[str, Any]:
        while (event := await self.event())["type"] != kind:
            pass
        return event

    async def finishes(self) -> bool:
        """Whether the response ends with nothing more said."""
        while not self.ended:
            body = await self.comm.receive_output(TIMEOUT)
            assert body["body"] == b"", body
            self.ended = not body.get("more_body")
        return not self.pending

    async def close(self) -> None:
        await self.comm.send_input({"type": "http.disconnect"})
        await self.comm.wait(TIMEOUT)


async def open_stream(cookie: str | None, *headers: tuple[bytes, bytes]) -> Stream:
    from testproject.asgi import application

    comm = ApplicationCommunicator(application, scope("GET", cookie, list(headers)))
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await comm.receive_output(TIMEOUT)
    stream = Stream(comm, start["status"], start["headers"])
    if stream.status == 200:
        first = await stream.event()
        if first["type"] == "stream":
            stream.id = first["id"]
        else:
            stream.pending.insert(0, first)
    return stream


async def post(
    cookie: str | None,
    stream_id: str,
    message: Any,
    *,
    token: str | None = CSRF,
    origin: str | None = "http://testserver",
) -> int:
    from testproject.asgi import application

    headers = [(b"content-type", b"application/json"), (b"x-live-admin-stream", stream_id.encode())]
    if token:
        headers.append((b"x-csrftoken", token.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    comm = ApplicationCommunicator(application, scope("POST", cookie, headers))
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    await comm.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await comm.receive_output(TIMEOUT)
    await comm.receive_output(TIMEOUT)
    await comm.wait(TIMEOUT)
    return int(start["status"])


@pytest_asyncio.fixture
async def cookie(admin_user: User) -> str:
    return str(await sync_to_async(session_cookie)(admin_user))


@pytest_asyncio.fixture
async def opened(cookie: str) -> AsyncIterator[Stream]:
    stream = await open_stream(cookie)
    yield stream
    if not stream.ended:
        await stream.close()


@pytest.fixture(params=["memory", "redis"])
def layer(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_layer")
    return str(request.param)


async def test_a_stream_is_a_socket_its_page_writes_to_by_post(
    layer: str, cookie: str, opened: Stream
) -> None:
    assert opened.status == 200
    assert opened.headers[b"content-type"].startswith(b"text/event-stream")
    assert streams.STREAM_ID.match(opened.id)
    subscribe = {"type": "subscribe", "id": "page", "model": "testapp.project"}
    assert await post(cookie, opened.id, subscribe) == 202
    subscribed = await opened.event()
    assert (subscribed["type"], subscribed["id"]) == ("subscribed", "page")
    await sync_to_async(Project.objects.create)(name="heard over the stream")
    assert await asyncio.to_thread(sender.flush, TIMEOUT)
    changed = await opened.event()
    assert (changed["type"], changed["id"], changed["action"]) == ("changed", "page", "saved")
    assert changed["cursor"]
    assert await post(cookie, opened.id, b"{not json") == 202
    assert (await opened.event())["code"] == "invalid"  # an error, on the stream


async def test_a_stream_of_nobody_logged_in_says_so_and_ends() -> None:
    stream = await open_stream(None)
    assert stream.status == 200
    assert await stream.event() == {"type": "closed", "code": CLOSE_NOT_LOGGED_IN}
    assert await stream.finishes()


async def test_logging_out_ends_the_stream(admin_user: User) -> None:
    client = Client()
    await sync_to_async(client.force_login)(admin_user)
    stream = await open_stream(client.cookies["sessionid"].value)
    await sync_to_async(client.logout)()
    assert await stream.next_of("closed") == {"type": "closed", "code": CLOSE_NOT_LOGGED_IN}
    assert await stream.finishes()


async def test_another_site_may_neither_open_nor_write_to_a_stream(
    cookie: str, opened: Stream
) -> None:
    foreign = await open_stream(cookie, (b"origin", b"http://evil.example"))
    assert foreign.status == 403
    assert (await open_stream(cookie, (b"sec-fetch-site", b"cross-site"))).status == 403
    subscribe = {"type": "subscribe", "id": "page", "model": "testapp.project"}
    assert await post(cookie, opened.id, subscribe, origin="http://evil.example") == 403
    assert await post(cookie, opened.id, subscribe, token=None) == 403  # no CSRF token
    assert await post(cookie, opened.id, subscribe, token="b" * 32) == 403  # not the cookie's
    assert await post(None, opened.id, subscribe) == 403  # nobody logged in


async def test_a_post_for_no_stream_or_too_large_is_refused(
    layer: str, cookie: str, opened: Stream
) -> None:
    subscribe = {"type": "subscribe", "id": "page", "model": "testapp.project"}
    assert await post(cookie, "not-a-stream", subscribe) == 400
    assert await post(cookie, "0" * 32, subscribe) == 410  # gone: the page opens another
    with override_settings(LIVE_ADMIN={"MAX_MESSAGE_BYTES": 64}):
        assert await post(cookie, opened.id, {**subscribe, "pad": "x" * 100}) == 413
    assert await post(cookie, opened.id, subscribe) == 202  # and the stream goes on
    assert (await opened.event())["type"] == "subscribed"


async def test_a_stream_takes_messages_only_from_its_own_session(
    cookie: str, opened: Stream
) -> None:
    other = await sync_to_async(make_user)("mallory")
    theirs = await sync_to_async(session_cookie)(other)
    subscribe = {"type": "subscribe", "id": "page", "model": "testapp.project"}
    assert await post(theirs, opened.id, subscribe) == 202  # passed on, and dropped there
    assert await post(cookie, opened.id, {"type": "ping"}) == 202
    assert await opened.event() == {"type": "pong"}  # the first message it took is its own


async def test_other_methods_are_not_allowed(cookie: str) -> None:
    from testproject.asgi import application

    comm = ApplicationCommunicator(application, scope("PUT", cookie, []))
    await comm.send_input({"type": "http.request", "body": b"", "more_body": False})
    assert (await comm.receive_output(TIMEOUT))["status"] == 405


async def test_a_quiet_stream_keeps_its_connection_alive(
    cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "KEEPALIVE_SECONDS", 0.05)
    stream = await open_stream(cookie)
    beats = [await stream.comm.receive_output(TIMEOUT) for _ in range(2)]
    assert [b["body"] for b in beats] == [b": keep-alive\n\n"] * 2  # comments: no event
    await stream.close()
