"""What the observers record for ORM changes, checked through the messages that would be sent."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from django.contrib import admin
from django.db import connection, transaction
from django.db.models import signals
from django.test.utils import CaptureQueriesContext

from live_admin import protocol as groups
from live_admin.capture import snapshots
from live_admin.capture.observers import _specs
from live_admin.testing import capture_broadcasts
from testapp.models import Document, Note, Order, OrderLine, PartlyTracked, Project, Tag, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def by_group(sent: list[dict[str, Any]], model: str | None = None) -> dict[str, dict[str, Any]]:
    result = {m["group"]: m for m in sent if model in (None, m["model"])}
    sent = [m for m in sent if model in (None, m["model"])]
    assert len(result) == len(sent), "a group got two messages from one transaction"
    return result


@pytest.fixture
def project() -> Project:
    return Project.objects.create(name="Alpha")


def test_create_update_delete(project: Project) -> None:
    with capture_broadcasts() as sent:
        ticket = Ticket.objects.create(project=project, title="First")
    created = by_group(sent)
    obj = created[groups.object_group("testapp.ticket", ticket.pk)]
    assert obj["action"] == "saved"
    assert obj["pk"] == str(ticket.pk)
    assert {"title", "status", "project"} <= set(obj["fields"])
    model = created[groups.model_group("testapp.ticket")]
    assert model.pop("objects") == {  # for the sockets: each object's part, for row refreshes
        str(ticket.pk): {
            "action": "saved",
            "fields": ANY,
            "by": None,
            "origin": None,
            "created": True,
        }
    }
    assert model | {"group": None, "at": None} == {
        "type": "live_admin.changed",
        "group": None,
        "model": "testapp.ticket",
        "action": "saved",
        "count": 1,
        "origin": None,
        "at": None,
    }
    assert groups.field_group("testapp.ticket", "project", project.pk) in created

    with capture_broadcasts() as sent:
        ticket.status = "closed"
        ticket.save()
    assert by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["status"]

    pk = ticket.pk
    with capture_broadcasts() as sent:
        ticket.delete()
    deleted = by_group(sent)
    assert deleted[groups.object_group("testapp.ticket", pk)]["action"] == "deleted"
    assert deleted[groups.model_group("testapp.ticket")]["action"] == "deleted"


def test_messages_never_carry_values(project: Project) -> None:
    with capture_broadcasts() as sent:
        Ticket.objects.create(project=project, title="top-secret-title", notes="secret-notes")
    text = repr(sent)
    assert sent
    assert "top-secret-title" not in text
    assert "secret-notes" not in text


def test_noop_save_is_silent(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="Same")
    with capture_broadcasts() as sent:
        ticket.save()
        Ticket.objects.get(pk=ticket.pk).save()
    assert sent == []


def test_live_fields_limit_what_counts(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    with capture_broadcasts() as sent:
        ticket.notes = "not a live field"
        ticket.save()
    assert by_group(sent, "testapp.ticket") == {}
    assert by_group(sent, "testapp.urgentticket")  # its admin watches every field
    with capture_broadcasts() as sent:
        ticket.notes, ticket.title = "again", "Renamed"
        ticket.save()
    assert by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["title"]


def test_update_fields_is_honoured(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    with capture_broadcasts() as sent:
        ticket.title = "changed in memory only"
        ticket.status = "closed"
        ticket.save(update_fields=["status"])
    assert by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["status"]
    with capture_broadcasts() as sent:
        ticket.save(update_fields=["status"])  # status is saved already; title not written
    assert sent == []


def test_group_move_notifies_old_and_new_group(project: Project) -> None:
    other = Project.objects.create(name="Beta")
    ticket = Ticket.objects.create(project=project, title="Moving")
    with capture_broadcasts() as sent:
        ticket.project = other
        ticket.save()
    sent_to = by_group(sent)
    assert groups.field_group("testapp.ticket", "project", project.pk) in sent_to
    assert groups.field_group("testapp.ticket", "project", other.pk) in sent_to


def test_rollback_sends_nothing(project: Project) -> None:
    with capture_broadcasts() as sent, pytest.raises(RuntimeError), transaction.atomic():
        Ticket.objects.create(project=project, title="Never")
        raise RuntimeError
    assert sent == []


def test_nothing_before_outermost_commit_and_savepoint_rollback(project: Project) -> None:
    with capture_broadcasts() as sent, transaction.atomic():
        kept = Ticket.objects.create(project=project, title="Kept")
        with pytest.raises(RuntimeError), transaction.atomic():
            dropped = Ticket.objects.create(project=project, title="Dropped")
            raise RuntimeError
        with transaction.atomic():
            Ticket.objects.filter(pk=kept.pk).update(title="x")  # no signal: nothing recorded
        assert sent == []
    sent_to = by_group(sent)
    assert groups.object_group("testapp.ticket", kept.pk) in sent_to
    assert groups.object_group("testapp.ticket", dropped.pk) not in sent_to


def test_five_hundred_rows_one_message_per_group(project: Project) -> None:
    with capture_broadcasts() as sent, transaction.atomic():
        for i in range(500):
            Ticket.objects.create(project=project, title=f"t{i}")
    sent_to = by_group(sent, "testapp.ticket")
    model = sent_to[groups.model_group("testapp.ticket")]
    assert model["count"] == 500
    assert sent_to[groups.field_group("testapp.ticket", "project", project.pk)]["count"] == 500
    # one per object, one for the model, one for the project group
    assert len(sent_to) == 502


def test_save_path_makes_no_query(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    ticket.title = "New"
    with CaptureQueriesContext(connection) as queries, capture_broadcasts() as sent:
        ticket.save()
    assert sent
    assert len(queries) == 1  # the UPDATE itself


def test_no_post_init_receivers() -> None:
    for model in (Ticket, Project, Order, OrderLine, Document, Note):
        assert not signals.post_init.has_listeners(model)


def test_inline_changes_count_as_parent_changes() -> None:
    order = Order.objects.create(customer="Ann")
    with capture_broadcasts() as sent:
        line = OrderLine.objects.create(order=order, product="Tea")
    sent_to = by_group(sent)
    parent = sent_to[groups.object_group("testapp.order", order.pk)]
    assert parent["fields"] == ["lines"]
    assert groups.field_group("testapp.order", "status", "new") in sent_to  # parent cached
    line = OrderLine.objects.get(pk=line.pk)
    with capture_broadcasts() as sent:
        line.quantity = 3
        line.save()
    sent_to = by_group(sent)
    assert groups.object_group("testapp.order", order.pk) in sent_to
    assert groups.field_group("testapp.order", "status", "new") not in sent_to  # no query
    assert groups.any_field_group("testapp.order") in sent_to  # so every group is told
    with capture_broadcasts() as sent:
        line.save()
    assert sent == []
    other = Order.objects.create(customer="Bob")
    with capture_broadcasts() as sent:
        line.order = other
        line.save()
    sent_to = by_group(sent)
    assert groups.object_group("testapp.order", order.pk) in sent_to
    assert groups.object_group("testapp.order", other.pk) in sent_to
    with capture_broadcasts() as sent:
        line.delete()
    assert groups.object_group("testapp.order", other.pk) in by_group(sent)


def test_cascade_delete_keeps_parent_deleted() -> None:
    order = Order.objects.create(customer="Ann")
    OrderLine.objects.create(order=order, product="Tea")
    pk = order.pk
    with capture_broadcasts() as sent:
        order.delete()
    assert by_group(sent)[groups.object_group("testapp.order", pk)]["action"] == "deleted"


def test_many_to_many_changes(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    tag = Tag.objects.create(name="bug")
    with capture_broadcasts() as sent:
        ticket.tags.add(tag)
    assert by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["tags"]
    with capture_broadcasts() as sent:
        tag.ticket_set.remove(ticket)
    sent_to = by_group(sent)
    assert sent_to[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["tags"]
    assert groups.any_field_group("testapp.ticket") in sent_to
    ticket.tags.add(tag)
    with capture_broadcasts() as sent:
        tag.ticket_set.clear()
    sent_to = by_group(sent)
    assert sent_to[groups.any_object_group("testapp.ticket")]["action"] == "bulk"
    with capture_broadcasts() as sent:
        ticket.tags.clear()
    assert groups.object_group("testapp.ticket", ticket.pk) in by_group(sent)


def test_proxy_admin_hears_concrete_saves(project: Project) -> None:
    with capture_broadcasts() as sent:
        ticket = Ticket.objects.create(project=project, title="T")
    sent_to = by_group(sent)
    assert groups.object_group("testapp.urgentticket", ticket.pk) in sent_to
    assert groups.object_group("testapp.ticket", ticket.pk) in sent_to


def test_odd_primary_keys_and_values() -> None:
    shelf = "Überraschung " * 20  # past a group name's 100 characters, within max_length
    with capture_broadcasts() as sent:
        doc = Document.objects.create(title="D", shelf=shelf)
    sent_to = by_group(sent)
    assert groups.object_group("testapp.document", doc.pk) in sent_to
    assert groups.field_group("testapp.document", "shelf", shelf) in sent_to
    assert sent_to[groups.object_group("testapp.document", doc.pk)]["pk"] == str(doc.pk)


def test_model_own_tracker_is_used() -> None:
    spec = _specs[Note]
    assert spec.tracker == "tracker"
    assert not getattr(Note.from_db, snapshots.MARK, False)  # nothing of ours on the class
    note = Note.objects.create(text="a")
    with capture_broadcasts() as sent:
        note.pinned = True
        note.save()
    assert by_group(sent)[groups.object_group("testapp.note", note.pk)]["fields"] == ["pinned"]


def test_partial_own_tracker_is_not_enough() -> None:
    assert _specs[PartlyTracked].tracker == ""  # it leaves out "b": the loaded values are kept
    obj = PartlyTracked.objects.create(a="1", b="1")
    obj = PartlyTracked.objects.get(pk=obj.pk)
    with capture_broadcasts() as sent:
        obj.b = "2"
        obj.save()
    assert by_group(sent)[groups.object_group("testapp.partlytracked", obj.pk)]["fields"] == ["b"]


def test_deferred_fields(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    loaded = Ticket.objects.only("id", "status").get(pk=ticket.pk)
    loaded.title = "assigned while deferred"  # no query loads its old value
    with CaptureQueriesContext(connection) as queries, capture_broadcasts() as sent:
        loaded.save(update_fields=["title"])
    assert len(queries) == 1
    assert by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"] == ["title"]


def test_a_save_without_its_group_field_loaded_tells_every_group(project: Project) -> None:
    """The row's group is unknown without a query; the save must not cost one, so the pages of
    every group are told (the pages of the row's own group would otherwise miss it)."""
    ticket = Ticket.objects.create(project=project, title="T")
    loaded = Ticket.objects.only("id", "title").get(pk=ticket.pk)
    loaded.title = "retitled"
    with CaptureQueriesContext(connection) as queries, capture_broadcasts() as sent:
        loaded.save(update_fields=["title"])
    assert len(queries) == 1
    assert groups.any_field_group("testapp.ticket") in by_group(sent)


def test_registered_on_two_sites_connects_once() -> None:
    from testapp.admin import other_site

    assert admin.site.is_registered(Project)
    assert other_site.is_registered(Project)
    live = [
        r for r in signals.post_save._live_receivers(Project)[0] if "live_admin" in r.__module__
    ]
    assert len(live) == 1


def test_fixture_loading_is_not_broadcast(project: Project) -> None:
    with capture_broadcasts() as sent:
        signals.post_save.send(
            Project, instance=project, created=False, update_fields=None, raw=True, using="default"
        )
    assert sent == []


def test_instance_without_loaded_values_counts_every_field(project: Project) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    ticket = Ticket(pk=ticket.pk, project=project, title="Saved anyway")  # made, not loaded
    with capture_broadcasts() as sent:
        ticket.save()
    fields = by_group(sent)[groups.object_group("testapp.ticket", ticket.pk)]["fields"]
    assert {"title", "status", "project"} <= set(fields)
    assert Ticket.objects.get(pk=ticket.pk).title == "Saved anyway"


def test_many_to_many_outside_live_fields(project: Project, admin_user: Any) -> None:
    ticket = Ticket.objects.create(project=project, title="T")
    with capture_broadcasts() as sent:
        ticket.watchers.add(admin_user)
    assert by_group(sent, "testapp.ticket") == {}
    assert by_group(sent, "testapp.urgentticket")  # watches every field


def test_generic_inlines_are_not_followed(project: Project) -> None:
    from django.contrib.contenttypes.models import ContentType

    from testapp.models import Attachment

    assert Attachment not in _specs
    with capture_broadcasts() as sent:
        Attachment.objects.create(
            content_type=ContentType.objects.get_for_model(Project), object_id=project.pk, name="a"
        )
    assert sent == []
