"""Actions and deletes checked against what the page showed, through the admin's own views."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from forms import form_data

from testapp.models import Order, Project

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/admin/testapp/order/"
SEEN = "_live_seen"


def shown(client: Client, url: str = URL) -> dict[str, Any]:
    """What the changelist at ``url`` posts, as opened."""
    response = client.get(url)
    assert response.status_code == 200
    return form_data(response.content, "changelist-form")


def act(
    client: Client, data: dict[str, Any], action: str, *orders: Order, url: str = URL, **more: Any
) -> Any:
    """Tick ``orders``, choose ``action`` and press Go, as a person does on the list."""
    post = {**data, "action": action, "index": "0", **more}
    post["_selected_action"] = [str(order.pk) for order in orders]
    return client.post(url, post)


def statuses(*orders: Order) -> list[str]:
    return [Order.objects.get(pk=order.pk).status for order in orders]


@pytest.fixture
def orders() -> list[Order]:
    return [Order.objects.create(customer=name) for name in ("Ada", "Bea", "Cy")]


def bob() -> Client:
    user = User.objects.create_superuser("bob", "bob@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_a_list_with_actions_carries_what_it_showed(admin_client: Client, orders: list) -> None:
    assert shown(admin_client)[SEEN]
    with override_settings(LIVE_ADMIN={"ACTION_CHECKS": "off"}):
        assert SEEN not in shown(admin_client)


def test_an_action_on_rows_nobody_changed_runs(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    response = act(admin_client, data, "mark_shipped", orders[0], orders[2])
    assert response.status_code == 302
    assert statuses(*orders) == ["shipped", "new", "shipped"]


def test_a_row_changed_meanwhile_stops_the_action_for_a_confirmation(
    admin_client: Client, orders: list
) -> None:
    data = shown(admin_client)
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")  # a worker, meanwhile
    response = act(admin_client, data, "mark_shipped", *orders)
    assert response.status_code == 200
    assert statuses(*orders) == ["new", "cancelled", "new"]  # nothing ran
    text = response.content.decode()
    listed = text.split('id="live-admin-changed"')[1].split("</ul>")[0]
    assert f'data-pk="{orders[1].pk}"' in listed
    assert "Status: new → cancelled" in listed
    assert f'data-pk="{orders[0].pk}"' not in listed
    assert form_data(response.content, "live-admin-run-all")["_selected_action"] == [
        str(o.pk) for o in orders
    ]


def test_only_the_unchanged_rows(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    confirmation = act(admin_client, data, "mark_shipped", *orders)
    again = form_data(confirmation.content, "live-admin-run-unchanged")
    response = admin_client.post(URL, again)
    assert response.status_code == 302
    assert statuses(*orders) == ["shipped", "cancelled", "shipped"]


def test_all_of_them_anyway(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    confirmation = act(admin_client, data, "mark_shipped", *orders)
    response = admin_client.post(URL, form_data(confirmation.content, "live-admin-run-all"))
    assert response.status_code == 302
    assert statuses(*orders) == ["shipped", "shipped", "shipped"]


def test_back_to_the_list_keeps_its_filters(admin_client: Client, orders: list) -> None:
    url = URL + "?status__exact=new"
    data = shown(admin_client, url)
    Order.objects.filter(pk=orders[1].pk).update(priority=5)
    confirmation = act(admin_client, data, "mark_shipped", *orders, url=url)
    assert b'href="/admin/testapp/order/?status__exact=new"' in confirmation.content
    assert b"Priority" in confirmation.content  # changed, not shown on the list: named


def test_who_changed_it_and_when(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    other = bob()
    edit = form_data(other.get(f"{URL}{orders[1].pk}/change/").content, "order_form")
    assert other.post(f"{URL}{orders[1].pk}/change/", {**edit, "status": "held"}).status_code == 302
    confirmation = act(admin_client, data, "mark_shipped", *orders)
    assert b"Changed by bob" in confirmation.content


def test_rows_gone_from_the_list(admin_client: Client, orders: list) -> None:
    url = URL + "?status__exact=new"
    data = shown(admin_client, url)
    Order.objects.filter(pk=orders[0].pk).update(status="cancelled")  # leaves the filter
    Order.objects.filter(pk=orders[2].pk).delete()
    confirmation = act(admin_client, data, "mark_shipped", *orders, url=url)
    text = confirmation.content.decode()
    assert "no longer matches the list" in text
    assert "was deleted" in text
    again = form_data(confirmation.content, "live-admin-run-unchanged")
    assert again["_selected_action"] == str(orders[1].pk)


def test_refuse_mode_runs_nothing_and_says_why(admin_client: Client, orders: list) -> None:
    with override_settings(LIVE_ADMIN={"ACTION_CHECKS": "refuse"}):
        data = shown(admin_client)
        Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
        response = act(admin_client, data, "mark_shipped", *orders, follow=False)
        assert response.status_code == 302
        assert statuses(*orders) == ["new", "cancelled", "new"]
        page = admin_client.get(response.url)
        assert "was not run" in page.content.decode()


def test_a_list_shown_before_live_admin_runs_the_action_as_stock(
    admin_client: Client, orders: list, caplog: pytest.LogCaptureFixture
) -> None:
    data = shown(admin_client)
    del data[SEEN]
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    assert act(admin_client, data, "mark_shipped", *orders).status_code == 302
    assert statuses(*orders) == ["shipped", "shipped", "shipped"]


@pytest.mark.parametrize("forge", ["altered", "foreign"])
def test_a_bad_token_is_never_trusted(
    admin_client: Client, orders: list, caplog: pytest.LogCaptureFixture, forge: str
) -> None:
    data = shown(admin_client)
    if forge == "altered":
        data[SEEN] = data[SEEN][:-3] + "AAA"
    else:
        Project.objects.create(name="Apollo")
        data[SEEN] = shown(admin_client, "/admin/testapp/project/")[SEEN]
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    with caplog.at_level(logging.WARNING, logger="live_admin"):
        assert act(admin_client, data, "mark_shipped", *orders).status_code == 302
    assert statuses(*orders) == ["shipped", "shipped", "shipped"]  # as stock: unchecked
    assert any("bad token" in r.getMessage() for r in caplog.records)


def test_a_row_refresh_is_what_the_user_saw(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    fresh = admin_client.get(URL, HTTP_X_LIVE_ADMIN_ROWS=f"[{orders[1].pk}]")
    part = fresh.content.decode().split('data-seen="')[1].split('"')[0]
    data[SEEN] += " " + part  # what the page script does with a row refresh
    assert act(admin_client, data, "mark_shipped", *orders).status_code == 302
    assert statuses(*orders) == ["shipped", "shipped", "shipped"]


def test_select_all_says_when_rows_joined_the_list(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    Order.objects.create(customer="Dee")  # joins the list meanwhile
    response = act(admin_client, data, "mark_shipped", *orders, select_across="1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "3 rows matched when the list was shown; 4 match now" in text
    assert Order.objects.filter(status="shipped").count() == 0
    again = form_data(response.content, "live-admin-run-all")
    assert again["select_across"] == "1"
    assert admin_client.post(URL, again).status_code == 302
    assert Order.objects.filter(status="shipped").count() == 4


def test_delete_selected_is_checked_on_its_confirmation_page(
    admin_client: Client, orders: list
) -> None:
    data = shown(admin_client)
    page = act(admin_client, data, "delete_selected", orders[0], orders[1])
    assert page.status_code == 200
    assert b"Are you sure" in page.content
    confirm = _delete_form(page.content)
    assert confirm[SEEN] == data[SEEN]  # checked against the list the user ticked on
    Order.objects.filter(pk=orders[1].pk).update(status="cancelled")
    stale = admin_client.post(URL, confirm)
    assert stale.status_code == 200
    assert b"Status: new \xe2\x86\x92 cancelled" in stale.content
    assert Order.objects.count() == 3
    response = admin_client.post(URL, form_data(stale.content, "live-admin-run-all"))
    assert response.status_code == 302
    assert list(Order.objects.values_list("customer", flat=True)) == ["Cy"]


def _delete_form(html: bytes) -> dict[str, Any]:
    """The confirmation form of a delete page (the page's first form may be the logout one)."""
    start = html.index(b'name="post"')
    form_start = html.rindex(b"<form", 0, start)
    return form_data(html[form_start:])


def test_a_stale_delete_page_asks_again(admin_client: Client, orders: list) -> None:
    url = f"{URL}{orders[1].pk}/delete/"
    page = admin_client.get(url)
    confirm = _delete_form(page.content)
    assert confirm[SEEN]
    Order.objects.filter(pk=orders[1].pk).update(customer="Beatrix")
    stale = admin_client.post(url, confirm)
    assert stale.status_code == 200
    assert "Customer: Bea → Beatrix" in stale.content.decode()
    assert "This order changed since the page you confirmed on showed it" in stale.content.decode()
    assert Order.objects.filter(pk=orders[1].pk).exists()
    response = admin_client.post(url, form_data(stale.content, "live-admin-run-all"))
    assert response.status_code == 302
    assert not Order.objects.filter(pk=orders[1].pk).exists()


def test_a_delete_page_nobody_changed_deletes(admin_client: Client, orders: list) -> None:
    url = f"{URL}{orders[1].pk}/delete/"
    confirm = _delete_form(admin_client.get(url).content)
    assert admin_client.post(url, confirm).status_code == 302
    assert not Order.objects.filter(pk=orders[1].pk).exists()


def test_a_token_that_cannot_be_made_leaves_the_stock_pages(
    admin_client: Client, orders: list, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from live_admin.conflicts import seen

    def broken(*args: Any) -> str:
        raise RuntimeError("a field that cannot be read")

    monkeypatch.setattr(seen, "field_text", broken)
    assert SEEN not in shown(admin_client)  # the list is the stock one
    page = admin_client.get(f"{URL}{orders[0].pk}/delete/")
    assert page.status_code == 200
    assert SEEN not in _delete_form(page.content)
    assert sum("no token" in r.getMessage() for r in caplog.records) == 2


def test_who_deleted_a_row(admin_client: Client, orders: list) -> None:
    data = shown(admin_client)
    other = bob()
    url = f"{URL}{orders[2].pk}/delete/"
    assert other.post(url, _delete_form(other.get(url).content)).status_code == 302
    confirmation = act(admin_client, data, "mark_shipped", *orders)
    text = confirmation.content.decode()
    assert "was deleted" in text
    assert "Deleted by bob" in text


def test_past_the_limit_a_selection_is_checked_by_count_and_log(
    admin_client: Client, orders: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from live_admin.conflicts import verdict

    monkeypatch.setattr(verdict, "LIMIT", 2)
    data = shown(admin_client)
    other = bob()
    edit = form_data(other.get(f"{URL}{orders[1].pk}/change/").content, "order_form")
    assert other.post(f"{URL}{orders[1].pk}/change/", {**edit, "status": "held"}).status_code == 302
    confirmation = act(admin_client, data, "mark_shipped", *orders)
    text = confirmation.content.decode()
    assert "checked by their number and the admin's change log only" in text
    assert "1 other matching row was changed in the admin since" in text
    assert statuses(*orders) == ["new", "held", "new"]


def test_without_time_zones_the_log_is_read_in_local_time(
    admin_client: Client, orders: list
) -> None:
    with override_settings(USE_TZ=False):
        data = shown(admin_client)
        other = bob()
        edit = form_data(other.get(f"{URL}{orders[1].pk}/change/").content, "order_form")
        assert (
            other.post(f"{URL}{orders[1].pk}/change/", {**edit, "status": "held"}).status_code
            == 302
        )
        confirmation = act(admin_client, data, "mark_shipped", orders[0], select_across="1")
        assert confirmation.status_code == 200
        assert (
            "1 other matching row was changed in the admin since" in confirmation.content.decode()
        )


def test_running_anyway_passes_rows_that_left_the_list(admin_client: Client, orders: list) -> None:
    url = URL + "?status__exact=new"
    data = shown(admin_client, url)
    Order.objects.filter(pk=orders[0].pk).update(status="cancelled")  # leaves the filter
    confirmation = act(admin_client, data, "mark_shipped", *orders, url=url)
    again = admin_client.post(url, form_data(confirmation.content, "live-admin-run-all"))
    assert again.status_code == 302  # not asked again about the same row
    assert statuses(*orders) == ["cancelled", "shipped", "shipped"]  # as stock: in the list only


def test_a_delete_page_keeps_no_value_its_form_hides(admin_client: Client) -> None:
    from django.core import signing

    user = User.objects.create_user("carol", password="a secret")
    page = admin_client.get(f"/other-admin/auth/user/{user.pk}/delete/")
    token = _delete_form(page.content)[SEEN]
    payload = signing.Signer(salt="live_admin.seen:auth.user").unsign_object(token)
    assert "password" not in payload["d"][str(user.pk)]
    assert "pbkdf2" not in str(payload)
    assert payload["d"][str(user.pk)]["username"] == "carol"


def test_a_row_the_user_may_no_longer_see_is_named_by_its_id_only() -> None:
    from conftest import make_user

    from testapp.models import Ticket

    perms = ("view_ticket", "change_ticket", "delete_ticket", "view_project")
    owner = make_user("owen", perms=perms)
    mine = Project.objects.create(name="Mine", owner=owner)
    theirs = Project.objects.create(name="Theirs")
    ticket = Ticket.objects.create(project=mine, title="Launch")
    client = Client()
    client.force_login(owner)
    url = "/admin/testapp/ticket/"
    data = form_data(client.get(url).content, "changelist-form")
    Ticket.objects.filter(pk=ticket.pk).update(project=theirs, title="Secret plan")
    post = {**data, "action": "delete_selected", "index": "0", "_selected_action": [ticket.pk]}
    confirmation = client.post(url, post)
    text = confirmation.content.decode()
    assert f"The row with ID “{ticket.pk}” is no longer in the list" in text
    assert "Secret plan" not in text
    assert "Theirs" not in text


def test_bytes_and_files_hash_alike_however_they_were_read() -> None:
    from django.contrib import admin as site

    from live_admin.conflicts import seen
    from testapp.models import Blob

    blob = Blob.objects.create(data=b"\x00bytes", upload="a.txt")
    admin = site.site._registry[Blob]
    fields, key = seen.tracked(admin), seen.key()
    loaded = Blob.objects.get(pk=blob.pk)
    before = seen.digests(loaded, fields, key)
    assert loaded.upload.name == "a.txt"  # read: now a FieldFile
    loaded.__dict__["data"] = memoryview(b"\x00bytes")  # as psycopg hands a bytea
    assert seen.digests(loaded, fields, key) == before
    loaded.__dict__["data"] = memoryview(b"\x00other")
    assert seen.changed(fields, before, seen.digests(loaded, fields, key))[0].name == "data"


# -- the edges, one by one ------------------------------------------------------------------


def test_checks_off_leave_the_delete_page_as_stock(admin_client: Client, orders: list) -> None:
    with override_settings(LIVE_ADMIN={"ACTION_CHECKS": "off"}):
        page = admin_client.get(f"{URL}{orders[0].pk}/delete/")
    assert SEEN not in _delete_form(page.content)


def test_a_delete_page_whose_object_is_gone_is_answered_as_stock(
    admin_client: Client, orders: list
) -> None:
    url = f"{URL}{orders[1].pk}/delete/"
    confirm = _delete_form(admin_client.get(url).content)
    Order.objects.filter(pk=orders[1].pk).delete()
    response = admin_client.post(url, confirm)
    assert response.status_code == 302  # the stock "doesn't exist. Perhaps it was deleted?"


def test_refuse_mode_on_a_stale_delete_page(admin_client: Client, orders: list) -> None:
    url = f"{URL}{orders[1].pk}/delete/"
    with override_settings(LIVE_ADMIN={"ACTION_CHECKS": "refuse"}):
        confirm = _delete_form(admin_client.get(url).content)
        Order.objects.filter(pk=orders[1].pk).update(customer="Beatrix")
        response = admin_client.post(url, confirm)
        assert (response.status_code, response.url) == (302, url)
        assert "was not run" in admin_client.get(url).content.decode()
    assert Order.objects.filter(pk=orders[1].pk).exists()


@pytest.mark.parametrize(
    ("more", "runs"),
    [({"index": "x"}, True), ({"action": "nope"}, False), ({"_selected_action": []}, False)],
)
def test_posts_the_stock_admin_reads_its_own_way(
    admin_client: Client, orders: list, more: dict[str, Any], runs: bool
) -> None:
    data = shown(admin_client)
    post = {**data, "action": "mark_shipped", "index": "0"}
    post["_selected_action"] = [str(o.pk) for o in orders]
    assert admin_client.post(URL, {**post, **more}).status_code == 302
    assert statuses(*orders) == (["shipped"] * 3 if runs else ["new"] * 3)


def test_refusing_select_all_says_how_many_rows_match(admin_client: Client, orders: list) -> None:
    with override_settings(LIVE_ADMIN={"ACTION_CHECKS": "refuse"}):
        data = shown(admin_client)
        Order.objects.create(customer="Dee")
        act(admin_client, data, "mark_shipped", *orders, select_across="1")
        said = admin_client.get(URL).content.decode()
    assert "3 rows matched when the list was shown; 4 match now." in said


def test_a_long_list_of_changes_is_counted_past_the_first(
    admin_client: Client, orders: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from live_admin.conflicts import verdict

    monkeypatch.setattr(verdict, "SHOWN", 1)
    monkeypatch.setattr(verdict, "_visible", lambda *args: set())  # none the user may see
    data = shown(admin_client)
    Order.objects.update(status="cancelled")
    text = act(admin_client, data, "mark_shipped", *orders).content.decode()
    assert "and 2 more rows" in text
    assert "1 field you may not see changed" in text
    assert "Status:" not in text


def test_the_log_of_something_else_is_passed_over(admin_client: Client, orders: list) -> None:
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    data = shown(admin_client)
    user = User.objects.get(username="root")
    kind = ContentType.objects.get_for_model(Order)
    LogEntry.objects.create(user=user, content_type=kind, object_id="x", action_flag=CHANGE)
    response = act(admin_client, data, "mark_shipped", orders[0], select_across="1")
    assert response.status_code == 302  # an id that is no order's: not counted


def test_tokens_that_do_not_fit_are_never_trusted(
    admin_client: Client, orders: list, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from django.core import signing

    from live_admin.conflicts import seen

    data = shown(admin_client)
    salt = "live_admin.seen:testapp.order"
    good = signing.Signer(salt=salt).unsign_object(data[SEEN])
    short = {**good, "r": {pk: "AAAA" for pk in good["r"]}}
    forms = {
        "(101 parts)": " ".join([data[SEEN]] * 101),
        "(hashes of another length)": signing.Signer(salt=salt).sign_object(short),
    }
    for why, token in forms.items():
        with caplog.at_level(logging.WARNING, logger="live_admin"):
            caplog.clear()
            act(admin_client, {**data, SEEN: token}, "mark_shipped", orders[0])
        assert f"bad token of what it showed {why}" in caplog.text, why
    from testapp.admin import OrderAdmin

    monkeypatch.setattr(OrderAdmin, "live_exclude", ["priority"])  # a deploy changed the fields
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="live_admin"):
        act(admin_client, data, "mark_shipped", orders[1])
    assert "made for other fields" in caplog.text
    assert seen.SEEN_FIELD == SEEN


def test_a_deferred_field_is_not_compared() -> None:
    from django.contrib import admin as site

    from live_admin.conflicts import seen

    order = Order.objects.create(customer="Ann", priority=1)
    admin = site.site._registry[Order]
    fields, key = seen.tracked(admin), seen.key()
    partial = seen.digests(Order.objects.defer("priority").get(pk=order.pk), fields, key)
    Order.objects.filter(pk=order.pk).update(priority=2)
    whole = seen.digests(Order.objects.get(pk=order.pk), fields, key)
    assert seen.changed(fields, partial, whole) == []


def test_the_token_goes_into_pages_that_have_a_place_for_it() -> None:
    from django.http import HttpResponse, JsonResponse

    from live_admin.conflicts import seen

    page = HttpResponse('<form><input type="hidden" name="post" value="yes"></form>')
    seen.inject(page, "a:b")
    assert b'name="_live_seen" value="a:b"' in page.content
    elsewhere = HttpResponse("<form><input name='other'></form>")
    seen.inject(elsewhere, "a:b")
    assert b"_live_seen" not in elsewhere.content
    data = JsonResponse({"name": "post"})
    seen.inject(data, "a:b")
    assert b"_live_seen" not in data.content


def test_a_value_reads_as_the_list_shows_it() -> None:
    from types import SimpleNamespace

    from django.core.files.base import File
    from django.db import models

    from live_admin.conflicts.display import field_text

    fruit = models.CharField(choices=[("a", "Apple")])
    fruit.name = "fruit"
    assert field_text(SimpleNamespace(fruit="a"), fruit) == "Apple"  # type: ignore[arg-type]
    upload = models.FileField()
    upload.name = "upload"
    named = SimpleNamespace(upload=File(None, name="report.pdf"))
    assert field_text(named, upload) == "report.pdf"  # type: ignore[arg-type]


def test_a_user_who_may_only_delete_gets_a_token_without_texts(orders: list) -> None:
    from conftest import make_user
    from django.core import signing

    client = Client()
    client.force_login(make_user("dora", perms=("delete_order",)))
    page = client.get(f"{URL}{orders[0].pk}/delete/")
    assert page.status_code == 200
    token = _delete_form(page.content)[SEEN]
    payload = signing.Signer(salt="live_admin.seen:testapp.order").unsign_object(token)
    assert payload["d"] == {}  # no field of the object is shown to them: none is kept
