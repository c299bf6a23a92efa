"""Catch-up from a cursor: the history each model keeps, and what a socket tells a page that
says where it was (its subscription's changes, its watched rows'), or that it must check all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from conftest import RedisServer, communicator, make_user, redis_layers, session_cookie, wait_for
from django.contrib.auth.models import Permission, User
from django.test import override_settings

from live_admin.delivery import history as kept
from live_admin.delivery.sender import sender
from live_admin.realtime import layouts, replay
from live_admin.realtime.permissions import Subscription
from testapp.models import Order

TIMEOUT = 5
ORDERS = "testapp.order"


def change(label: str, pk: str, fields: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The messages of one saved object, as capture makes them (model and object groups)."""
    model = f"live_admin.v{label.replace('.', '-')}"
    part = {"action": "saved", "fields": fields, "by": None, "origin": None}
    summary = {"type": "live_admin.changed", "model": label, "action": "saved", "count": 1}
    summary |= {"origin": None, "objects": {pk: part}, "at": "t", "group": model}
    one = {"type": "live_admin.changed", "model": label, "pk": pk, **part, "at": "t"}
    return [(model, summary), (f"{model}.o.v{pk}", {**one, "group": f"{model}.o.v{pk}"})]


# -- the history, in memory and in Redis ------------------------------------------------------


@pytest.fixture
def redis_history(redis_server: RedisServer) -> Iterator[kept.History]:
    redis_server.command("FLUSHALL")
    with override_settings(CHANNEL_LAYERS=redis_layers(redis_server.url)):
        kept.history.cache_clear()
        yield kept.history()
    kept.history.cache_clear()


@pytest.fixture(params=["memory", "redis"])
def history(request: pytest.FixtureRequest) -> kept.History:
    if request.param == "memory":
        return kept.Local(size=3)
    history: kept.History = request.getfixturevalue("redis_history")
    assert isinstance(history, kept.Streams)
    history.size = 3
    return history


def test_a_cursor_reads_what_came_after_it(history: kept.History) -> None:
    start = history.head(ORDERS)
    assert history.read(ORDERS, start) == []
    first = history.append({ORDERS: change(ORDERS, "1", ["status"])})[ORDERS]
    second = history.append({ORDERS: change(ORDERS, "2", ["customer"])})[ORDERS]
    assert history.head(ORDERS) == second
    found = history.read(ORDERS, start)
    assert found is not None
    assert [cursor for cursor, _ in found] == [first, second]
    assert found[1][1] == change(ORDERS, "2", ["customer"])
    assert history.read(ORDERS, second) == []


def test_a_cursor_past_the_kept_entries_or_never_given_reads_nothing(
    history: kept.History,
) -> None:
    start = history.head(ORDERS)
    cursors = [history.append({ORDERS: change(ORDERS, str(n), [])})[ORDERS] for n in range(4)]
    assert history.read(ORDERS, start) is None  # size 3: the first one is gone
    assert history.read(ORDERS, cursors[1]) is not None
    for forged in ("", "x", "9" * 30, "1-2-3", cursors[-1] + "0", "99999999999999-0"):
        assert history.read(ORDERS, forged) is None, forged


def test_an_entry_too_large_is_kept_as_a_gap(history: kept.History) -> None:
    start = history.head(ORDERS)
    many = change(ORDERS, "1", ["f" * 100] * (kept.MAX_ENTRY_BYTES // 100))
    history.append({ORDERS: many})
    assert history.read(ORDERS, start) == [(history.head(ORDERS), None)]


def test_a_history_of_another_run_knows_no_cursor() -> None:
    before = kept.Local(size=10)
    cursor = before.append({ORDERS: change(ORDERS, "1", [])})[ORDERS]
    assert kept.Local(size=10).read(ORDERS, cursor) is None  # the process restarted


def test_a_redis_restarted_empty_knows_no_cursor(redis_history: kept.History) -> None:
    cursor = redis_history.append({ORDERS: change(ORDERS, "1", [])})[ORDERS]
    redis_history.append({ORDERS: change(ORDERS, "2", [])})
    assert redis_history.read(ORDERS, cursor) is not None
    assert isinstance(redis_history, kept.Streams)
    redis_history._client().flushall()  # as a Redis that restarted with nothing saved
    # A stream's ids are times: a restart takes more than the millisecond that a new stream
    # would need to give an old id again.
    wait_for(lambda: time.time() * 1000 > int(cursor.split("-")[0]) + 1)
    redis_history.append({ORDERS: change(ORDERS, "3", [])})
    assert redis_history.read(ORDERS, cursor) is None


def test_a_failed_append_leaves_a_gap_before_the_next_entry(
    redis_history: kept.History, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(redis_history, kept.Streams)
    cursor = redis_history.head(ORDERS)

    def unreachable() -> Any:
        raise ConnectionError("Redis is away")

    with monkeypatch.context() as patched:
        patched.setattr(redis_history, "_client", unreachable)
        assert redis_history.append({ORDERS: change(ORDERS, "1", [])}) == {}  # never raises
    assert redis_history.append({ORDERS: change(ORDERS, "1", [])}) == {}  # paused a moment
    redis_history.paused_until = 0
    last = redis_history.append({ORDERS: change(ORDERS, "2", [])})[ORDERS]
    found = redis_history.read(ORDERS, cursor)
    assert found is not None
    assert [entry for _, entry in found] == [None, change(ORDERS, "2", [])]
    assert found[-1][0] == last
    assert redis_history.read(ORDERS, last) == []  # after the gap: good again
    redis_history.append({ORDERS: change(ORDERS, "3", [])})
    assert [entry for _, entry in redis_history.read(ORDERS, last) or []] == [
        change(ORDERS, "3", [])
    ]


def test_history_zero_keeps_nothing() -> None:
    with override_settings(LIVE_ADMIN={"HISTORY": 0}):
        assert isinstance(kept.history(), kept.Off)
        assert kept.stamp(change(ORDERS, "1", [])) == change(ORDERS, "1", [])
        assert kept.history().head(ORDERS) == ""
    kept.history.cache_clear()


def test_a_history_that_fails_leaves_the_messages_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(entries: Any) -> dict[str, str]:
        raise OSError("disk on fire")

    monkeypatch.setattr(kept.history(), "append", broken)
    assert kept.stamp(change(ORDERS, "1", [])) == change(ORDERS, "1", [])


# -- what a page is told ------------------------------------------------------------------------


def subscription(pk: str | None = None) -> Subscription:
    model = f"live_admin.v{ORDERS.replace('.', '-')}"
    groups = (model,) if pk is None else (f"{model}.o.v{pk}", f"{model}.o_")
    return Subscription("page", ORDERS, pk, None, None, groups)


def test_a_page_is_told_what_its_subscription_missed_and_nothing_else() -> None:
    entries = [("c1", change(ORDERS, "1", ["status"])), ("c2", change(ORDERS, "2", ["notes"]))]
    answer, told = replay.for_subscription(entries, subscription("2"), {})
    assert answer == {"replay": "ok"}
    assert [(m["pk"], m["fields"], m["cursor"], m["replayed"]) for m in told] == [
        ("2", ["notes"], "c2", True)
    ]
    answer, told = replay.for_subscription([("c1", None), *entries], subscription("2"), {})
    assert (answer, told) == ({"replay": "whole"}, [])
    assert replay.for_subscription(None, subscription(), {}) == ({"replay": "whole"}, [])


def test_more_than_a_page_can_take_is_one_whole_check() -> None:
    entries = [(f"c{n}", change(ORDERS, "1", [])) for n in range(replay.MAX_REPLAYED + 1)]
    assert replay.for_subscription(entries, subscription(), {}) == ({"replay": "whole"}, [])


def test_a_watch_is_told_its_rows_changes_in_place_or_not() -> None:
    layout = frozenset({"status"})
    entries = [("c1", change(ORDERS, "1", ["customer"])), ("c2", change(ORDERS, "2", ["status"]))]
    watches = {"rows": {(ORDERS, "1"): None, (ORDERS, "2"): None}}
    answer, told = replay.for_watch(entries, ORDERS, watches, {"rows": layout})
    assert answer == {"replay": "ok"}
    assert [(m["id"], m["pk"], m["in_place"], m["cursor"]) for m in told] == [
        ("rows", "1", True, "c1"),
        ("rows", "2", False, "c2"),
    ]


@pytest.mark.parametrize("since", [3, ["c"], "c" * 65])
def test_a_cursor_that_is_no_cursor_is_invalid(since: Any) -> None:
    with pytest.raises(replay.Invalid):
        replay.since_of({"since": since})


# -- through the socket -------------------------------------------------------------------------


async def receive(comm: WebsocketCommunicator) -> dict[str, Any]:
    return await comm.receive_json_from(timeout=TIMEOUT)


async def connected(user: User) -> WebsocketCommunicator:
    comm = communicator(await sync_to_async(session_cookie)(user))
    assert (await comm.connect(timeout=TIMEOUT))[0]
    return comm


async def subscribe(comm: WebsocketCommunicator, **sub: Any) -> dict[str, Any]:
    await comm.send_json_to({"type": "subscribe", "id": "page", "model": ORDERS, **sub})
    return await receive(comm)


async def saved(pk: int, **values: Any) -> None:
    def save() -> None:
        obj = Order.objects.get(pk=pk)
        for name, value in values.items():
            setattr(obj, name, value)
        obj.save()

    await sync_to_async(save)()
    assert await asyncio.to_thread(sender.flush, TIMEOUT)


async def away_and_back(
    user: User, change_while_away: Any, **sub: Any
) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """A page subscribed, its socket lost, a change made meanwhile, and the page back."""
    comm = await connected(user)
    cursor = (await subscribe(comm, **sub))["cursor"]
    assert cursor
    await comm.disconnect()
    await change_while_away()
    comm = await connected(user)
    return comm, await subscribe(comm, since=cursor, **sub)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("layer", ["memory", "redis"])
async def test_a_change_form_that_was_away_is_told_only_its_objects_change(
    admin_user: User, layer: str, request: pytest.FixtureRequest
) -> None:
    if layer == "redis":
        request.getfixturevalue("redis_layer")
    kept.history.cache_clear()
    order, other = await sync_to_async(lambda: [Order.objects.create(customer=c) for c in "ab"])()

    async def meanwhile() -> None:
        await saved(order.pk, customer="Ada")
        await saved(other.pk, customer="Bob")

    comm, answer = await away_and_back(admin_user, meanwhile, pk=str(order.pk))
    assert answer["replay"] == "ok"
    told = await receive(comm)
    assert (told["type"], told["pk"], told["fields"], told["replayed"]) == (
        "changed",
        str(order.pk),
        ["customer"],
        True,
    )
    assert told["cursor"] not in ("", answer["cursor"])  # the page's newest: the other order's
    assert await comm.receive_nothing(0.2)  # not the other order's
    await saved(order.pk, customer="Ada L.")  # and live again, with the next cursor
    live = await receive(comm)
    assert live["cursor"] not in (told["cursor"], "")
    assert "replayed" not in live
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_watch_that_says_its_cursor_is_told_its_rows_changes(admin_user: User) -> None:
    order, other = await sync_to_async(lambda: [Order.objects.create(customer=c) for c in "ab"])()
    layout = layouts.layout_token(frozenset({"status", "id"}), ORDERS)
    comm = await connected(admin_user)
    cursor = (await subscribe(comm, layout=layout))["cursor"]
    await comm.disconnect()
    await saved(order.pk, customer="Ada")
    await saved(other.pk, status="paid")
    comm = await connected(admin_user)
    assert (await subscribe(comm, layout=layout, since=cursor))["replay"] == "ok"
    assert [(await receive(comm))["in_place"] for _ in range(2)] == [True, False]
    pks = [str(order.pk), str(other.pk)]
    await comm.send_json_to(
        {"type": "watch", "id": "rows", "model": ORDERS, "pks": pks, "layout": layout}
        | {"since": cursor}
    )
    watching = await receive(comm)
    assert (watching["type"], watching["replay"]) == ("watching", "ok")
    rows = [await receive(comm), await receive(comm)]
    assert [(m["id"], m["pk"], m["in_place"]) for m in rows] == [
        ("rows", str(order.pk), True),
        ("rows", str(other.pk), False),
    ]
    assert await comm.receive_nothing(0.2)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_cursor_never_given_or_too_old_means_one_whole_check(admin_user: User) -> None:
    order = await sync_to_async(Order.objects.create)(customer="a")
    comm = await connected(admin_user)
    for since in ("not-a-cursor", "0", kept.Local(1).head(ORDERS)):
        answer = await subscribe(comm, since=since)
        assert (answer["type"], answer["replay"]) == ("subscribed", "whole"), since
        await comm.send_json_to({"type": "unsubscribe", "id": "page"})
        assert (await receive(comm))["type"] == "unsubscribed"
    with override_settings(LIVE_ADMIN={"HISTORY": 2}):
        kept.history.cache_clear()
        cursor = (await subscribe(comm))["cursor"]
        await comm.send_json_to({"type": "unsubscribe", "id": "page"})
        await receive(comm)
        for n in range(3):
            await saved(order.pk, customer=f"n{n}")
        answer = await subscribe(comm, since=cursor)
        assert answer["replay"] == "whole"
        assert await comm.receive_nothing(0.2)
    kept.history.cache_clear()
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_replay_is_told_as_today_s_permissions_allow(transactional_db: None) -> None:
    """A page whose user lost the right to see the model is refused, not caught up."""
    user = await sync_to_async(make_user)("clerk", perms=("view_order",))
    order = await sync_to_async(Order.objects.create)(customer="a")

    async def meanwhile() -> None:
        await sync_to_async(
            lambda: user.user_permissions.remove(Permission.objects.get(codename="view_order"))
        )()
        await saved(order.pk, customer="secret")

    comm, answer = await away_and_back(user, meanwhile, pk=str(order.pk))
    assert (answer["type"], answer["code"]) == ("error", "forbidden")
    assert await comm.receive_nothing(0.2)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_bad_cursor_gets_an_error_and_the_socket_goes_on(admin_user: User) -> None:
    comm = await connected(admin_user)
    answer = await subscribe(comm, since=12)
    assert (answer["type"], answer["code"]) == ("error", "invalid")
    await comm.send_json_to(
        {"type": "watch", "id": "rows", "model": ORDERS, "pks": [], "since": []}
    )
    assert (await receive(comm))["code"] == "invalid"
    assert (await subscribe(comm))["type"] == "subscribed"
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_history_that_cannot_be_read_means_one_whole_check(
    admin_user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    comm = await connected(admin_user)
    cursor = (await subscribe(comm))["cursor"]
    await comm.send_json_to({"type": "unsubscribe", "id": "page"})
    await receive(comm)

    def unreadable(label: str, since: str) -> Any:
        raise OSError("the history's Redis went away")

    monkeypatch.setattr(kept.history(), "read", unreadable)
    answer = await subscribe(comm, since=cursor)
    assert (answer["type"], answer["cursor"], answer["replay"]) == ("subscribed", "", "whole")
    assert "reading the history of testapp.order failed" in caplog.text
    await comm.disconnect()
