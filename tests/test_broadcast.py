"""The bulk API (notify, batch), coalescing across transactions, and who made a change."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client

import live_admin
from live_admin import protocol as groups
from live_admin.capture.changes import Changes
from live_admin.testing import capture_broadcasts
from testapp.models import Order, OrderLine, Project, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def to(sent: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    return [m for m in sent if m["group"] == group]


def test_notify_whole_model() -> None:
    with capture_broadcasts() as sent:
        live_admin.notify(Ticket)
    model = to(sent, groups.model_group("testapp.ticket"))
    assert model == [
        {
            "type": "live_admin.changed",
            "group": groups.model_group("testapp.ticket"),
            "model": "testapp.ticket",
            "action": "bulk",
            "count": None,
            "origin": None,
            "objects": None,  # which: not known
            "at": ANY,
        }
    ]
    assert to(sent, groups.any_object_group("testapp.ticket"))
    assert to(sent, groups.any_field_group("testapp.ticket"))


def test_notify_some_rows_by_label_inside_transaction() -> None:
    with capture_broadcasts() as sent, transaction.atomic():
        live_admin.notify("testapp.ticket", pks=[1, 2])
        assert sent == []
    assert to(sent, groups.model_group("testapp.ticket"))[0]["count"] == 2
    assert to(sent, groups.object_group("testapp.ticket", 1))[0]["action"] == "bulk"
    assert to(sent, groups.any_field_group("testapp.ticket"))  # group values unknown
    assert not to(sent, groups.any_object_group("testapp.ticket"))


def test_notify_rolled_back_sends_nothing() -> None:
    with capture_broadcasts() as sent, pytest.raises(RuntimeError), transaction.atomic():
        live_admin.notify(Ticket)
        raise RuntimeError
    assert sent == []


def test_batch_coalesces_autocommit_saves() -> None:
    project = Project.objects.create(name="P")
    with capture_broadcasts() as sent, live_admin.batch():
        for i in range(20):
            Ticket.objects.create(project=project, title=f"t{i}")
        Ticket.objects.filter(project=project).update(status="closed")
        live_admin.notify(Ticket)
        assert sent == []
    model = to(sent, groups.model_group("testapp.ticket"))
    assert len(model) == 1
    assert model[0]["action"] == "bulk"
    assert len(to(sent, groups.field_group("testapp.ticket", "project", project.pk))) == 1


def test_nested_batches_send_once_at_the_outermost() -> None:
    project = Project.objects.create(name="P")
    with capture_broadcasts() as sent, live_admin.batch():
        with live_admin.batch():
            Ticket.objects.create(project=project, title="a")
        with transaction.atomic():
            Ticket.objects.create(project=project, title="b")
        assert sent == []
    assert to(sent, groups.model_group("testapp.ticket"))[0]["count"] == 2


def test_batch_sends_what_committed_even_when_it_raises() -> None:
    project = Project.objects.create(name="P")
    with capture_broadcasts() as sent, pytest.raises(RuntimeError), live_admin.batch():
        Ticket.objects.create(project=project, title="committed")
        raise RuntimeError
    assert to(sent, groups.model_group("testapp.ticket"))[0]["count"] == 1


def test_changes_merge_keeps_deletes_and_unions_fields() -> None:
    first, second = Changes(), Changes()
    first.add("a.b", 1, "saved", ["x"], [("g", 1)])
    first.add("a.b", 2, "deleted")
    second.add("a.b", 1, "saved", ["y"], [("g", 2)])
    second.add("a.b", 2, "saved", ["z"])
    second.add("c.d", 9, "saved", ["q"])
    first.merge(second)
    messages = {group: m for group, m in first.messages()}
    assert messages[groups.object_group("a.b", 1)]["fields"] == ["x", "y"]
    assert messages[groups.object_group("a.b", 2)]["action"] == "deleted"
    assert messages[groups.model_group("a.b")]["action"] == "bulk"
    assert messages[groups.field_group("a.b", "g", 2)]["count"] == 1
    assert groups.model_group("c.d") in messages


# -- through the admin -------------------------------------------------------------------------


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_admin_save_names_the_user_and_origin(admin_client: Client) -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T")
    with capture_broadcasts() as sent:
        response = admin_client.post(
            f"/admin/testapp/ticket/{ticket.pk}/change/",
            {
                "project": project.pk,
                "title": "Edited",
                "status": "open",
                "notes": "",
                "_live_origin": "tab-1",
            },
        )
    assert response.status_code == 302
    obj = to(sent, groups.object_group("testapp.ticket", ticket.pk))[0]
    assert obj["by"] == "Ada Root"
    assert obj["origin"] == "tab-1"
    assert obj["fields"] == ["title"]
    assert to(sent, groups.model_group("testapp.ticket"))[0]["origin"] == "tab-1"


ATTACHMENTS = {
    "testapp-attachment-content_type-object_id-TOTAL_FORMS": "0",
    "testapp-attachment-content_type-object_id-INITIAL_FORMS": "0",
}


def test_admin_origin_header_and_bad_origin(admin_client: Client) -> None:
    project = Project.objects.create(name="P")
    with capture_broadcasts() as sent:
        admin_client.post(
            f"/admin/testapp/project/{project.pk}/change/",
            {"name": "Q", "owner": "", **ATTACHMENTS},
            headers={"X-Live-Admin-Origin": "page_42"},
        )
        admin_client.post(
            f"/admin/testapp/project/{project.pk}/change/",
            {"name": "R", "owner": "", "_live_origin": "<script>", **ATTACHMENTS},
        )
    origins = [m["origin"] for m in to(sent, groups.object_group("testapp.project", project.pk))]
    assert origins == ["page_42", None]


def test_inline_save_is_one_change_of_the_order(admin_client: Client) -> None:
    order = Order.objects.create(customer="Ann")
    with capture_broadcasts() as sent:
        response = admin_client.post(
            f"/admin/testapp/order/{order.pk}/change/",
            {
                "customer": "Ann",
                "status": "new",
                "priority": "0",
                "lines-TOTAL_FORMS": "2",
                "lines-INITIAL_FORMS": "0",
                "lines-0-product": "Tea",
                "lines-0-quantity": "1",
                "lines-1-product": "Cake",
                "lines-1-quantity": "2",
            },
        )
    assert response.status_code == 302
    assert OrderLine.objects.filter(order=order).count() == 2
    messages = to(sent, groups.object_group("testapp.order", order.pk))
    assert len(messages) == 1
    assert messages[0]["fields"] == ["lines"]
    assert messages[0]["by"] == "Ada Root"


def test_admin_action_over_many_rows_is_one_message_per_group(admin_client: Client) -> None:
    orders = [Order.objects.create(customer=f"c{i}") for i in range(30)]
    with capture_broadcasts() as sent:
        response = admin_client.post(
            "/admin/testapp/order/",
            {"action": "mark_shipped", "_selected_action": [o.pk for o in orders]},
        )
    assert response.status_code == 302
    assert Order.objects.filter(status="shipped").count() == 30
    model = to(sent, groups.model_group("testapp.order"))
    assert len(model) == 1
    assert model[0]["count"] == 30
    assert len(to(sent, groups.field_group("testapp.order", "status", "shipped"))) == 1
    assert len(to(sent, groups.field_group("testapp.order", "status", "new"))) == 1


def test_admin_delete_view(admin_client: Client) -> None:
    project = Project.objects.create(name="P")
    with capture_broadcasts() as sent:
        admin_client.post(f"/admin/testapp/project/{project.pk}/delete/", {"post": "yes"})
    assert to(sent, groups.object_group("testapp.project", project.pk))[0]["action"] == "deleted"


def test_admin_get_requests_send_nothing(admin_client: Client) -> None:
    Project.objects.create(name="P")
    with capture_broadcasts() as sent:
        assert admin_client.get("/admin/testapp/project/").status_code == 200
    assert sent == []


def test_logout_without_a_session_sends_nothing() -> None:
    from live_admin.delivery.sender import logged_out

    with capture_broadcasts() as sent:
        logged_out(request=None)
    assert sent == []
