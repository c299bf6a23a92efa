"""Presence over the socket: who has an object open, told only to those who may view it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from conftest import make_user, subscribed_socket
from django.contrib.auth.models import User

from live_admin import protocol as groups
from live_admin.delivery.sender import get_layer
from live_admin.realtime import presence, presence_socket
from live_admin.realtime.presence import Presence, people
from testapp.models import Project, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5


@pytest.fixture
def ticket(admin_user: User) -> Ticket:
    return Ticket.objects.create(project=Project.objects.create(name="P", owner=None), title="T")


async def person(name: str, **extra: Any) -> User:
    return await sync_to_async(User.objects.create_superuser)(
        name, password="pw", first_name=name.title(), **extra
    )


async def present(user: User, ticket: Ticket, state: str) -> WebsocketCommunicator:
    """A change form's socket, present on ``ticket``; returns once it has heard who is there."""
    comm = await subscribed_socket(user, model="testapp.ticket", pk=str(ticket.pk))
    await comm.send_json_to({"type": "presence", "id": "s", "state": state})
    first = await comm.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "presence"
    comm.people = first["people"]  # type: ignore[attr-defined]
    return comm


async def heard(comm: WebsocketCommunicator, expected: list[dict[str, str]]) -> float:
    """Wait until the page knows ``expected`` are there; how long that took."""
    start = time.monotonic()
    while getattr(comm, "people", None) != expected:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "presence", message
        comm.people = message["people"]  # type: ignore[attr-defined]
    return time.monotonic() - start


async def test_pages_see_each_other_arrive_type_and_leave(ticket: Ticket) -> None:
    alice, bob = await person("alice"), await person("bob")
    a = await present(alice, ticket, "viewing")
    b = await present(bob, ticket, "viewing")
    await heard(b, [{"name": "Alice", "state": "viewing"}])  # b learns a was already there
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    await b.send_json_to({"type": "presence", "id": "s", "state": "editing"})
    assert await heard(a, [{"name": "Bob", "state": "editing"}]) < 2
    await b.disconnect()  # the tab closed
    assert await heard(a, []) < 2
    await a.disconnect()


async def test_an_editor_says_which_field_they_are_in(ticket: Ticket) -> None:
    alice, bob = await person("alice"), await person("bob")
    a = await present(alice, ticket, "viewing")
    b = await present(bob, ticket, "viewing")
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    await b.send_json_to({"type": "presence", "id": "s", "state": "editing", "field": "status"})
    await heard(a, [{"name": "Bob", "state": "editing", "field": "status"}])
    await b.send_json_to({"type": "presence", "id": "s", "state": "editing", "field": "title"})
    assert await heard(a, [{"name": "Bob", "state": "editing", "field": "title"}]) < 2
    await b.send_json_to({"type": "presence", "id": "s", "state": "viewing", "field": "title"})
    await heard(a, [{"name": "Bob", "state": "viewing"}])  # a field only while editing
    for comm in (a, b):
        await comm.disconnect()


async def test_one_person_in_two_tabs_is_one_entry_editing_if_either_is(ticket: Ticket) -> None:
    alice, bob = await person("alice"), await person("bob")
    a = await present(alice, ticket, "viewing")
    b1 = await present(bob, ticket, "viewing")
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    b2 = await present(bob, ticket, "editing")
    await heard(a, [{"name": "Bob", "state": "editing"}])
    await b2.disconnect()
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    for comm in (a, b1):
        await comm.disconnect()


async def test_two_tabs_on_one_shared_socket_are_one_entry_editing_if_either_is(
    ticket: Ticket,
) -> None:
    """A browser's tabs share one socket: each page's presence counts, together."""
    alice, bob = await person("alice"), await person("bob")
    a = await present(alice, ticket, "viewing")
    shared = await present(bob, ticket, "viewing")  # its first tab, under "s"
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    sub = {"type": "subscribe", "id": "t2:page", "model": "testapp.ticket", "pk": str(ticket.pk)}
    await shared.send_json_to(sub)
    assert (await shared.receive_json_from(timeout=TIMEOUT))["type"] == "subscribed"
    editing = {"type": "presence", "id": "t2:page", "state": "editing", "field": "title"}
    await shared.send_json_to(editing)
    await heard(a, [{"name": "Bob", "state": "editing", "field": "title"}])
    await shared.send_json_to({"type": "presence", "id": "s", "state": "viewing"})  # its beat
    await shared.send_json_to({"type": "ping"})
    while (await shared.receive_json_from(timeout=TIMEOUT))["type"] != "pong":
        pass
    assert a.people == [{"name": "Bob", "state": "editing", "field": "title"}]  # still
    assert await a.receive_nothing(0.3)
    await shared.send_json_to({"type": "unsubscribe", "id": "t2:page"})  # the editing tab closed
    assert await heard(a, [{"name": "Bob", "state": "viewing"}]) < 2
    for comm in (a, shared):
        await comm.disconnect()


async def test_a_changelist_watches_its_rows(ticket: Ticket) -> None:
    alice, carol = await person("alice"), await person("carol")
    a = await present(alice, ticket, "editing")
    c = await subscribed_socket(carol, model="testapp.ticket")
    await c.send_json_to(
        {"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": [str(ticket.pk), "999"]}
    )
    assert await c.receive_json_from(timeout=TIMEOUT) == {
        "type": "watching",
        "id": "rows",
        "pks": [str(ticket.pk)],  # no such row: not watched
    }
    message = await c.receive_json_from(timeout=TIMEOUT)  # asked: alice answers at once
    assert message == {
        "type": "presence",
        "id": "rows",
        "pk": str(ticket.pk),
        "people": [{"name": "Alice", "state": "editing"}],
    }
    await a.disconnect()
    assert (await c.receive_json_from(timeout=TIMEOUT))["people"] == []
    await c.disconnect()


async def test_no_presence_for_rows_a_user_may_not_view(ticket: Ticket) -> None:
    """TicketAdmin shows staff only the tickets of their projects."""
    alice = await person("alice")
    staff = await sync_to_async(make_user)("dave", perms=("view_ticket",))
    a = await present(alice, ticket, "editing")
    d = await subscribed_socket(staff, model="testapp.ticket")
    await d.send_json_to(
        {"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": [str(ticket.pk)]}
    )
    assert (await d.receive_json_from(timeout=TIMEOUT))["pks"] == []
    # Nor can they announce themselves on it: they hold no subscription to the object.
    await d.send_json_to({"type": "presence", "id": "s", "state": "viewing"})
    assert (await d.receive_json_from(timeout=TIMEOUT))["code"] == "not_found"
    await a.send_json_to({"type": "presence", "id": "s", "state": "viewing"})
    assert await d.receive_nothing(timeout=0.5)
    for comm in (a, d):
        await comm.disconnect()


async def test_a_page_that_goes_quiet_is_forgotten(
    ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed server process says nothing: its pages' announcements just stop."""
    monkeypatch.setattr(presence, "TTL", 1)
    alice = await person("alice")
    a = await present(alice, ticket, "viewing")
    ghost = Presence("ghost-user", "Ghost").event(("testapp.ticket", str(ticket.pk)), "editing")
    await get_layer().group_send(groups.presence_group("testapp.ticket", ticket.pk), ghost)
    await heard(a, [{"name": "Ghost", "state": "editing"}])
    assert await heard(a, []) < 3  # TTL, and the once-a-second sweep
    await a.disconnect()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "presence", "id": "s", "state": "dancing"}, "invalid"),
        ({"type": "presence", "id": "s", "state": "editing", "field": "<b>"}, "invalid"),
        ({"type": "presence", "id": "s", "state": "editing", "field": 3}, "invalid"),
        ({"type": "presence", "id": "s", "state": "editing", "field": "f" * 101}, "invalid"),
        ({"type": "presence", "id": "nope", "state": "viewing"}, "not_found"),
        ({"type": "watch", "id": "w", "model": "testapp.ticket", "pks": "1"}, "invalid"),
        ({"type": "watch", "id": "w", "model": "testapp.ticket", "pks": [1]}, "invalid"),
        ({"type": "watch", "id": "w", "model": "testapp.ticket", "pks": ["1"] * 201}, "invalid"),
        ({"type": "watch", "id": "w", "model": "testapp.secret", "pks": ["1"]}, "not_found"),
    ],
)
async def test_bad_presence_messages_get_an_error(
    ticket: Ticket, message: dict[str, Any], code: str
) -> None:
    alice = await person("alice")
    a = await subscribed_socket(alice, model="testapp.ticket", pk=str(ticket.pk))
    await a.send_to(text_data=json.dumps(message))
    reply = await a.receive_json_from(timeout=TIMEOUT)
    assert (reply["type"], reply["code"]) == ("error", code)
    await a.disconnect()


async def test_people_lists_editors_first_and_never_me() -> None:
    seen = Presence("1", "Me")
    obj = ("testapp.ticket", "1")
    seen.seen[obj] = {}
    for key, user, name, state in [
        ("k1", "1", "Me", "editing"),
        ("k2", "2", "Zoe", "viewing"),
        ("k3", "3", "Yan", "viewing"),
        ("k4", "3", "Yan", "editing"),
        ("k5", "4", "Abe", "viewing"),
    ]:
        event = {"model": obj[0], "pk": obj[1], "key": key, "user": user, "name": name}
        seen.heard({**event, "state": state}, now=0)
    assert people(seen.seen[obj], "1") == [
        {"name": "Yan", "state": "editing"},
        {"name": "Abe", "state": "viewing"},
        {"name": "Zoe", "state": "viewing"},
    ]
    assert seen.expire(now=presence.TTL + 1) == [obj]
    assert people(seen.seen[obj], "1") == []


async def test_watches_count_against_the_subscription_limit(ticket: Ticket) -> None:
    from django.test import override_settings

    alice = await person("alice")
    with override_settings(LIVE_ADMIN={"MAX_SUBSCRIPTIONS": 1}):
        a = await subscribed_socket(alice, model="testapp.ticket")
        watch = {"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": [str(ticket.pk)]}
        await a.send_json_to(watch)
        assert (await a.receive_json_from(timeout=TIMEOUT))["code"] == "too_many"
        await a.disconnect()


async def test_a_page_repeating_itself_too_often_is_not_relayed(
    ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[dict[str, Any]] = []
    original = presence.announce

    async def recording(layer: Any, event: dict[str, Any], timeout: float) -> None:
        events.append(event)
        await original(layer, event, timeout)

    monkeypatch.setattr(presence_socket, "announce", recording)

    def layer_events() -> list[dict[str, Any]]:
        return events

    alice, bob = await person("alice"), await person("bob")
    a = await present(alice, ticket, "viewing")
    b = await present(bob, ticket, "viewing")
    await heard(a, [{"name": "Bob", "state": "viewing"}])
    sent = len([e for e in layer_events() if e.get("name") == "Bob"])
    for _ in range(10):  # a flood of heartbeats
        await b.send_json_to({"type": "presence", "id": "s", "state": "viewing"})
    await b.send_json_to({"type": "ping"})
    while (await b.receive_json_from(timeout=TIMEOUT))["type"] != "pong":
        pass
    assert len([e for e in layer_events() if e.get("name") == "Bob"]) == sent
    await b.send_json_to({"type": "presence", "id": "s", "state": "editing"})  # a change goes
    await heard(a, [{"name": "Bob", "state": "editing"}])
    for comm in (a, b):
        await comm.disconnect()


async def test_unsubscribing_leaves_at_once_and_a_second_watch_is_told_again(
    ticket: Ticket,
) -> None:
    alice, carol = await person("alice"), await person("carol")
    a = await present(alice, ticket, "editing")
    c = await subscribed_socket(carol, model="testapp.ticket")
    watch = {"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": [str(ticket.pk)]}
    await c.send_json_to(watch)
    assert (await c.receive_json_from(timeout=TIMEOUT))["type"] == "watching"
    assert (await c.receive_json_from(timeout=TIMEOUT))["people"] == [
        {"name": "Alice", "state": "editing"}
    ]
    await c.send_json_to(watch)  # the list refreshed: the same rows, told again at once
    assert (await c.receive_json_from(timeout=TIMEOUT))["type"] == "watching"
    assert (await c.receive_json_from(timeout=TIMEOUT))["people"] == [
        {"name": "Alice", "state": "editing"}
    ]
    await a.send_json_to({"type": "unsubscribe", "id": "s"})  # the form stopped following
    assert (await a.receive_json_from(timeout=TIMEOUT))["type"] == "unsubscribed"
    assert (await c.receive_json_from(timeout=TIMEOUT))["people"] == []
    await c.send_json_to({**watch, "pks": []})  # stop watching
    assert (await c.receive_json_from(timeout=TIMEOUT))["pks"] == []
    for comm in (a, c):
        await comm.disconnect()


async def test_a_watch_loses_rows_the_user_may_no_longer_see(ticket: Ticket) -> None:
    from django.test import override_settings

    staff = await sync_to_async(make_user)("dave", perms=("view_ticket",))
    project = await sync_to_async(Project.objects.get)(pk=ticket.project_id)
    project.owner = staff
    await sync_to_async(project.save)()
    alice = await person("alice")
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        d = await subscribed_socket(staff, model="testapp.ticket")
        watch = {"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": [str(ticket.pk)]}
        await d.send_json_to(watch)
        assert (await d.receive_json_from(timeout=TIMEOUT))["pks"] == [str(ticket.pk)]
        project.owner = None  # the ticket leaves dave's queryset
        await sync_to_async(project.save)()
        assert await d.receive_json_from(timeout=TIMEOUT) == {  # the re-check says so
            "type": "watching",
            "id": "rows",
            "pks": [],
        }
        a = await present(alice, ticket, "editing")
        assert await d.receive_nothing(timeout=0.3)
        for comm in (a, d):
            await comm.disconnect()


async def test_a_failing_layer_costs_an_announcement_not_the_socket() -> None:
    class Broken:
        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            raise ConnectionError("Redis is down")

    event = Presence("1", "Ann").event(("testapp.ticket", "1"), "viewing")
    await presence.announce(Broken(), event, 1.0)  # no exception


async def test_a_watch_ends_with_the_view_permission(ticket: Ticket) -> None:
    from django.contrib.auth.models import Permission
    from django.test import override_settings

    staff = await sync_to_async(make_user)("dave", perms=("view_ticket",))
    project = await sync_to_async(Project.objects.get)(pk=ticket.project_id)
    project.owner = staff
    await sync_to_async(project.save)()
    with override_settings(LIVE_ADMIN={"RECHECK_SECONDS": 0.05}):
        d = await subscribed_socket(staff, model="testapp.ticket")
        pks = [str(ticket.pk), "not-a-pk"]  # a key that cannot be a ticket's is left out
        await d.send_json_to({"type": "watch", "id": "rows", "model": "testapp.ticket", "pks": pks})
        assert (await d.receive_json_from(timeout=TIMEOUT))["pks"] == [str(ticket.pk)]
        view = await sync_to_async(Permission.objects.get)(codename="view_ticket")
        await sync_to_async(staff.user_permissions.remove)(view)
        told = [await d.receive_json_from(timeout=TIMEOUT) for _ in range(2)]
        assert {m["type"] for m in told} == {"error", "watching"}
        assert next(m for m in told if m["type"] == "watching")["pks"] == []
        await d.disconnect()
