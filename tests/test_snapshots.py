"""Observation leaves the observed models alone: Django's own behaviour, queries and errors."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import user_logged_in
from django.contrib.auth.models import User, update_last_login
from django.db import connection
from django.db.models import Model
from django.db.models.fields.files import FileDescriptor
from django.db.models.query_utils import DeferredAttribute
from django.test import Client
from django.test.utils import CaptureQueriesContext

from live_admin import protocol as groups
from live_admin.admin import LiveAdminMixin
from live_admin.capture import snapshots
from live_admin.testing import capture_broadcasts
from testapp.models import Blob, Order, Project, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


def fields_sent(sent: list[dict[str, Any]], label: str, pk: object) -> list[str] | None:
    for message in sent:
        if message["group"] == groups.object_group(label, pk):
            return message["fields"]
    return None


def test_descriptors_and_init_are_djangos() -> None:
    for model in (Ticket, Project, Order, Blob, User):
        assert model.__init__ is Model.__init__
        for f in model._meta.concrete_fields:
            assert type(getattr(model, f.attname)) is f.descriptor_class, f
    assert isinstance(Blob.upload, FileDescriptor)


def test_logins_still_set_last_login(admin_user: User) -> None:
    from testapp.admin import other_site

    assert other_site.is_registered(User)
    assert type(vars(User)["last_login"]) is DeferredAttribute
    assert update_last_login in [r[1]() for r in user_logged_in.receivers if r[1]()]
    assert admin_user.last_login is None
    client = Client()
    client.post("/admin/login/", {"username": admin_user.username, "password": "pw"})
    assert client.session.get("_auth_user_id") == str(admin_user.pk)
    admin_user.refresh_from_db()
    assert admin_user.last_login is not None


def test_deferred_field_reads_run_djangos_queries(admin_user: User) -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T", notes="N")
    loaded = Ticket.objects.only("id").get(pk=ticket.pk)
    with CaptureQueriesContext(connection) as queries:
        assert loaded.title == "T"
    assert len(queries) == 1
    loaded = Ticket.objects.only("id").get(pk=ticket.pk)
    with CaptureQueriesContext(connection) as queries:
        loaded.refresh_from_db(fields=["title", "notes"])
    assert len(queries) == 1
    loaded = Ticket.objects.only("id").get(pk=ticket.pk)
    with CaptureQueriesContext(connection) as queries:
        loaded.title = "assigned while deferred"
    assert len(queries) == 0


def test_a_deferred_field_loaded_later_is_remembered() -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T")
    loaded = Ticket.objects.only("id", "project").get(pk=ticket.pk)
    assert loaded.title == "T"  # loaded now, through refresh_from_db
    with capture_broadcasts() as sent:
        loaded.save()
    assert sent == []
    loaded.status = "closed"
    with capture_broadcasts() as sent:
        loaded.save()
    assert fields_sent(sent, "testapp.ticket", ticket.pk) == ["status"]


def test_a_reload_is_remembered() -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T")
    Ticket.objects.filter(pk=ticket.pk).update(title="changed elsewhere")
    ticket.refresh_from_db()
    with capture_broadcasts() as sent:
        ticket.save()
    assert sent == []


def test_a_reload_through_a_whole_queryset_is_remembered() -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T")
    Ticket.objects.filter(pk=ticket.pk).update(title="changed elsewhere")
    ticket.refresh_from_db(from_queryset=Ticket.objects.select_related("project"))
    with capture_broadcasts() as sent:
        ticket.save()
    assert sent == []


def test_keywords_to_from_db_are_passed_on() -> None:
    """Django 6.1 loads rows with ``from_db(..., fetch_mode=...)``: the wrapper hands keywords
    on to the model's own from_db, and still keeps the row."""

    class Loaded:
        fetch_mode: object = None

    class Fake:
        _meta = Ticket._meta

        @classmethod
        def from_db(cls, db: str, names: Any, values: Any, *, fetch_mode: object = None) -> Any:
            loaded = Loaded()
            loaded.fetch_mode = fetch_mode
            return loaded

        def refresh_from_db(self, using: Any = None, fields: Any = None) -> None:
            """Not called here."""

    snapshots.watch(Fake)  # type: ignore[arg-type]
    names = [f.attname for f in Ticket._meta.concrete_fields]
    row = tuple(range(len(names)))
    loaded = Fake.from_db("default", names, row, fetch_mode="peers")
    assert (loaded.fetch_mode, loaded._live_admin_loaded) == ("peers", row)
    assert Fake.from_db("default", names, row).fetch_mode is None


def test_a_refresh_called_wrongly_fails_as_djangos_own_does() -> None:
    ticket = Ticket.objects.create(project=Project.objects.create(name="P"), title="T")
    with pytest.raises(TypeError) as djangos:
        Model.refresh_from_db(ticket, bogus=1)
    with pytest.raises(TypeError) as ours:
        ticket.refresh_from_db(bogus=1)  # type: ignore[call-arg]
    assert str(ours.value) == str(djangos.value)


def test_values_are_kept_and_compared_as_drivers_hand_them() -> None:
    """psycopg2 reads bytea as a memoryview, which equals no bytes; a value that cannot be
    copied is kept as it is, and one that cannot be compared counts as changed."""
    from live_admin.capture.detection import differ as _differ

    read = memoryview(b"ab").cast("c")  # as psycopg2 hands a bytea
    assert read != b"ab"
    kept = snapshots._copy(read, deep=False)
    assert type(kept) is bytes
    assert kept == b"ab"
    listed = [1]  # deep only for models with mutable fields (JSON, arrays): else not copied
    assert snapshots._copy(listed, deep=False) is listed
    copied = snapshots._copy(listed, deep=True)
    assert copied == listed
    assert copied is not listed
    assert not _differ(read, b"ab")
    assert not _differ(b"ab", read)
    assert _differ(read, memoryview(b"ac").cast("c"))

    class Odd:
        def __deepcopy__(self, memo: object) -> None:
            raise TypeError("not copyable")

        def __ne__(self, other: object) -> bool:
            raise TypeError("not comparable")

    odd = Odd()
    assert snapshots._copy(odd, deep=True) is odd
    assert _differ(odd, odd)


def test_an_unknown_old_group_tells_every_group() -> None:
    project, other = Project.objects.create(name="P"), Project.objects.create(name="Q")
    ticket = Ticket.objects.create(project=project, title="T")
    loaded = Ticket.objects.only("id").get(pk=ticket.pk)
    loaded.project = other  # its old project was never loaded
    with capture_broadcasts() as sent:
        loaded.save(update_fields=["project"])
    sent_to = {m["group"] for m in sent}
    assert groups.any_field_group("testapp.ticket") in sent_to


def test_odd_fields_load_and_save() -> None:
    order = Order.objects.create(customer="Ann")
    blob = Blob.objects.create(data=b"x", meta={"a": [1]})
    row = Blob.objects.get(pk=blob.pk)
    # What psycopg2 returns for bytea on PostgreSQL: a memoryview, which cannot be copied, of
    # format "c" (never equal to bytes, not even to the same ones).
    names = [f.attname for f in Blob._meta.concrete_fields]
    values = [getattr(row, n) for n in names]
    values[names.index("data")] = memoryview(b"x").cast("c")
    loaded = Blob.from_db("default", names, values)
    assert isinstance(loaded.upload, type(row.upload))
    assert row.order is None  # a multi-column relation, never read by the observer
    del row.order_customer  # a field can be deleted, as on any model
    assert pickle.loads(pickle.dumps(loaded)).data == b"x"  # as Django pickles a memoryview
    loaded.meta["a"].append(3)
    with capture_broadcasts() as sent:
        loaded.save()
    assert fields_sent(sent, "testapp.blob", blob.pk) == ["meta"]  # the same bytes, unchanged
    loaded.data = b"y"
    with capture_broadcasts() as sent:
        loaded.save()
    assert fields_sent(sent, "testapp.blob", blob.pk) == ["data"]
    row = Blob.objects.get(pk=blob.pk)
    row.meta["a"].append(2)  # changed in place: the loaded value was a copy
    with capture_broadcasts() as sent:
        row.save()
    assert fields_sent(sent, "testapp.blob", blob.pk) == ["meta"]
    row.order_number, row.order_customer = order.pk, "Ann"
    with capture_broadcasts() as sent:
        row.save()
    assert fields_sent(sent, "testapp.blob", blob.pk) == ["order_customer", "order_number"]


def test_pickled_instances_keep_what_they_were_loaded_with() -> None:
    project = Project.objects.create(name="P")
    ticket = pickle.loads(
        pickle.dumps(Ticket.objects.get(pk=Ticket.objects.create(project=project, title="T").pk))
    )
    with capture_broadcasts() as sent:
        ticket.save()
    assert sent == []


def test_observer_errors_never_fail_the_save(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a primary key with no text, say")

    monkeypatch.setattr("live_admin.capture.record.Changes.add", broken)
    with caplog.at_level(logging.DEBUG, "live_admin"), capture_broadcasts() as sent:
        project = Project.objects.create(name="saved anyway")
        project.name = "and again"
        project.save()
        project.delete()
    assert sent == []
    assert not Project.objects.filter(name__contains="saved").exists()
    assert "_saved failed" in caplog.text
    assert "_deleted failed" in caplog.text
    assert "a primary key with no text" in caplog.text


def test_loaded_values_are_one_attribute() -> None:
    project = Project.objects.create(name="P")
    loaded = Project.objects.get(pk=project.pk)
    assert vars(loaded)[snapshots.ATTR] == (project.pk, "P", None)  # as loaded: one tuple
    assert snapshots.loaded(loaded) == {"id": project.pk, "name": "P", "owner_id": None}
    assert loaded.get_deferred_fields() == set()


def test_a_file_saved_in_place_counts(tmp_path: Any) -> None:
    from django.core.files.base import ContentFile
    from django.test import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path)):
        blob = Blob.objects.create()
        assert snapshots.loaded(blob)["upload"] == ""  # a name, not the FieldFile itself
        with capture_broadcasts() as sent:
            blob.upload.save("a.txt", ContentFile(b"x"))  # changes the FieldFile, then saves
        assert fields_sent(sent, "testapp.blob", blob.pk) == ["upload"]


def test_what_a_refresh_did_not_load_stays_unsaved() -> None:
    project = Project.objects.create(name="P")
    ticket = Ticket.objects.create(project=project, title="T")
    ticket.title = "local edit"
    ticket.refresh_from_db(from_queryset=Ticket.objects.only("status"))
    with capture_broadcasts() as sent:
        ticket.save()
    assert fields_sent(sent, "testapp.ticket", ticket.pk) == ["title"]
    ticket.status = "local"
    ticket.refresh_from_db(fields=(name for name in ["status"]))  # a generator, read once
    assert ticket.status == "open"
    with capture_broadcasts() as sent:
        ticket.save()
    assert sent == []


def test_an_expression_is_no_value() -> None:
    from django.db.models import F

    from testapp.models import OrderLine

    line = OrderLine.objects.create(order=Order.objects.create(customer="A"), product="Tea")
    line.quantity = F("quantity") + 1
    line.save()  # Django 6.0+ reloads the value here; 5.2 leaves the expression
    before = OrderLine.objects.get(pk=line.pk).quantity
    with capture_broadcasts() as sent:
        line.save()  # with the expression left on it: adds one again
    changed = OrderLine.objects.get(pk=line.pk).quantity != before
    assert changed == hasattr(line.quantity, "resolve_expression")
    assert fields_sent(sent, "testapp.order", line.order_id) == (["lines"] if changed else None)


def test_a_group_named_by_its_attname() -> None:
    from live_admin.capture.observers import _specs

    views = _specs[Project].views
    kept = dict(views)
    site = admin.AdminSite(name="attname-groups")
    site.register(
        Project, type("A", (LiveAdminMixin, admin.ModelAdmin), {"live_group_by": ("owner_id",)})
    )
    site.get_urls()  # as a project's URLconf does: registered admins are prepared then
    try:
        user = User.objects.create_user("owner")
        with capture_broadcasts() as sent:
            project = Project.objects.create(name="P", owner=user)
        assert groups.field_group("testapp.project", "owner_id", user.pk) in {
            m["group"] for m in sent
        }
        project.owner = None
        with capture_broadcasts() as sent:
            project.save()
        assert groups.field_group("testapp.project", "owner_id", user.pk) in {
            m["group"] for m in sent
        }
    finally:
        site.unregister(Project)
        views.clear()
        views.update(kept)
