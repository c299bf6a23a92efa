"""The websocket protocol, permission checks and limits, through the project's ASGI stack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from unittest.mock import ANY

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from conftest import (
    RedisServer,
    communicator,
    make_user,
    redis_layers,
    session_cookie,
    subscribed_socket,
    until,
)
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings

from live_admin import protocol as groups
from live_admin.delivery.sender import get_layer, sender
from live_admin.protocol import (
    CLOSE_NOT_ALLOWED,
    CLOSE_NOT_LOGGED_IN,
    CLOSE_TOO_BIG,
    CLOSE_TOO_MANY_SOCKETS,
)
from live_admin.realtime import consumer, hub, socket
from testapp.admin import TicketAdmin
from testapp.models import Document, Order, Project, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5
PROJECTS = {"model": "testapp.project"}


async def open_socket(user: User | None, **kwargs: Any) -> WebsocketCommunicator:
    cookie = await sync_to_async(session_cookie)(user) if user else None
    comm = communicator(cookie, **kwargs)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    assert connected
    return comm


async def ask(comm: WebsocketCommunicator, message: Any) -> dict[str, Any]:
    await comm.send_to(text_data=message if isinstance(message, str) else json.dumps(message))
    return await comm.receive_json_from(timeout=TIMEOUT)


async def closed_with(comm: WebsocketCommunicator) -> int:
    output = await comm.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close"
    return output["code"]


async def still_usable(comm: WebsocketCommunicator) -> None:
    assert await ask(comm, {"type": "ping"}) == {"type": "pong"}


def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return sync_to_async(fn)(*args, **kwargs)


@pytest_asyncio.fixture
async def superuser_socket(admin_user: User) -> AsyncIterator[WebsocketCommunicator]:
    comm = await open_socket(admin_user)
    yield comm
    await comm.disconnect()


# -- connecting ----------------------------------------------------------------------------------


async def test_anonymous_is_refused() -> None:
    comm = await open_socket(None)
    assert await closed_with(comm) == CLOSE_NOT_LOGGED_IN
    assert running_hubs() == {}  # a refused socket starts no layer reader


async def test_non_staff_is_refused(transactional_db: None) -> None:
    user = await run(make_user, "plain", staff=False)
    comm = await open_socket(user)
    assert await closed_with(comm) == CLOSE_NOT_ALLOWED


async def test_inactive_is_refused(transactional_db: None) -> None:
    user = await run(make_user, "gone", active=False)
    comm = await open_socket(user)
    assert await closed_with(comm) in (CLOSE_NOT_LOGGED_IN, CLOSE_NOT_ALLOWED)


async def test_foreign_origin_is_refused(admin_user: User) -> None:
    cookie = await run(session_cookie, admin_user)
    for origin in ("http://evil.example", None):
        comm = communicator(cookie, origin=origin)
        connected, _ = await comm.connect(timeout=TIMEOUT)
        assert not connected


async def test_refused_socket_ignores_messages() -> None:
    comm = await open_socket(None)
    assert await closed_with(comm) == CLOSE_NOT_LOGGED_IN
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    assert await comm.receive_nothing(timeout=0.1)


# -- messages ------------------------------------------------------------------------------------


async def test_ping(superuser_socket: WebsocketCommunicator) -> None:
    await still_usable(superuser_socket)


@pytest.mark.parametrize(
    ("message", "reply_id"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ({"type": "dance"}, None),
        ({"id": "a"}, "a"),
        ({"type": "subscribe"}, None),
        ({"type": "subscribe", "id": 7.5, "model": "testapp.ticket"}, None),
        ({"type": "subscribe", "id": "x" * 65, "model": "testapp.ticket"}, None),
        ({"type": "subscribe", "id": "a"}, "a"),
        ({"type": "subscribe", "id": "a", "model": ["testapp.ticket"]}, "a"),
        ({"type": "subscribe", "id": "a", "model": "testapp.ticket", "pk": "1", "group": {}}, "a"),
        ({"type": "subscribe", "id": "a", "model": "testapp.ticket", "group": "project"}, "a"),
        ({"type": "subscribe", "id": "a", "model": "testapp.ticket", "group": {"value": "1"}}, "a"),
        (
            {
                "type": "subscribe",
                "id": "a",
                "model": "testapp.ticket",
                "group": {"field": "title"},
            },
            "a",
        ),
        (
            {
                "type": "subscribe",
                "id": "a",
                "model": "testapp.ticket",
                "group": {"field": "project", "value": "x"},
            },
            "a",
        ),
        ({"type": "unsubscribe"}, None),
    ],
)
async def test_invalid_messages_get_an_error_and_the_socket_stays(
    superuser_socket: WebsocketCommunicator, message: Any, reply_id: str | None
) -> None:
    reply = await ask(superuser_socket, message)
    assert reply["type"] == "error"
    assert reply["code"] == "invalid"
    assert reply["id"] == reply_id
    assert reply["message"]
    await still_usable(superuser_socket)


async def test_binary_frames_are_invalid(superuser_socket: WebsocketCommunicator) -> None:
    await superuser_socket.send_to(bytes_data=b'{"type": "ping"}')
    reply = await superuser_socket.receive_json_from(timeout=TIMEOUT)
    assert reply["code"] == "invalid"
    await still_usable(superuser_socket)


async def test_unknown_and_unregistered_models_are_indistinguishable(
    superuser_socket: WebsocketCommunicator,
) -> None:
    replies = []
    for i, label in enumerate(
        ["nope.nothing", "testapp.secret", "testapp.tag", "badlabel", "auth.group"]
    ):
        reply = await ask(superuser_socket, {"type": "subscribe", "id": f"s{i}", "model": label})
        replies.append({k: v for k, v in reply.items() if k != "id"})
    assert all(r == replies[0] for r in replies)
    assert replies[0]["code"] == "not_found"


async def test_unsubscribe_unknown_id(superuser_socket: WebsocketCommunicator) -> None:
    reply = await ask(superuser_socket, {"type": "unsubscribe", "id": "ghost"})
    assert (reply["code"], reply["id"]) == ("not_found", "ghost")


async def test_duplicate_id(superuser_socket: WebsocketCommunicator) -> None:
    sub = {"type": "subscribe", "id": "a", "model": "testapp.ticket"}
    assert (await ask(superuser_socket, sub))["type"] == "subscribed"
    assert (await ask(superuser_socket, sub))["code"] == "invalid"


async def test_a_socket_a_browser_s_tabs_share_has_all_their_allowance(
    admin_user: User,
) -> None:
    """``?shared=1``: as many subscriptions, and messages a second, as the user's sockets
    together may have; a plain socket keeps its own."""
    limits = {"MAX_SUBSCRIPTIONS": 2, "MAX_SOCKETS_PER_USER": 3, "RATE_LIMIT": 2}
    with override_settings(LIVE_ADMIN=limits):
        for query, held in (("?shared=1", 6), ("", 2)):
            comm = await open_socket(admin_user, query=query)
            replies = []
            for i in range(held + 1):
                sub = {"type": "subscribe", "id": f"t{i}:page", "model": "testapp.ticket"}
                replies.append(await ask(comm, sub))
            assert [r["type"] for r in replies] == ["subscribed"] * held + ["error"], query
            assert replies[-1]["code"] == "too_many"
            await comm.disconnect()


async def test_too_many_subscriptions(superuser_socket: WebsocketCommunicator) -> None:
    with override_settings(LIVE_ADMIN={"MAX_SUBSCRIPTIONS": 2}):
        for i in range(2):
            reply = await ask(
                superuser_socket, {"type": "subscribe", "id": f"s{i}", "model": "testapp.ticket"}
            )
            assert reply == {"type": "subscribed", "id": f"s{i}", "sockets": ANY, "cursor": ANY}
        reply = await ask(
            superuser_socket, {"type": "subscribe", "id": "s2", "model": "testapp.ticket"}
        )
        assert (reply["code"], reply["id"]) == ("too_many", "s2")
        assert await ask(superuser_socket, {"type": "unsubscribe", "id": "s0"}) == {
            "type": "unsubscribed",
            "id": "s0",
        }
        reply = await ask(
            superuser_socket, {"type": "subscribe", "id": "s2", "model": "testapp.ticket"}
        )
        assert reply["type"] == "subscribed"


async def test_rate_limit(admin_user: User) -> None:
    with override_settings(LIVE_ADMIN={"RATE_LIMIT": 1}):
        comm = await open_socket(admin_user)
        for _ in range(6):
            await comm.send_to(text_data=json.dumps({"type": "ping"}))
        replies = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(6)]
        assert replies[:2] == [{"type": "pong"}] * 2  # the burst allowance
        assert {r.get("code") for r in replies[2:]} == {"rate_limited"}
        # the socket recovers as the bucket refills (1 a second): poll for it, up to 5 s
        for _ in range(50):
            reply = await ask(comm, {"type": "ping"})
            if reply == {"type": "pong"}:
                break
            await asyncio.sleep(0.1)
        assert reply == {"type": "pong"}
        await comm.disconnect()


async def test_sockets_per_user_cap(admin_user: User) -> None:
    with override_settings(LIVE_ADMIN={"MAX_SOCKETS_PER_USER": 2}):
        first, second = await open_socket(admin_user), await open_socket(admin_user)
        await still_usable(second)
        third = await open_socket(admin_user)
        assert await closed_with(third) == CLOSE_TOO_MANY_SOCKETS
        await first.disconnect()
        fourth = await open_socket(admin_user)  # a place came free
        await still_usable(fourth)
        for comm in (second, fourth):
            await comm.disconnect()


async def test_oversized_message_closes_4009(admin_user: User) -> None:
    with override_settings(LIVE_ADMIN={"MAX_MESSAGE_BYTES": 64}):
        comm = await open_socket(admin_user)
        await still_usable(comm)
        await comm.send_to(text_data=json.dumps({"type": "ping", "pad": "é" * 40}))
        assert await closed_with(comm) == CLOSE_TOO_BIG


async def test_errors_never_leak_internals(
    superuser_socket: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> bool:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(TicketAdmin, "has_view_permission", broken)
    reply = await ask(superuser_socket, {"type": "subscribe", "id": "a", "model": "testapp.ticket"})
    assert reply["code"] == "server_error"
    assert "secret" not in json.dumps(reply)
    assert "Traceback" not in json.dumps(reply)
    await still_usable(superuser_socket)


# -- permissions ---------------------------------------------------------------------------------


async def test_staff_without_view_permission_is_forbidden(transactional_db: None) -> None:
    user = await run(make_user, "noperm")
    comm = await open_socket(user)
    reply = await ask(comm, {"type": "subscribe", "id": "a", "model": "testapp.ticket"})
    assert (reply["code"], reply["id"]) == ("forbidden", "a")
    await comm.disconnect()


@pytest.fixture
def tenants(viewer: User) -> dict[str, Any]:
    mine = Project.objects.create(name="Mine", owner=viewer)
    theirs = Project.objects.create(name="Theirs")
    return {
        "mine": mine,
        "theirs": theirs,
        "my_ticket": Ticket.objects.create(project=mine, title="a"),
        "their_ticket": Ticket.objects.create(project=theirs, title="b"),
    }


async def test_row_filtered_admin(viewer: User, tenants: dict[str, Any]) -> None:
    comm = await open_socket(viewer)
    cases = [
        ({"pk": str(tenants["my_ticket"].pk)}, "subscribed"),
        ({"pk": str(tenants["their_ticket"].pk)}, "not_found"),
        ({"pk": "999999"}, "not_found"),
        ({"pk": "not-an-int"}, "not_found"),
        ({"group": {"field": "project", "value": str(tenants["mine"].pk)}}, "subscribed"),
        ({"group": {"field": "project", "value": tenants["mine"].pk}}, "subscribed"),
        ({"group": {"field": "project", "value": str(tenants["theirs"].pk)}}, "forbidden"),
        ({"group": {"field": "project", "value": None}}, "forbidden"),
    ]
    for i, (extra, expected) in enumerate(cases):
        reply = await ask(
            comm, {"type": "subscribe", "id": f"s{i}", "model": "testapp.ticket", **extra}
        )
        assert reply["type" if expected == "subscribed" else "code"] == expected, (extra, reply)
    await comm.disconnect()


async def test_view_only_user_gets_events(viewer: User) -> None:
    project = await run(Project.objects.create, name="P")
    comm = await open_socket(viewer)
    assert (await ask(comm, {"type": "subscribe", "id": "p", "model": "testapp.project"}))[
        "type"
    ] == "subscribed"
    project.name = "Q"
    await run(project.save)
    event = await comm.receive_json_from(timeout=TIMEOUT)
    assert event == {
        "type": "changed",
        "id": "p",
        "model": "testapp.project",
        "action": "saved",
        "count": 1,
        "origin": None,
        "cursor": ANY,
    }
    await comm.disconnect()


# -- events --------------------------------------------------------------------------------------


async def test_model_object_and_group_events(superuser_socket: WebsocketCommunicator) -> None:
    project = await run(Project.objects.create, name="P")
    ticket = await run(Ticket.objects.create, project=project, title="T")
    subs = [
        {"id": "m", "model": "testapp.ticket"},
        {"id": "o", "model": "testapp.ticket", "pk": str(ticket.pk)},
        {
            "id": "g",
            "model": "testapp.ticket",
            "group": {"field": "project", "value": str(project.pk)},
        },
    ]
    for sub in subs:
        assert (await ask(superuser_socket, {"type": "subscribe", **sub}))["type"] == "subscribed"
    ticket.status = "done"
    await run(ticket.save)
    events = {}
    for _ in range(3):
        event = await superuser_socket.receive_json_from(timeout=TIMEOUT)
        events[event["id"]] = event
    assert events["m"] == {
        "type": "changed",
        "id": "m",
        "model": "testapp.ticket",
        "action": "saved",
        "count": 1,
        "origin": None,
        "cursor": ANY,
    }
    assert events["g"] == {**events["m"], "id": "g"}  # one change: one cursor
    obj = events["o"]
    assert obj["cursor"] == events["m"]["cursor"]
    assert obj["pk"] == str(ticket.pk)
    assert obj["fields"] == ["status"]
    assert obj["by"] is None
    assert obj["at"].endswith("+00:00")
    assert "done" not in json.dumps(events)


async def test_unsubscribe_stops_events(superuser_socket: WebsocketCommunicator) -> None:
    project = await run(Project.objects.create, name="P")
    for sub_id in ("a", "b"):
        sub = {"type": "subscribe", "id": sub_id, "model": "testapp.project", "pk": str(project.pk)}
        assert (await ask(superuser_socket, sub))["type"] == "subscribed"
    assert await ask(superuser_socket, {"type": "unsubscribe", "id": "a"}) == {
        "type": "unsubscribed",
        "id": "a",
    }
    project.name = "Q"
    await run(project.save)
    event = await superuser_socket.receive_json_from(timeout=TIMEOUT)
    assert event["id"] == "b"
    await still_usable(superuser_socket)  # nothing for "a" came between


async def test_notify_reaches_object_and_group_subscribers(
    superuser_socket: WebsocketCommunicator,
) -> None:
    import live_admin

    doc = await run(Document.objects.create, title="D", shelf="Ärger")
    subs = [
        {"id": "o", "model": "testapp.document", "pk": str(doc.pk)},
        {"id": "g", "model": "testapp.document", "group": {"field": "shelf", "value": "Ärger"}},
    ]
    for sub in subs:
        assert (await ask(superuser_socket, {"type": "subscribe", **sub}))["type"] == "subscribed"
    await run(live_admin.notify, Document)
    events = {}
    for _ in range(2):
        event = await superuser_socket.receive_json_from(timeout=TIMEOUT)
        events[event["id"]] = event
    assert events["o"]["action"] == "bulk"
    assert events["o"]["pk"] == str(doc.pk)
    assert events["o"]["fields"] == []
    assert events["g"]["count"] is None


async def test_group_move_reaches_both_groups(superuser_socket: WebsocketCommunicator) -> None:
    ann = await run(Order.objects.create, customer="Ann")
    assert await asyncio.to_thread(sender.flush, TIMEOUT)  # Ann's creation is out, unheard
    for status in ("new", "shipped"):
        sub = {
            "type": "subscribe",
            "id": status,
            "model": "testapp.order",
            "group": {"field": "status", "value": status},
        }
        assert (await ask(superuser_socket, sub))["type"] == "subscribed"
    ann.status = "shipped"
    await run(ann.save)
    ids = {(await superuser_socket.receive_json_from(timeout=TIMEOUT))["id"] for _ in range(2)}
    assert ids == {"new", "shipped"}


# -- revocation ----------------------------------------------------------------------------------


async def test_logout_closes_the_sessions_sockets(admin_user: User) -> None:
    client = Client()
    await run(client.force_login, admin_user)
    comm = communicator(client.cookies["sessionid"].value)
    assert (await comm.connect(timeout=TIMEOUT))[0]
    await still_usable(comm)
    await run(client.logout)
    assert await closed_with(comm) == CLOSE_NOT_LOGGED_IN


def _deactivate(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _change_password(user: User) -> None:
    user.set_password("changed")
    user.save()


def _drop_staff(user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_staff=False)


@pytest.mark.parametrize(
    ("revoke", "code"),
    [
        (_deactivate, CLOSE_NOT_LOGGED_IN),
        (_change_password, CLOSE_NOT_LOGGED_IN),
        (_drop_staff, CLOSE_NOT_ALLOWED),
    ],
)
async def test_revocation_closes_within_recheck(
    viewer: User, revoke: Callable[[User], None], code: int
) -> None:
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = await open_socket(viewer)
        await still_usable(comm)
        await run(revoke, viewer)
        assert await closed_with(comm) == code


async def test_rechecks_go_on_while_the_socket_is_open(
    viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each re-check schedules the next: a revocation long after the socket opened still
    closes it."""
    done: list[consumer.LiveAdminConsumer] = []
    recheck = consumer.LiveAdminConsumer.recheck

    async def counted(self: consumer.LiveAdminConsumer) -> None:
        await recheck(self)
        done.append(self)

    monkeypatch.setattr(consumer.LiveAdminConsumer, "recheck", counted)
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = await open_socket(viewer)
        await until(lambda: len(done) >= 3, TIMEOUT, what="three re-checks")
        socket = done[-1]  # between re-checks it holds a timer, not the last one's done task
        await until(lambda: socket.recheck_task is None, TIMEOUT, what="no task held")
        await run(_deactivate, viewer)
        assert await closed_with(comm) == CLOSE_NOT_LOGGED_IN


async def test_losing_view_permission_ends_subscriptions(viewer: User) -> None:
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = await open_socket(viewer)
        for sub_id, label in (("t", "testapp.ticket"), ("p", "testapp.project")):
            assert (await ask(comm, {"type": "subscribe", "id": sub_id, "model": label}))[
                "type"
            ] == "subscribed"
        perm = await run(Permission.objects.get, codename="view_ticket")
        await run(viewer.user_permissions.remove, perm)
        reply = await comm.receive_json_from(timeout=TIMEOUT)
        assert (reply["type"], reply["id"], reply["code"]) == ("error", "t", "forbidden")
        await run(Project.objects.create, name="still live")
        event = await comm.receive_json_from(timeout=TIMEOUT)
        assert (event["type"], event["id"]) == ("changed", "p")
        await comm.disconnect()


async def test_object_level_denial_is_forbidden(viewer: User) -> None:
    private = await run(Document.objects.create, title="private notes")
    public = await run(Document.objects.create, title="public notes")
    comm = await open_socket(viewer)
    for doc, expected in ((private, "forbidden"), (public, None)):
        reply = await ask(
            comm,
            {"type": "subscribe", "id": doc.title, "model": "testapp.document", "pk": str(doc.pk)},
        )
        assert reply.get("code") == expected
    await comm.disconnect()


async def test_a_failing_recheck_is_logged_and_the_socket_stays(
    admin_user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = await open_socket(admin_user)
        sub = {"type": "subscribe", "id": "t", "model": "testapp.ticket"}
        assert (await ask(comm, sub))["type"] == "subscribed"

        def broken(*args: Any) -> bool:
            raise RuntimeError("permission backend down")

        monkeypatch.setattr(TicketAdmin, "has_view_permission", broken)
        await until(lambda: any("re-checking" in r.getMessage() for r in caplog.records))
    await still_usable(comm)
    await comm.disconnect()


async def test_session_now_of_another_user_closes(admin_user: User, viewer: User) -> None:
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    cookie = await run(session_cookie, admin_user)
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = communicator(cookie)
        assert (await comm.connect(timeout=TIMEOUT))[0]

        def switch() -> None:
            session = SessionStore(cookie)
            session[SESSION_KEY] = str(viewer.pk)
            session[HASH_SESSION_KEY] = viewer.get_session_auth_hash()
            session.save()

        await run(switch)
        assert await closed_with(comm) == CLOSE_NOT_LOGGED_IN


# -- one hub per process ----------------------------------------------------------------------


def running_hubs() -> dict[int, hub.Hub]:
    return dict(hub._hubs.get(asyncio.get_running_loop(), {}))


async def hub_gone(layer: RedisChannelLayer) -> None:
    """The hub's reader ended with its last socket, leaving no buffer and no hub behind."""
    await until(lambda: layer.receive_count == 0, TIMEOUT, what="the reader ended")
    assert dict(layer.receive_buffer) == {}
    assert running_hubs() == {}


async def test_sockets_share_one_membership_and_leave_nothing_behind(
    redis_server: RedisServer, admin_user: User
) -> None:
    redis_server.command("FLUSHALL")
    with override_settings(CHANNEL_LAYERS=redis_layers(redis_server.url)):
        comms = [await subscribed_socket(admin_user, **PROJECTS) for _ in range(5)]
        assert redis_server.group_size() == 1  # the process's hub, not one member per socket
        await run(Project.objects.create, name="seen by all")
        for comm in comms:
            assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "changed"
        for comm in comms[:4]:
            await comm.disconnect(timeout=TIMEOUT)
        assert redis_server.group_size() == 1  # still needed by the last one
        await run(Project.objects.create, name="seen by the last one")
        assert (await comms[4].receive_json_from(timeout=TIMEOUT))["type"] == "changed"
        await comms[4].disconnect(timeout=TIMEOUT)
        assert redis_server.group_size() == 0
        layer = get_layer()
        assert isinstance(layer, RedisChannelLayer)
        await hub_gone(layer)


async def test_many_sockets_closing_at_once_leave_their_groups(
    redis_server: RedisServer, admin_user: User
) -> None:
    # Each leave holds a pool connection while it runs; more groups left at once than the pool
    # holds (a proxy dropping every change form's socket) must queue for connections, not fail.
    redis_server.command("FLUSHALL")
    pool = hub.MAX_LAYER_CALLS + 10
    layers = redis_layers(f"{redis_server.url}?max_connections={pool}")
    projects = [await run(Project.objects.create, name=f"form {i}") for i in range(3 * pool)]
    with override_settings(CHANNEL_LAYERS=layers, LIVE_ADMIN={"MAX_SOCKETS_PER_USER": 1000}):
        comms = [
            await subscribed_socket(admin_user, model="testapp.project", pk=str(project.pk))
            for project in projects
        ]
        assert sum(b".o.v" in key for key in group_keys(redis_server)) == len(comms)
        await asyncio.gather(*(comm.disconnect(timeout=TIMEOUT) for comm in comms))
        assert group_keys(redis_server) == []
        assert running_hubs() == {}
        comm = await subscribed_socket(admin_user, **PROJECTS)  # the process still hears changes
        await run(Project.objects.create, name="after the crowd left")
        assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "changed"
        await comm.disconnect(timeout=TIMEOUT)


def group_keys(redis_server: RedisServer) -> list[bytes]:
    reply = redis_server.command("KEYS", "asgi:group:*")
    return [line for line in reply.split(b"\r\n") if line.startswith(b"asgi:group:")]


class HeldLeaveLayer(RedisChannelLayer):
    """channels-redis whose group leaves wait until the test lets them go."""

    leaving: asyncio.Event
    go: asyncio.Event

    async def group_discard(self, group: str, channel: str) -> None:
        type(self).leaving.set()
        await type(self).go.wait()
        await super().group_discard(group, channel)


@pytest_asyncio.fixture
async def held_leaves(redis_server: RedisServer) -> AsyncIterator[None]:
    """Live admin on HeldLeaveLayer; leaves are let go at the end whatever happened."""
    redis_server.command("FLUSHALL")
    HeldLeaveLayer.leaving, HeldLeaveLayer.go = asyncio.Event(), asyncio.Event()
    layers = redis_layers(redis_server.url, "test_consumers.HeldLeaveLayer")
    with override_settings(CHANNEL_LAYERS=layers):
        yield
    HeldLeaveLayer.go.set()


@pytest.mark.usefixtures("held_leaves")
async def test_a_join_during_the_last_leave_keeps_the_group(
    redis_server: RedisServer, admin_user: User
) -> None:
    # The last socket of a group leaves it in the layer; a socket asking for the group while
    # that leave is under way must end up joined, not dropped by the leave.
    stays = await subscribed_socket(admin_user, model="testapp.ticket")  # keeps the hub up
    leaving = await subscribed_socket(admin_user, **PROJECTS)
    await leaving.send_json_to({"type": "unsubscribe", "id": "s"})
    await asyncio.wait_for(HeldLeaveLayer.leaving.wait(), TIMEOUT)
    joining = await open_socket(admin_user)
    await joining.send_json_to({"type": "subscribe", "id": "j", **PROJECTS})
    assert await joining.receive_nothing(0.2)  # its join waits for the leave
    HeldLeaveLayer.go.set()
    assert await joining.receive_json_from(timeout=TIMEOUT) == {
        "type": "subscribed",
        "id": "j",
        "sockets": ANY,
        "cursor": ANY,
    }
    assert await leaving.receive_json_from(timeout=TIMEOUT) == {
        "type": "unsubscribed",
        "id": "s",
    }
    assert redis_server.group_size() == 1
    await run(Project.objects.create, name="heard by the one that joined")
    event = await joining.receive_json_from(timeout=TIMEOUT)
    assert (event["type"], event["id"]) == ("changed", "j")
    assert await leaving.receive_nothing(0.2)
    for comm in (stays, leaving, joining):
        await comm.disconnect(timeout=TIMEOUT)


@pytest.mark.usefixtures("held_leaves")
async def test_a_socket_cancelled_while_closing_still_leaves_and_stops_the_reader(
    redis_server: RedisServer, admin_user: User
) -> None:
    # daphne cancels an application still closing after application_close_timeout (thousands
    # of sockets closing at once); its groups must still be left and the hub's reader ended.
    comm = await subscribed_socket(admin_user, **PROJECTS)
    await comm.send_input({"type": "websocket.disconnect", "code": 1001})
    await asyncio.wait_for(HeldLeaveLayer.leaving.wait(), TIMEOUT)
    comm.future.cancel()
    await asyncio.wait([comm.future], timeout=TIMEOUT)
    assert comm.future.cancelled()
    layer = get_layer()
    assert isinstance(layer, HeldLeaveLayer)
    HeldLeaveLayer.go.set()
    await until(lambda: redis_server.group_size() == 0, TIMEOUT, what="the group left")
    await hub_gone(layer)


async def test_the_hub_drops_what_is_not_a_live_admin_event(
    redis_layer: RedisServer, admin_user: User
) -> None:
    comm = await subscribed_socket(admin_user, **PROJECTS)
    (running,) = running_hubs().values()
    channel = await running.channel  # type: ignore[misc]
    layer = get_layer()
    await layer.send(channel, {"type": "something.else", "group": groups.model_group("x.y")})
    await layer.send(channel, {"type": "live_admin.changed", "group": "live_admin.unheard"})
    await layer.send(channel, {"type": "live_admin.changed"})
    await run(Project.objects.create, name="after the strays")
    event = await comm.receive_json_from(timeout=TIMEOUT)
    assert (event["type"], event["model"]) == ("changed", "testapp.project")
    assert await comm.receive_nothing(0.2)
    await comm.disconnect(timeout=TIMEOUT)


async def test_a_socket_that_falls_behind_gets_one_resync(
    superuser_socket: WebsocketCommunicator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Events queue per socket until its loop takes them; past MAX_QUEUED_EVENTS the backlog is
    # replaced by a resync (the page reloads what it shows) instead of growing.
    monkeypatch.setattr(socket, "MAX_QUEUED_EVENTS", 3)
    assert await ask(superuser_socket, {"type": "subscribe", "id": "p", **PROJECTS}) == {
        "type": "subscribed",
        "id": "p",
        "sockets": ANY,
        "cursor": ANY,
    }
    (running,) = running_hubs().values()
    group = groups.model_group("testapp.project")
    for count in range(1, 6):  # handed over in one go, before the socket's loop runs
        await running.route(
            {
                "type": "live_admin.changed",
                "group": group,
                "model": "testapp.project",
                "action": "saved",
                "count": count,
            }
        )
    received = [await superuser_socket.receive_json_from(timeout=TIMEOUT) for _ in range(3)]
    assert [m["type"] for m in received] == ["resync", "changed", "changed"]
    assert [m["count"] for m in received[1:]] == [4, 5]
    assert await superuser_socket.receive_nothing(0.2)


async def test_subscribed_tells_how_many_sockets_the_process_holds(admin_user: User) -> None:
    first = await subscribed_socket(admin_user, **PROJECTS)
    second = communicator(await sync_to_async(session_cookie)(admin_user))
    assert (await second.connect(timeout=TIMEOUT))[0]
    reply = await ask(second, {"type": "subscribe", "id": "t", **PROJECTS})
    assert reply == {"type": "subscribed", "id": "t", "sockets": 2, "cursor": ANY}
    for comm in (first, second):
        await comm.disconnect(timeout=TIMEOUT)
