"""Row refreshes: the layout a changelist depends on, the rows view, and in-place changes."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from conftest import make_user, subscribed_socket
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Case, F, OuterRef, Q, Subquery, When, Window
from django.db.models.functions import RowNumber
from django.test import Client
from django.test.utils import CaptureQueriesContext
from forms import form_data

from live_admin.conflicts import token as conflicts
from live_admin.pages import rows
from live_admin.realtime import layouts
from testapp.admin import OrderAdmin, TicketAdmin
from testapp.models import Category, Order, Programme, Project, Tag, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def attribute(content: bytes, name: str) -> str | None:
    found = re.search(rf'{name}="([^"]*)"'.encode(), content)
    return None if found is None else html.unescape(found[1].decode())


def page_layout(client: Client, url: str) -> frozenset[str] | None:
    token = attribute(client.get(url).content, "data-layout")
    label = "testapp." + url.split("/")[3]
    return None if token is None else layouts.read_layout(token, label)


def fetch_rows(client: Client, url: str, *pks: object) -> Any:
    header = quote(json.dumps([str(pk) for pk in pks]))
    return client.get(url, headers={rows.ROWS_HEADER: header})


def row_pks(response: Any) -> list[str]:
    assert b'id="live-admin-rows"' in response.content
    boxes = re.findall(r'<input[^>]*class="action-select"[^>]*>', response.content.decode())
    return [re.search(r'value="([^"]+)"', box)[1] for box in boxes]  # type: ignore[index]


# -- the layout -----------------------------------------------------------------------------


def test_a_list_depends_on_its_filters_ordering_and_active_search(admin_client: Client) -> None:
    assert page_layout(admin_client, "/admin/testapp/order/") == {"status", "id"}
    searched = page_layout(admin_client, "/admin/testapp/order/?q=ada")
    assert searched == {"status", "id", "customer"}
    assert page_layout(admin_client, "/admin/testapp/order/?o=1") == {"status", "id", "customer"}


def test_a_get_queryset_filter_through_a_foreign_key_counts_as_that_key(
    admin_client: Client,
) -> None:
    staff = make_user("staff", perms=("view_ticket",))
    client = Client()
    client.force_login(staff)
    assert page_layout(client, "/admin/testapp/ticket/") == {"project", "id"}
    assert page_layout(admin_client, "/admin/testapp/ticket/") == {"id"}


@pytest.mark.parametrize(
    "queryset",
    [
        lambda: Project.objects.filter(ticket__title="x"),  # a reverse join
        lambda: Project.objects.order_by("?"),
        lambda: Project.objects.extra(where=["1 = 1"]),
        lambda: Project.objects.filter(pk__in=Ticket.objects.values("project")),
        lambda: Project.objects.order_by("ticket__title"),  # ordered through a reverse relation
        lambda: Project.objects.extra(select={"x": "1"}).order_by("x"),  # not a field
        lambda: Project.objects.annotate(n=Window(RowNumber())),  # reads the other rows
        lambda: Project.objects.annotate(
            t=Subquery(Ticket.objects.filter(project=OuterRef("pk")).values("title")[:1])
        ),
    ],
)
def test_a_query_whose_fields_cannot_be_told_has_no_layout(queryset: Any) -> None:
    cl = SimpleNamespace(queryset=queryset(), list_filter=(), date_hierarchy=None, model=Project)
    assert rows.layout(cl) is None  # type: ignore[arg-type]


def test_fields_are_named_as_changes_name_them() -> None:
    def layout_of(queryset: Any, list_filter: Any = ()) -> frozenset[str] | None:
        cl = SimpleNamespace(
            queryset=queryset, list_filter=list_filter, date_hierarchy=None, model=Ticket
        )
        return rows.layout(cl)  # type: ignore[arg-type]

    assert layout_of(Ticket.objects.order_by("project_id")) == {"project"}  # an attname
    assert layout_of(Ticket.objects.order_by(F("project_id").desc())) == {"project"}
    by_case = Ticket.objects.order_by(Case(When(status="open", then=0), default=1))
    assert layout_of(by_case) == {"status"}  # a Q inside an ordering expression
    assert layout_of(Ticket.objects.order_by("project__name")) == {"project"}
    assert layout_of(Ticket.objects.all(), ["project_id"]) == {"project"}

    class Open(admin.SimpleListFilter):
        title = parameter_name = "open"

        def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
            return [("1", "open")]

        def queryset(self, request: Any, queryset: Any) -> Any:
            return queryset

    assert layout_of(Ticket.objects.all(), [Open]) is None  # what it reads is not known


def test_layouts_read_every_part_of_a_list() -> None:
    from django.contrib.admin import RelatedOnlyFieldListFilter
    from django.db.models import Count

    def layout_of(queryset: Any, **parts: Any) -> frozenset[str] | None:
        cl = SimpleNamespace(
            **{"list_filter": (), "date_hierarchy": None, "model": queryset.model, **parts},
            queryset=queryset,
        )
        return rows.layout(cl)  # type: ignore[arg-type]

    tickets = Ticket.objects.all()
    filtered = layout_of(tickets, list_filter=[("project", RelatedOnlyFieldListFilter)])
    assert filtered == {"project"}
    assert layout_of(tickets, date_hierarchy="project__name") == {"project"}
    assert layout_of(tickets.filter(project__owner__username="ada")) == {"project"}  # two hops
    assert layout_of(Programme.objects.filter(name="Apollo")) == {"name"}  # a parent's field
    by_count = Project.objects.annotate(n=Count("owner")).order_by("n")
    assert layout_of(by_count) == {"owner"}  # ordered by an annotation: what it reads
    # A many-to-many sidebar: its changes are heard by the field's name; filtering through
    # it is a join whose rows' changes are not.
    assert layout_of(tickets, list_filter=["tags"]) == {"tags"}
    assert layout_of(tickets.filter(tags__name="bug"), list_filter=["tags"]) is None
    assert layout_of(tickets, list_filter=["no_such_field"]) is None
    in_list = tickets.order_by(Case(When(pk__in=[1, 2], then=0), default=1))
    assert layout_of(in_list) == {"id"}
    opaque = SimpleNamespace(resolve_expression=None)  # an expression keeping its parts
    assert layout_of(tickets.order_by(Case(When(Q(status=opaque), then=0)))) is None


def test_a_relation_of_a_model_to_itself_means_no_layout() -> None:
    # Renaming a parent is a change of this very list's model: the children it no longer
    # matches, or the parent's name in their rows, would be left as they were.
    def layout_of(queryset: Any, list_display: Any = ("name",)) -> frozenset[str] | None:
        cl = SimpleNamespace(
            queryset=queryset,
            list_filter=(),
            date_hierarchy=None,
            model=Category,
            list_display=list_display,
        )
        return rows.layout(cl)  # type: ignore[arg-type]

    assert layout_of(Category.objects.all()) == set()
    assert layout_of(Category.objects.filter(parent__name="foo")) is None
    assert layout_of(Category.objects.order_by("parent__name")) is None
    assert layout_of(Category.objects.all(), ["name", "parent"]) is None
    assert layout_of(Category.objects.order_by("lowered")) is None  # generated: follows name


def test_many_objects_or_a_bulk_change_are_never_in_place(admin_user: User) -> None:
    from live_admin import batch, notify
    from live_admin import protocol as groups
    from live_admin.testing import capture_broadcasts

    orders = Order.objects.bulk_create(Order(customer=f"c{i}") for i in range(201))
    layout = frozenset({"status", "id"})

    def model_message(sent: list[Any]) -> dict[str, Any]:
        group = groups.model_group("testapp.order")
        return next(m for m in sent if m["group"] == group)

    with capture_broadcasts() as sent, batch():
        for order in orders:
            order.customer += "!"
            order.save()
    message = model_message(sent)
    assert message["objects"] is None  # too many to tell one by one
    assert not layouts.all_in_place(message, layout)
    with capture_broadcasts() as sent, batch():
        notify(Order, [orders[0].pk])  # what it changed is not known...
        orders[0].customer = "Ann"
        orders[0].save()  # ...and a save of a known field does not make it known
    message = model_message(sent)
    assert message["objects"][str(orders[0].pk)]["action"] == "bulk"
    assert not layouts.all_in_place(message, layout)


def test_a_many_to_many_change_is_not_in_place_on_a_list_filtered_by_it(admin_user: User) -> None:
    """From either side of the relation, and cleared: a list with the field in its sidebar
    refreshes whole (its facets and related-only choices count by it)."""
    from live_admin import protocol as groups
    from live_admin.testing import capture_broadcasts

    ticket = Ticket.objects.create(project=Project.objects.create(name="P"), title="T")
    tag = Tag.objects.create(name="bug")
    group = groups.model_group("testapp.ticket")
    for change in (
        lambda: ticket.tags.add(tag),
        lambda: tag.ticket_set.remove(ticket),
        lambda: ticket.tags.set([tag]),
        lambda: ticket.tags.clear(),
    ):
        with capture_broadcasts() as sent:
            change()
        message = next(m for m in sent if m["group"] == group)
        assert not layouts.all_in_place(message, frozenset({"tags"}))
        assert layouts.all_in_place(message, frozenset({"status"}))


def test_a_layout_field_that_is_not_broadcast_means_no_layout(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TicketAdmin, "ordering", ("notes",))  # notes is not in live_fields
    assert page_layout(admin_client, "/admin/testapp/ticket/") is None
    monkeypatch.setattr(TicketAdmin, "ordering", ("title",))
    assert page_layout(admin_client, "/admin/testapp/ticket/") == {"title", "id"}


def test_a_turned_off_admin_gives_no_layout(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OrderAdmin, "live_row_refreshes", False)
    assert page_layout(admin_client, "/admin/testapp/order/") is None
    Order.objects.create(customer="a")
    assert fetch_rows(admin_client, "/admin/testapp/order/", 1).context["cl"].result_count == 1


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"action": "saved", "fields": ["customer"]}, True),
        ({"action": "saved", "fields": ["customer", "status"]}, False),  # could move rows
        ({"action": "saved", "fields": ["customer"], "created": True}, False),
        ({"action": "saved", "fields": []}, False),  # not known
        ({"action": "saved", "fields": None}, False),
        ({"action": "deleted", "fields": ["customer"]}, False),
        ({"action": "bulk", "fields": ["customer"]}, False),
    ],
)
def test_in_place_only_for_known_updates_outside_the_layout(
    event: dict[str, Any], expected: bool
) -> None:
    assert layouts.in_place(event, frozenset({"status", "id"})) is expected
    assert layouts.in_place(event, None) is False


def test_a_bad_layout_token_is_no_layout() -> None:
    good = layouts.layout_token(frozenset({"status"}), "testapp.order")
    assert layouts.read_layout(good, "testapp.order") == {"status"}
    assert layouts.read_layout(good, "testapp.ticket") is None  # another model's
    signer = layouts.signing.Signer(salt=layouts._SALT)
    odd = [signer.sign_object(["testapp.order", value]) for value in ("status", [1])]
    for bad in (good + "x", "", None, 5, good[:-3], *odd):
        assert layouts.read_layout(bad, "testapp.order") is None


# -- the rows view --------------------------------------------------------------------------


def test_rows_view_renders_only_the_rows_asked_for_without_counting(
    admin_client: Client,
) -> None:
    orders = [Order.objects.create(customer=f"c{i}") for i in range(5)]
    with CaptureQueriesContext(connection) as queries:
        response = fetch_rows(admin_client, "/admin/testapp/order/", orders[1].pk, orders[3].pk)
    assert response.status_code == 200
    assert row_pks(response) == [str(orders[3].pk), str(orders[1].pk)]  # the list's order
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "COUNT(" not in sql
    # The admin's own widgets for list_editable, and the rows' state token.
    assert b'name="form-0-status"' in response.content
    state = attribute(response.content, "data-state")
    assert set(
        conflicts.signing.Signer(salt=conflicts._SALT).unsign_object(state)["r"]["form"]
    ) == {
        str(orders[1].pk),
        str(orders[3].pk),
    }
    full = admin_client.get("/admin/testapp/order/")
    assert b"live-admin-rows" not in full.content


def test_rows_view_shows_only_what_the_user_may_see(admin_user: User) -> None:
    staff = make_user("staff", perms=("view_ticket",))
    mine = Ticket.objects.create(project=Project.objects.create(name="A", owner=staff), title="m")
    theirs = Ticket.objects.create(project=Project.objects.create(name="B"), title="t")
    client = Client()
    client.force_login(staff)
    response = fetch_rows(client, "/admin/testapp/ticket/", mine.pk, theirs.pk)
    links = re.findall(r'href="(/admin/testapp/ticket/\d+/change/)"', response.content.decode())
    assert links == [f"/admin/testapp/ticket/{mine.pk}/change/"]
    anonymous = fetch_rows(Client(), "/admin/testapp/ticket/", mine.pk)
    assert anonymous.status_code == 302  # to the login page, as the stock view


def test_rows_view_ignores_bad_headers(admin_client: Client) -> None:
    order = Order.objects.create(customer="a")
    for header in ("nonsense", quote(json.dumps({"a": 1})), quote(json.dumps(["x"] * 201))):
        response = admin_client.get("/admin/testapp/order/", headers={rows.ROWS_HEADER: header})
        assert b"live-admin-rows" not in response.content  # the whole page, as stock
    response = fetch_rows(admin_client, "/admin/testapp/order/", "not-a-pk", order.pk)
    assert row_pks(response) == [str(order.pk)]


def test_a_save_after_row_refreshes_is_checked_against_the_rows_new_state(
    admin_client: Client,
) -> None:
    first, second = Order.objects.create(customer="a"), Order.objects.create(customer="b")
    data = form_data(admin_client.get("/admin/testapp/order/").content, "changelist-form")
    Order.objects.filter(pk=first.pk).update(status="paid")  # seen by the row refresh below
    fresh = fetch_rows(admin_client, "/admin/testapp/order/", first.pk).content
    data["_live_state"] += " " + (attribute(fresh, "data-state") or "")
    index = next(k for k, v in data.items() if k.endswith("-id") and v == str(first.pk))[:-3]
    data[f"{index}-status"] = "paid"  # the row as refreshed, left alone
    response = admin_client.post("/admin/testapp/order/", {**data, "_save": "Save"})
    assert response.status_code == 302
    assert Order.objects.get(pk=first.pk).status == "paid"
    assert Order.objects.get(pk=second.pk).status == "new"
    tampered = {**data, "_live_state": data["_live_state"] + "x", "_save": "Save"}
    request = SimpleNamespace(POST=tampered, path="/")
    assert conflicts.read_token(request, None) is None  # type: ignore[arg-type]


# -- in-place changes over the socket -------------------------------------------------------


async def next_changed(comm: Any) -> dict[str, Any]:
    while True:
        message = await comm.receive_json_from(timeout=TIMEOUT)
        if message["type"] == "changed":
            return message


@pytest.mark.asyncio
async def test_a_watch_hears_its_rows_changes_and_the_list_hears_whether_in_place(
    admin_user: User,
) -> None:
    order, other = await sync_to_async(lambda: [Order.objects.create(customer=c) for c in "ab"])()
    layout = layouts.layout_token(frozenset({"status", "id"}), "testapp.order")
    comm = await subscribed_socket(admin_user, model="testapp.order", layout=layout)
    await comm.send_json_to(
        {
            "type": "watch",
            "id": "rows",
            "model": "testapp.order",
            "pks": [str(order.pk)],
            "layout": layout,
        }
    )
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "watching"

    async def saved(pk: int, **values: Any) -> None:
        def save() -> None:
            obj = Order.objects.get(pk=pk)
            for name, value in values.items():
                setattr(obj, name, value)
            obj.save()

        await sync_to_async(save)()

    await saved(order.pk, customer="Ada")  # in place: the list and the row say so
    told = [await next_changed(comm), await next_changed(comm)]  # the rows' part first
    assert [(m["id"], m["in_place"]) for m in told] == [("rows", True), ("s", True)]
    assert told[0]["pk"] == str(order.pk)
    assert told[0]["fields"] == ["customer"]
    assert "fields" not in told[1]
    assert "pk" not in told[1]
    await saved(order.pk, status="paid")  # a layout field: the whole list
    told = [await next_changed(comm), await next_changed(comm)]
    assert {m["in_place"] for m in told} == {False}
    await saved(other.pk, customer="Bob")  # a row not watched: the list only, in place
    message = await next_changed(comm)
    assert (message["id"], message["in_place"]) == ("s", True)
    await sync_to_async(Order.objects.create)(customer="new")  # created: never in place
    assert (await next_changed(comm))["in_place"] is False
    assert await comm.receive_nothing(0.3)
    await comm.disconnect()


@pytest.mark.asyncio
async def test_a_change_made_while_the_watch_is_checked_reaches_the_watch(
    admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The change and the page's watch race: the change must not fall between the two.
    from live_admin.realtime import presence_socket

    order = await sync_to_async(Order.objects.create)(customer="a")
    checked = presence_socket.watchable

    def checking(request: Any, label: str, pks: list[str]) -> Any:
        found = checked(request, label, pks)
        saving = Order.objects.get(pk=order.pk)
        saving.customer = "b"
        saving.save()  # saved while the check runs
        return found

    monkeypatch.setattr(presence_socket, "watchable", checking)
    layout = layouts.layout_token(frozenset({"id"}), "testapp.order")
    comm = await subscribed_socket(admin_user, model="testapp.order", layout=layout)
    watch = {"type": "watch", "id": "rows", "model": "testapp.order", "pks": [str(order.pk)]}
    await comm.send_json_to({**watch, "layout": layout})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "watching"
    told = [await next_changed(comm), await next_changed(comm)]
    assert [(m["id"], m["in_place"]) for m in told] == [("rows", True), ("s", True)]
    await comm.disconnect()


@pytest.mark.asyncio
async def test_any_subscription_id_works_beside_a_watch(admin_user: User) -> None:
    comm = await subscribed_socket(admin_user, model="testapp.order")
    await comm.send_json_to({"type": "subscribe", "id": "w:rows", "model": "testapp.order"})
    assert (await comm.receive_json_from(timeout=TIMEOUT))["type"] == "subscribed"
    await sync_to_async(Order.objects.create)(customer="a")
    assert {(await next_changed(comm))["id"] for _ in range(2)} == {"s", "w:rows"}
    await comm.disconnect()


def test_a_layout_that_cannot_be_read_leaves_the_page_as_it_was(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("a query shape nobody foresaw")

    monkeypatch.setattr(rows, "_collect", broken)
    response = admin_client.get("/admin/testapp/order/")
    assert response.status_code == 200
    assert attribute(response.content, "data-layout") is None  # whole-page refreshes
    assert "could not read the layout" in caplog.text
