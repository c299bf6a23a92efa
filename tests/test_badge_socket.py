"""Change badges over the websocket: one request for all of a page's models, live counts,
cleared by opening a changelist, permission-checked like subscriptions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import RedisServer, badge_caches, make_user, run_django
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from test_consumers import TIMEOUT, ask, open_socket, run

from live_admin.delivery import badges
from testapp.models import Order, Project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MODELS = ["testapp.order", "testapp.project", "testapp.ticket", "testapp.nosuchmodel"]


async def badges_of(comm: Any, models: list[str] = MODELS) -> dict[str, Any]:
    reply = await ask(comm, {"type": "badges", "id": "b", "models": models})
    assert (reply["type"], reply["id"]) == ("badges", "b"), reply
    return reply["counts"]


async def next_counts(comm: Any) -> dict[str, Any]:
    reply = await comm.receive_json_from(timeout=TIMEOUT)
    assert (reply["type"], reply["id"]) == ("badges", "b"), reply
    return reply["counts"]


async def settled() -> None:
    """Every change so far is stored and told (the recorder's thread, then the sender's)."""
    from live_admin.delivery.sender import sender

    assert await asyncio.to_thread(badges.recorder.flush, TIMEOUT)
    assert await asyncio.to_thread(sender.flush, TIMEOUT)


def open_changelist(user: User, path: str = "/admin/testapp/order/") -> None:
    client = Client()
    client.force_login(user)
    assert client.get(path).status_code == 200


async def test_one_request_for_all_models_granted_ones_only(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    # Tickets: live_badges = False (its admin filters rows per user); no such model: left out.
    assert await badges_of(comm) == {
        "testapp.order": {"count": 0, "more": False},
        "testapp.project": {"count": 0, "more": False},
    }
    await comm.disconnect()


async def test_counts_distinct_objects_changed_since_last_opened(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    await badges_of(comm)
    first = await run(Order.objects.create, customer="Ada")
    assert await next_counts(comm) == {"testapp.order": {"count": 1, "more": False}}
    await run(Order.objects.filter(pk=first.pk).update, customer="x")  # no signal: not counted
    first.customer = "Bea"
    await run(first.save)  # the same object again: still one
    await run(Order.objects.create, customer="Cy")
    await settled()
    assert await next_counts(comm) == {"testapp.order": {"count": 2, "more": False}}
    await run(open_changelist, admin_user)
    assert await next_counts(comm) == {"testapp.order": {"count": 0, "more": False}}
    await comm.disconnect()


async def test_a_new_page_counts_from_what_the_user_last_saw(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    await badges_of(comm)  # the first visit: counts start here
    await comm.disconnect()
    for name in ("a", "b", "c"):
        await run(Order.objects.create, customer=name)
    await settled()
    comm = await open_socket(admin_user)
    assert (await badges_of(comm))["testapp.order"] == {"count": 3, "more": False}
    await comm.disconnect()


async def test_counts_are_per_user(admin_user: User) -> None:
    other = await run(User.objects.create_superuser, "other", password="pw")
    mine, theirs = await open_socket(admin_user), await open_socket(other)
    await badges_of(mine)
    await badges_of(theirs)
    await run(Order.objects.create, customer="Ada")
    assert (await next_counts(mine))["testapp.order"]["count"] == 1
    assert (await next_counts(theirs))["testapp.order"]["count"] == 1
    await run(open_changelist, other)
    assert (await next_counts(theirs))["testapp.order"]["count"] == 0
    await run(Order.objects.create, customer="Bo")
    assert (await next_counts(mine))["testapp.order"]["count"] == 2  # not cleared by theirs
    assert (await next_counts(theirs))["testapp.order"]["count"] == 1
    for comm in (mine, theirs):
        await comm.disconnect()


async def test_watching_a_changelist_counts_its_changes_seen(admin_user: User) -> None:
    index, changelist = await open_socket(admin_user), await open_socket(admin_user)
    await badges_of(index)
    reply = await ask(
        changelist, {"type": "subscribe", "id": "page", "model": "testapp.order", "seen": True}
    )
    assert reply["type"] == "subscribed"
    await run(Order.objects.create, customer="seen live")
    assert (await next_counts(index))["testapp.order"]["count"] == 1
    await changelist.disconnect()  # the page showed it: seen when the page goes
    assert (await next_counts(index))["testapp.order"]["count"] == 0
    await index.disconnect()


async def test_more_than_the_store_keeps_says_more(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    await badges_of(comm)
    await comm.disconnect()
    await run(lambda: [badges.record("testapp.order", [str(n)], 1) for n in range(badges.RING + 5)])
    await run(badges.record, "testapp.project", None, None)  # notify(Project): which, unknown
    comm = await open_socket(admin_user)
    counts = await badges_of(comm)
    assert counts["testapp.order"] == {"count": badges.MAX_PKS, "more": True}
    assert counts["testapp.project"] == {"count": 1, "more": True}
    await comm.disconnect()


async def test_view_permission_is_checked_and_rechecked(transactional_db: None) -> None:
    viewer = await run(make_user, "viewer", perms=("view_order",))
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        comm = await open_socket(viewer)
        assert list(await badges_of(comm)) == ["testapp.order"]  # not projects: no permission
        perm = await run(Permission.objects.get, codename="view_order")
        await run(viewer.user_permissions.remove, perm)
        assert await next_counts(comm) == {"testapp.order": None}
        await run(Order.objects.create, customer="unseen")
        await settled()
        assert await ask(comm, {"type": "ping"}) == {"type": "pong"}  # and no count before it
        await comm.disconnect()


async def test_bad_requests_get_an_error(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    for bad in (
        {"type": "badges", "id": "b"},
        {"type": "badges", "id": "b", "models": "testapp.order"},
        {"type": "badges", "id": "b", "models": [1]},
        {"type": "badges", "id": "b", "models": ["x"] * 201},
    ):
        reply = await ask(comm, bad)
        assert (reply["type"], reply["code"]) == ("error", "invalid"), reply
    await badges_of(comm)
    reply = await ask(comm, {"type": "badges", "id": "b", "models": MODELS})
    assert (reply["type"], reply["code"]) == ("error", "invalid")  # that id asked already
    await comm.disconnect()


async def test_each_page_of_a_shared_socket_has_its_badges(admin_user: User) -> None:
    """A browser's tabs share one socket: each asks under its own id, is told its own models'
    counts, and a tab that closes stops only what no other tab shows."""
    comm = await open_socket(admin_user)
    await badges_of(comm, ["testapp.order"])
    reply = await ask(comm, {"type": "badges", "id": "t2:b", "models": MODELS})
    shown = {"testapp.order", "testapp.project"}  # of MODELS, those with live badges
    assert (reply["type"], reply["id"], set(reply["counts"])) == ("badges", "t2:b", shown)
    await run(Order.objects.create, customer="a")
    told = [await comm.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
    told = {(m["id"], *m["counts"]) for m in told}
    assert told == {("b", "testapp.order"), ("t2:b", "testapp.order")}
    assert await ask(comm, {"type": "unsubscribe", "id": "t2:b"}) == {
        "type": "unsubscribed",
        "id": "t2:b",
    }
    await run(Order.objects.create, customer="b")
    assert (await next_counts(comm)) == {"testapp.order": {"count": 2, "more": False}}
    assert (await ask(comm, {"type": "unsubscribe", "id": "t2:b"}))["code"] == "not_found"
    await comm.disconnect()


async def test_badges_off(admin_user: User) -> None:
    with override_settings(LIVE_ADMIN={"BADGES": False}):
        comm = await open_socket(admin_user)
        assert await badges_of(comm) == {}
        await run(Project.objects.create, name="not counted")
        await settled()
        assert await run(badges.latest, ["testapp.project"]) == {"testapp.project": 0}
        await comm.disconnect()


async def test_a_failing_store_never_fails_a_save(admin_user: User, caplog: Any) -> None:
    with override_settings(LIVE_ADMIN={"BADGE_CACHE": "nosuchcache"}):
        order = await run(Order.objects.create, customer="saved anyway")
        await settled()
        assert await run(Order.objects.filter(pk=order.pk).exists)
        comm = await open_socket(admin_user)
        reply = await ask(comm, {"type": "badges", "id": "b", "models": MODELS})
        assert (reply["type"], reply["code"]) == ("error", "unavailable")
        await comm.disconnect()
    assert "badge store failed" in caplog.text


@pytest.mark.redis
async def test_a_shared_store_counts_across_processes(admin_user: User, redis_server: Any) -> None:
    caches = badge_caches(redis_server.url)
    with override_settings(CACHES=caches, LIVE_ADMIN={"BADGE_CACHE": "badges"}):
        comm = await open_socket(admin_user)
        await badges_of(comm)
        await comm.disconnect()
        # Another process saves (its own recorder, the same store).
        done = await asyncio.to_thread(
            run_django,
            "shell",
            "-c",
            "from testapp.models import Order; Order.objects.create(customer='elsewhere');"
            "from live_admin.delivery import badges; assert badges.recorder.flush(10)",
            env={"LIVE_ADMIN_TEST_BADGE_CACHE": redis_server.url},
        )
        assert done.returncode == 0, done.stderr
        comm = await open_socket(admin_user)
        assert (await badges_of(comm))["testapp.order"] == {"count": 1, "more": False}
        await comm.disconnect()


async def test_the_sockets_of_a_process_read_a_batch_once(monkeypatch: Any) -> None:
    from live_admin.realtime import badges as badge_socket

    reads: list[tuple[str, int, int]] = []
    real = badges.batches

    def counted(label: str, first: int, last: int) -> dict[int, badges.Batch]:
        reads.append((label, first, last))
        return real(label, first, last)

    monkeypatch.setattr(badges, "batches", counted)
    number = await run(badges.record, "testapp.order", ["1"], 1)
    found = await asyncio.gather(
        *(badge_socket._shared_read("testapp.order", 1, number) for _ in range(5))
    )
    assert reads == [("testapp.order", 1, number)]
    assert all(f == {number: (number, ("1",), 1)} for f in found)
    assert not badge_socket._reading


async def test_a_number_taken_but_not_stored_yet_is_waited_for(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    await badges_of(comm)
    store = badges.store()
    await run(store.add, "live_admin:badges:testapp.order:seq", 0)
    taken = await run(store.incr, "live_admin:badges:testapp.order:seq")  # between INCR and SET
    await run(Order.objects.create, customer="stored after it")
    assert await next_counts(comm) == {"testapp.order": {"count": 1, "more": False}}
    await run(store.set, f"live_admin:badges:testapp.order:{taken}", (taken, ("elsewhere",), 1))
    group = badges.model_group("testapp.order")
    await run(badges._tell, badges.BADGE, group, "testapp.order", taken)
    assert await next_counts(comm) == {"testapp.order": {"count": 2, "more": False}}
    await comm.disconnect()


async def test_seen_that_arrives_late_is_ignored(admin_user: User) -> None:
    comm = await open_socket(admin_user)
    await badges_of(comm)
    for name in ("a", "b"):
        await run(Order.objects.create, customer=name)
    while (await next_counts(comm))["testapp.order"]["count"] < 2:
        pass
    group = badges.users_group(admin_user.pk)
    await run(badges._tell, badges.SEEN, group, "testapp.order", 2)
    assert await next_counts(comm) == {"testapp.order": {"count": 0, "more": False}}
    await run(badges._tell, badges.SEEN, group, "testapp.order", 1)  # overtaken: ignored
    assert await ask(comm, {"type": "ping"}) == {"type": "pong"}
    await comm.disconnect()


async def test_badges_off_records_nothing_for_opened_lists(admin_user: User) -> None:
    with override_settings(LIVE_ADMIN={"BADGES": False}):
        comm = await open_socket(admin_user)
        reply = await ask(
            comm, {"type": "subscribe", "id": "page", "model": "testapp.order", "seen": True}
        )
        assert reply["type"] == "subscribed"
        await run(open_changelist, admin_user)
        await comm.disconnect()
        await settled()
        assert await run(badges.seen, admin_user.pk, ["testapp.order"]) == {"testapp.order": None}


@pytest.mark.redis
async def test_a_hung_store_ends_badges_and_holds_up_nothing_else(
    admin_user: User, tmp_path: Any
) -> None:
    import os
    import signal
    import time

    redis = RedisServer(tmp_path)
    caches = badge_caches(redis.url)
    caches["badges"]["OPTIONS"] = {"socket_timeout": 30}
    try:
        with override_settings(CACHES=caches, LIVE_ADMIN={"BADGE_CACHE": "badges"}):
            comm = await open_socket(admin_user)
            await ask(comm, {"type": "subscribe", "id": "p", "model": "testapp.project"})
            os.kill(redis.process.pid, signal.SIGSTOP)  # answers nothing, closes nothing
            started = time.monotonic()
            reply = await ask(comm, {"type": "badges", "id": "b", "models": MODELS})
            assert (reply["type"], reply["code"]) == ("error", "unavailable")
            assert time.monotonic() - started < 3
            await run(Project.objects.create, name="still live")
            event = await comm.receive_json_from(timeout=TIMEOUT)
            assert (event["type"], event["id"]) == ("changed", "p")
            await comm.disconnect()
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
        redis.stop()


async def test_a_resync_counts_again_from_the_store(admin_user: User) -> None:
    from live_admin.realtime import hub

    comm = await open_socket(admin_user)
    await badges_of(comm)
    await run(badges.record, "testapp.order", ["lost"], 1)  # stored; its message lost
    assert await ask(comm, {"type": "ping"}) == {"type": "pong"}
    (socket,) = next(iter(hub._hubs[asyncio.get_running_loop()].values())).sockets
    socket.deliver({"type": hub.RESYNC})  # as the hub does once the layer is whole again
    assert await comm.receive_json_from(timeout=TIMEOUT) == {"type": "resync"}
    assert await next_counts(comm) == {"testapp.order": {"count": 1, "more": False}}
    await comm.disconnect()
