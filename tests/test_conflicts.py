"""Conflict-safe saves, through the admin's own views: merges, refusals, choices, the token."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import signing
from django.test import Client, override_settings
from forms import form_data

from live_admin.conflicts import token as conflicts
from testapp.models import Order, OrderLine, Project, Tag, Ticket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ticket() -> Ticket:
    project = Project.objects.create(name="Apollo")
    Project.objects.create(name="Gemini")
    return Ticket.objects.create(project=project, title="Launch", status="open", notes="go")


def opened(client: Client, url: str, form_id: str | None = None) -> dict[str, Any]:
    """Open a change form as a person would, and return what it would post unchanged."""
    response = client.get(url)
    assert response.status_code == 200
    return form_data(response.content, form_id)


def ticket_url(ticket: Ticket) -> str:
    return f"/admin/testapp/ticket/{ticket.pk}/change/"


def errors(response: Any) -> dict[str, list[str]]:
    form = response.context["adminform"].form
    return {name: [str(e) for e in errs] for name, errs in form.errors.items()}


def listed(
    client: Client, *customers: str, site: str = "admin"
) -> tuple[list[Order], dict[str, Any], dict[str, int]]:
    """Orders for ``customers``, and their changelist as opened: what it posts, and each
    order's row number by pk."""
    orders = [Order.objects.create(customer=c) for c in customers]
    data = form_data(client.get(f"/{site}/testapp/order/").content, "changelist-form")
    return orders, data, {data[f"form-{i}-id"]: i for i in range(len(orders))}


def row(data: dict[str, Any], pk: int, field: str) -> str:
    """The posted name of ``field`` in the inline row of object ``pk``."""
    prefix = next(k for k, v in data.items() if k.endswith("-id") and v == str(pk))[:-3]
    return f"{prefix}-{field}"


def test_someone_elses_change_to_another_field_survives(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")  # someone else, meanwhile
    response = admin_client.post(ticket_url(ticket), {**data, "title": "Launch day"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.title, ticket.status) == ("Launch day", "done")


def test_without_a_token_the_save_is_the_stock_admins(
    admin_client: Client, ticket: Ticket, caplog: pytest.LogCaptureFixture
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    del data[conflicts.STATE_FIELD]
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    with caplog.at_level(logging.INFO, "live_admin"):
        response = admin_client.post(ticket_url(ticket), {**data, "title": "Launch day"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"  # last write wins, as without live_admin: nothing to merge on
    assert "without a state token" in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        signing.Signer(salt="another salt").sign_object({"o": "testapp.ticket:1", "f": {}}),
        signing.Signer(salt="live_admin.conflicts").sign_object(
            {"o": "testapp.ticket:999", "f": {}, "r": {}}
        ),
        "",
        "the page's own token, once too many times",
    ],
    ids=["garbage", "not ours", "another object", "empty", "too many parts"],
)
def test_a_bad_token_is_never_merged_on(
    admin_client: Client, ticket: Ticket, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    parts = {"": 0}
    if bad.startswith("the page's own token"):  # each part is good: only their number is not
        bad = " ".join([data[conflicts.STATE_FIELD]] * (conflicts.MAX_PARTS + 1))
        parts[bad] = conflicts.MAX_PARTS + 1
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    with caplog.at_level(logging.WARNING, "live_admin"):
        response = admin_client.post(
            ticket_url(ticket), {**data, "title": "Launch day", conflicts.STATE_FIELD: bad}
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.title, ticket.status) == ("Launch day", "open")
    assert "bad state token" in caplog.text
    if bad in parts:
        assert f"({parts[bad]} parts)" in caplog.text


def test_a_field_both_changed_is_refused_with_both_values(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done", notes="moved")
    response = admin_client.post(ticket_url(ticket), {**data, "status": "blocked", "title": "T2"})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title) == ("done", "Launch")  # nothing written
    assert errors(response) == {
        "status": ["Changed by someone else to “done” while you were editing."]
    }
    html = response.content.decode()
    assert "Keep mine: “blocked”" in html
    assert "Take theirs: “done”" in html
    again = form_data(html, "ticket_form")
    # What the user typed is still there; what they left alone now shows the new value.
    assert (again["status"], again["title"], again["notes"]) == ("blocked", "T2", "moved")
    assert again[conflicts.CONFLICTS_FIELD] == "status"
    assert 'data-unsaved="true"' in html  # the page treats the form as unsaved

    # Saved again without choosing: still refused.
    response = admin_client.post(ticket_url(ticket), again)
    assert errors(response) == {"status": ["Choose whether to keep your value or theirs."]}
    assert Ticket.objects.get(pk=ticket.pk).status == "done"
    # Keep mine: saved, and the merge of the other fields holds.
    chosen = {**again, "_live_keep_status": "mine"}
    assert admin_client.post(ticket_url(ticket), chosen).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title, ticket.notes) == ("blocked", "T2", "moved")


def test_take_theirs_keeps_the_database_value(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    again = form_data(
        admin_client.post(ticket_url(ticket), {**data, "status": "blocked"}).content, "ticket_form"
    )
    response = admin_client.post(ticket_url(ticket), {**again, "_live_keep_status": "theirs"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == "done"


def test_a_third_change_after_the_conflict_is_a_new_conflict(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    again = form_data(
        admin_client.post(ticket_url(ticket), {**data, "status": "blocked"}).content, "ticket_form"
    )
    Ticket.objects.filter(pk=ticket.pk).update(status="review")
    response = admin_client.post(ticket_url(ticket), {**again, "_live_keep_status": "mine"})
    assert errors(response) == {
        "status": ["Changed by someone else to “review” while you were editing."]
    }
    assert Ticket.objects.get(pk=ticket.pk).status == "review"


def test_same_change_by_both_is_no_conflict(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    response = admin_client.post(ticket_url(ticket), {**data, "status": "done", "title": "T"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).title == "T"


def test_relations_merge_too(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    tag = Tag.objects.create(name="urgent")
    gemini = Project.objects.get(name="Gemini")
    ticket.tags.add(tag)  # someone else, meanwhile: a many-to-many and a foreign key
    Ticket.objects.filter(pk=ticket.pk).update(project=gemini)
    assert admin_client.post(ticket_url(ticket), {**data, "title": "T"}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.title, ticket.project, list(ticket.tags.all())) == ("T", gemini, [tag])


def test_a_conflict_on_a_relation_names_the_objects(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    gemini = Project.objects.get(name="Gemini")
    Ticket.objects.filter(pk=ticket.pk).update(project=gemini)
    other = Project.objects.create(name="Mercury")
    response = admin_client.post(ticket_url(ticket), {**data, "project": str(other.pk)})
    assert errors(response) == {
        "project": ["Changed by someone else to “Gemini” while you were editing."]
    }
    assert "Keep mine: “Mercury”" in response.content.decode()


def test_the_history_names_only_the_users_changes(admin_client: Client, ticket: Ticket) -> None:
    from django.contrib.admin.models import LogEntry

    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    admin_client.post(ticket_url(ticket), {**data, "title": "T"})
    entry = LogEntry.objects.get(object_id=str(ticket.pk))
    assert entry.get_change_message() == "Changed Title."


@override_settings(LIVE_ADMIN={"CONFLICTS": "refuse"})
def test_refuse_mode_refuses_any_change_made_meanwhile(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    response = admin_client.post(ticket_url(ticket), {**data, "title": "T"})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "Someone else changed Status while you were editing" in str(form.non_field_errors())
    again = form_data(response.content, "ticket_form")
    assert (again["status"], again["title"]) == ("done", "T")
    assert admin_client.post(ticket_url(ticket), again).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title) == ("done", "T")


@override_settings(LIVE_ADMIN={"CONFLICTS": "off"})
def test_off_mode_adds_nothing(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    assert conflicts.STATE_FIELD not in data
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    admin_client.post(ticket_url(ticket), {**data, "title": "T"})
    assert Ticket.objects.get(pk=ticket.pk).status == "open"


def test_an_add_form_has_no_token(admin_client: Client, ticket: Ticket) -> None:
    data = opened(admin_client, "/admin/testapp/ticket/add/", "ticket_form")
    assert conflicts.STATE_FIELD not in data


# -- inlines --------------------------------------------------------------------------------


@pytest.fixture
def order() -> Order:
    order = Order.objects.create(customer="Ann")
    for product in ("apples", "pears", "plums"):
        OrderLine.objects.create(order=order, product=product, quantity=1)
    return order


def order_url(order: Order, site: str = "admin") -> str:
    return f"/{site}/testapp/order/{order.pk}/change/"


def test_inline_rows_merge_and_are_never_resurrected(admin_client: Client, order: Order) -> None:
    data = opened(admin_client, order_url(order), "order_form")
    apples, pears, plums = order.lines.order_by("pk")
    # Meanwhile: apples' quantity changed, pears deleted, a new line added.
    OrderLine.objects.filter(pk=apples.pk).update(quantity=5)
    pears.delete()
    OrderLine.objects.create(order=order, product="figs", quantity=2)
    plums_quantity = row(data, plums.pk, "quantity")
    response = admin_client.post(
        order_url(order), {**data, "customer": "Ann B.", plums_quantity: "9"}
    )
    assert response.status_code == 302, [
        f.errors for f in response.context["inline_admin_formsets"][0].formset.forms
    ]
    lines = dict(order.lines.values_list("product", "quantity"))
    assert lines == {"apples": 5, "plums": 9, "figs": 2}
    assert Order.objects.get(pk=order.pk).customer == "Ann B."


def test_an_inline_field_both_changed_is_a_conflict(admin_client: Client, order: Order) -> None:
    data = opened(admin_client, order_url(order), "order_form")
    apples = order.lines.order_by("pk")[0]
    OrderLine.objects.filter(pk=apples.pk).update(quantity=5)
    name = row(data, apples.pk, "quantity")
    response = admin_client.post(order_url(order), {**data, name: "7"})
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [str(e) for e in formset.forms[0].errors["quantity"]] == [
        "Changed by someone else to “5” while you were editing."
    ]
    html = response.content.decode()
    assert f'name="_live_keep_{name}"' in html
    again = form_data(html, "order_form")
    assert (
        admin_client.post(order_url(order), {**again, f"_live_keep_{name}": "mine"}).status_code
        == 302
    )
    assert OrderLine.objects.get(pk=apples.pk).quantity == 7


def test_changes_to_a_row_someone_deleted_are_reported_not_saved(
    admin_client: Client, order: Order
) -> None:
    data = opened(admin_client, order_url(order), "order_form")
    pears = order.lines.order_by("pk")[1]
    name = row(data, pears.pk, "quantity")
    pears.delete()
    response = admin_client.post(order_url(order), {**data, name: "4"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said[0] == (
        "A row was deleted by someone else while you were editing; your changes to it were not "
        "saved (Quantity: “4”)."
    )
    assert sorted(order.lines.values_list("product", flat=True)) == ["apples", "plums"]


# -- list_editable --------------------------------------------------------------------------


def test_list_edits_merge_and_conflicting_rows_are_reported(admin_client: Client) -> None:
    ann, ben, cid = (Order.objects.create(customer=c) for c in ("Ann", "Ben", "Cid"))
    url = "/other-admin/testapp/order/"
    data = form_data(admin_client.get(url).content, "changelist-form")
    assert conflicts.STATE_FIELD in data
    rows = {data[f"form-{i}-id"]: i for i in range(3)}
    Order.objects.filter(pk=ann.pk).update(priority=3)  # disjoint from the status edit below
    Order.objects.filter(pk=ben.pk).update(status="paid")  # the same field as the edit below
    edits = {
        f"form-{rows[str(ann.pk)]}-status": "packed",
        f"form-{rows[str(ben.pk)]}-status": "shipped",
        f"form-{rows[str(cid.pk)]}-priority": "1",
    }
    response = admin_client.post(url, {**data, **edits, "_save": "Save"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert "2 orders were changed successfully." in said
    assert f"“Order object ({ben.pk})” was not saved" in said[-1]
    assert said[-1].endswith("Status is now “paid” (yours: “shipped”).")
    got = {o.customer: (o.status, o.priority) for o in Order.objects.all()}
    assert got == {"Ann": ("packed", 3), "Ben": ("paid", 0), "Cid": ("new", 1)}


@override_settings(LIVE_ADMIN={"CONFLICTS": "refuse"})
def test_list_rows_changed_meanwhile_are_not_saved_in_refuse_mode(admin_client: Client) -> None:
    ann = Order.objects.create(customer="Ann")
    url = "/other-admin/testapp/order/"
    data = form_data(admin_client.get(url).content, "changelist-form")
    Order.objects.filter(pk=ann.pk).update(priority=3)
    response = admin_client.post(
        url, {**data, "form-0-status": "packed", "_save": "Save"}, follow=True
    )
    said = [str(m) for m in response.context["messages"]]
    assert said == [
        f"“Order object ({ann.pk})” was not saved: someone else changed Priority while you were "
        "editing."
    ]
    assert Order.objects.get(pk=ann.pk).status == "new"


def test_a_list_with_errors_shows_the_conflict_on_its_row(admin_client: Client) -> None:
    (ann, ben), data, rows = listed(admin_client, "Ann", "Ben")
    url = "/admin/testapp/order/"
    Order.objects.filter(pk=ann.pk).update(status="paid")
    edits = {
        f"form-{rows[str(ann.pk)]}-status": "shipped",
        f"form-{rows[str(ben.pk)]}-status": "x" * 30,  # too long: the list comes back
    }
    response = admin_client.post(url, {**data, **edits, "_save": "Save"})
    assert response.status_code == 200
    form = response.context["cl"].formset.forms[rows[str(ann.pk)]]
    assert [str(e) for e in form.errors["status"]] == [
        "Changed by someone else to “paid”; save again to replace it with yours."
    ]


def test_files_and_json_merge_without_opening_the_file(admin_client: Client) -> None:
    from testapp.models import Blob

    blob = Blob.objects.create(upload="nowhere/missing.txt", meta={"a": 1, "z": [1, 2]})
    url = f"/admin/testapp/blob/{blob.pk}/change/"
    data = opened(admin_client, url, "blob_form")  # the stored file does not exist: never read
    Blob.objects.filter(pk=blob.pk).update(meta={"b": 2})
    response = admin_client.post(url, {**data, "order_number": "7"})
    assert response.status_code == 302
    blob.refresh_from_db()
    assert (blob.meta, blob.order_number, blob.upload.name) == ({"b": 2}, 7, "nowhere/missing.txt")


# -- what a review found ----------------------------------------------------------------------


def test_a_merged_field_is_in_cleaned_data_for_save_model(
    admin_client: Client, ticket: Ticket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from testapp.admin import TicketAdmin

    seen = {}
    original = TicketAdmin.save_model

    def save_model(self: Any, request: Any, obj: Any, form: Any, change: bool) -> None:
        seen.update(form.cleaned_data)  # admins read it; a merged field must be there
        original(self, request, obj, form, change)

    monkeypatch.setattr(TicketAdmin, "save_model", save_model)
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    assert admin_client.post(ticket_url(ticket), {**data, "title": "T"}).status_code == 302
    assert (seen["status"], seen["title"]) == ("done", "T")


def test_a_field_with_an_error_is_judged_from_where_the_user_started(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    Ticket.objects.filter(pk=ticket.pk).update(title="Theirs")
    response = admin_client.post(ticket_url(ticket), {**data, "title": ""})  # required
    assert errors(response) == {"title": ["This field is required."]}
    again = form_data(response.content, "ticket_form")
    response = admin_client.post(ticket_url(ticket), {**again, "title": "Mine"})
    assert errors(response) == {
        "title": ["Changed by someone else to “Theirs” while you were editing."]
    }
    assert Ticket.objects.get(pk=ticket.pk).title == "Theirs"


def test_editing_a_list_row_someone_deleted_saves_the_rest(admin_client: Client) -> None:
    (ann, ben), data, rows = listed(admin_client, "Ann", "Ben")
    url = "/admin/testapp/order/"
    edits = {
        f"form-{rows[str(ann.pk)]}-status": "packed",
        f"form-{rows[str(ben.pk)]}-status": "paid",
    }
    ann.delete()
    response = admin_client.post(url, {**data, **edits, "_save": "Save"}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert "1 order was changed successfully." in said
    assert any("deleted by someone else" in m and "“packed”" in m for m in said), said
    assert list(Order.objects.values_list("customer", "status")) == [("Ben", "paid")]


def test_an_add_form_is_not_taken_for_a_list(
    admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    project = Project.objects.create(name="P")
    with caplog.at_level(logging.INFO, "live_admin"):
        response = admin_client.post(
            "/admin/testapp/order/add/",
            {
                "customer": "New",
                "status": "new",
                "priority": "0",
                "lines-TOTAL_FORMS": "0",
                "lines-INITIAL_FORMS": "0",
                "_save": "Save",
            },
        )
    assert response.status_code == 302
    assert project.pk
    assert "state token" not in caplog.text


def test_keep_mine_for_a_file_asks_for_the_file_again(admin_client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from testapp.models import Blob

    blob = Blob.objects.create(upload="first.txt")
    url = f"/admin/testapp/blob/{blob.pk}/change/"
    data = opened(admin_client, url, "blob_form")
    Blob.objects.filter(pk=blob.pk).update(upload="theirs.txt")
    mine = SimpleUploadedFile("mine.txt", b"mine")
    response = admin_client.post(url, {**data, "upload": mine})
    assert "upload" in response.context["adminform"].form.errors
    again = form_data(response.content, "blob_form")
    response = admin_client.post(url, {**again, "_live_keep_upload": "mine"})  # no file now
    assert [str(e) for e in response.context["adminform"].form.errors["upload"]] == [
        "Choose your file again to keep it."
    ]
    assert Blob.objects.get(pk=blob.pk).upload.name == "theirs.txt"


@pytest.mark.parametrize(
    ("field", "initial", "cleaned", "same"),
    [
        ("text", "line one\nline two", "line one\r\nline two", True),  # browsers post CRLF
        ("text", "  padded ", "padded", True),  # CharField strips
        ("when", "2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+01:00", True),
        ("json", [1, 2], [2, 1], False),  # a list's order is its value
        ("json", {"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ("json", 5, "5", False),
    ],
)
def test_canonical_values(field: str, initial: Any, cleaned: Any, same: bool) -> None:
    import datetime

    from django import forms

    fields = {
        "text": forms.CharField(widget=forms.Textarea),
        "when": forms.DateTimeField(),
        "json": forms.JSONField(),
    }
    if field == "when":
        initial, cleaned = (datetime.datetime.fromisoformat(v) for v in (initial, cleaned))
    left, right = (conflicts.canonical(fields[field], v) for v in (initial, cleaned))
    assert (left == right) is same


def test_the_same_state_gives_the_same_token(admin_client: Client, ticket: Ticket) -> None:
    """A page updated in place and a fresh load agree on the token (it has no timestamp)."""
    first = opened(admin_client, ticket_url(ticket), "ticket_form")[conflicts.STATE_FIELD]
    assert opened(admin_client, ticket_url(ticket), "ticket_form")[conflicts.STATE_FIELD] == first
    Ticket.objects.filter(pk=ticket.pk).update(status="done")
    assert opened(admin_client, ticket_url(ticket), "ticket_form")[conflicts.STATE_FIELD] != first


def test_a_bad_object_id_with_a_token_is_the_stock_not_found(
    admin_client: Client, ticket: Ticket
) -> None:
    data = opened(admin_client, ticket_url(ticket), "ticket_form")
    response = admin_client.post("/admin/testapp/ticket/abc/change/", data)
    assert response.status_code == 302  # the admin's own "doesn't exist" redirect


def test_a_form_with_errors_keeps_the_start_of_a_row_deleted_meanwhile(
    admin_client: Client, order: Order
) -> None:
    data = opened(admin_client, order_url(order), "order_form")
    pears = order.lines.order_by("pk")[1]
    pk = str(pears.pk)
    pears.delete()
    response = admin_client.post(order_url(order), {**data, "customer": ""})  # required
    assert response.status_code == 200
    token = form_data(response.content, "order_form")[conflicts.STATE_FIELD]
    rows = signing.Signer(salt="live_admin.conflicts").unsign_object(token)["r"]["lines"]
    assert pk in rows  # judged as first rendered when saved again


@override_settings(LIVE_ADMIN={"CONFLICTS": "refuse"})
def test_a_refused_list_row_shows_its_error_when_the_list_comes_back(
    admin_client: Client,
) -> None:
    (ann, ben), data, rows = listed(admin_client, "Ann", "Ben", site="other-admin")
    Order.objects.filter(pk=ann.pk).update(priority=3)
    edits = {
        f"form-{rows[str(ann.pk)]}-status": "packed",
        f"form-{rows[str(ben.pk)]}-status": "x" * 30,  # too long: the list comes back
    }
    url = "/other-admin/testapp/order/"
    response = admin_client.post(url, {**data, **edits, "_save": "Save"})
    assert response.status_code == 200
    form = response.context["cl"].formset.forms[rows[str(ann.pk)]]
    assert "someone else changed Priority while you were editing" in str(form.non_field_errors())
