"""LIVE_ADMIN["MODELS"]: registered admins made live by settings alone, and their checks.

The test project's settings make django.contrib.auth's own UserAdmin and a plain WidgetAdmin
live; other settings are tried in processes of their own, since they act at start-up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import run_django
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.urls import resolve, reverse

from live_admin import protocol as groups
from live_admin.admin import LiveAdminMixin, live_admins
from live_admin.capture.observers import _specs
from live_admin.testing import capture_broadcasts
from testapp.admin import LiveUserAdmin, WidgetAdmin, other_site
from testapp.models import Tag, Widget

pytestmark = pytest.mark.django_db


def by_group(sent: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["group"]: m for m in sent}


def test_a_plain_admin_becomes_live_and_keeps_what_it_was() -> None:
    made = admin.site._registry[Widget]
    assert isinstance(made, LiveAdminMixin)
    assert isinstance(made, WidgetAdmin)
    assert type(made).__mro__[1:3] == (LiveAdminMixin, LiveAdminMixin.__mro__[1])
    assert (type(made).__name__, made._live_settings_label) == ("LiveWidgetAdmin", "testapp.widget")
    assert made.list_editable == ["stock"]
    assert made.live_exclude == ["counted_at"]
    assert live_admins(Widget) == [made]


def test_djangos_own_user_admin_is_live_and_a_code_admin_merges() -> None:
    stock, merged = admin.site._registry[User], other_site._registry[User]
    assert isinstance(stock, UserAdmin)
    assert isinstance(stock, LiveAdminMixin)
    assert isinstance(merged, LiveUserAdmin)  # the mixin it had, with the settings' options
    assert merged._live_settings_label == stock._live_settings_label == "auth.user"
    assert type(merged).__mro__.count(LiveAdminMixin) == 1


def test_a_settings_admin_serves_its_pages_live(admin_client: Client) -> None:
    Widget.objects.create(name="bolt")
    page = admin_client.get("/admin/testapp/widget/").content.decode()
    assert 'id="live-admin"' in page
    assert 'data-model="testapp.widget"' in page
    assert "bolt" in page


@pytest.mark.django_db(transaction=True)
def test_its_saves_are_broadcast_but_an_excluded_field_alone_is_not() -> None:
    widget = Widget.objects.create(name="nut")
    group = groups.object_group("testapp.widget", widget.pk)
    with capture_broadcasts() as sent:
        widget.counted_at = "2026-01-01T00:00:00Z"
        widget.save()
    assert sent == []
    with capture_broadcasts() as sent:
        widget.stock, widget.counted_at = 3, "2026-01-02T00:00:00Z"
        widget.save()
    assert by_group(sent)[group]["fields"] == ["stock"]  # the excluded field is not named


@pytest.mark.django_db(transaction=True)
def test_a_login_does_not_refresh_user_lists(admin_user: User) -> None:
    with capture_broadcasts() as sent:
        assert Client().login(username="root", password="pw")
    admin_user.refresh_from_db()
    assert admin_user.last_login is not None  # logins still set it
    assert not [m for m in sent if m["model"] == "auth.user"]
    with capture_broadcasts() as sent:
        admin_user.first_name = "Grace"
        admin_user.save()
    message = by_group(sent)[groups.object_group("auth.user", admin_user.pk)]
    assert message["fields"] == ["first_name"]


def ids(models: Any) -> list[str]:
    with override_settings(LIVE_ADMIN={"MODELS": models}):
        return [m.id for m in run_checks() if m.id and m.id.startswith("live_admin.")]


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        ({"testapp.widgets": {}}, ["live_admin.E013"]),
        ({"nope.*": {}}, ["live_admin.E013"]),
        ({"widget": {}}, ["live_admin.E013"]),
        ({7: {}}, ["live_admin.E013"]),
        ({"testapp.widget": ["live_fields"]}, ["live_admin.E014"]),
        ({"testapp.widget": {"live_field": ["stock"], "x": 1}}, ["live_admin.E014"] * 2),
        ({"testapp.orderline": {}}, ["live_admin.E015"]),  # only an inline, on no site
        ({"testapp.tag": {}}, ["live_admin.E016"]),  # registered, but not made live at start-up
        ({"auth.user": {}, "testapp.widget": {"live_exclude": ["counted_at"]}}, []),
    ],
)
def test_checks_of_the_setting(models: Any, expected: list[str]) -> None:
    assert ids(models) == expected


def test_check_hints_name_the_closest_model_and_option() -> None:
    with override_settings(LIVE_ADMIN={"MODELS": {"testapp.widgets": {}}}):
        (message,) = [m for m in run_checks() if m.id == "live_admin.E013"]
    assert message.hint.startswith("Did you mean 'testapp.widget'?")
    with override_settings(LIVE_ADMIN={"MODELS": {"testapp.widget": {"live_field": []}}}):
        (message,) = [m for m in run_checks() if m.id == "live_admin.E014"]
    assert message.hint == "Did you mean 'live_fields'?"


def started_with(models: dict[str, Any], code: str) -> Any:
    """What ``code`` prints (as JSON) in a fresh process started with ``models``."""
    done = run_django(
        "shell", "-c", code, env={"LIVE_ADMIN_TEST_MODELS": json.dumps(models)}, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LIVE = """
import json
from django.contrib import admin
from live_admin.admin import LiveAdminMixin
from live_admin.capture.observers import _specs
from testapp.admin import other_site
from testapp.models import Project, Secret, Tag
def view(model):
    v = _specs[model].views[model._meta.label_lower]
    return sorted(v.fields) if v.fields is not None else None
print(json.dumps({
    "tag": isinstance(admin.site._registry[Tag], LiveAdminMixin),
    "secret": isinstance(admin.site._registry[Secret], LiveAdminMixin),
    "project": [site._registry[Project].live_fields for site in (admin.site, other_site)],
    "observed": view(Project),
}))
"""


def test_an_apps_models_and_a_models_own_entry_that_wins() -> None:
    """``testapp.*`` makes every registered testapp admin live; the model's own entry wins over
    it, and over what the admins say in code (one has live_fields, one has none)."""
    got = started_with({"testapp.*": {}, "testapp.project": {"live_fields": ["status"]}}, LIVE)
    assert got == {
        "tag": True,
        "secret": True,
        "project": [["status"], ["status"]],
        "observed": ["status"],  # the code admins' views are replaced, not widened
    }


BAD = {
    "live_fields": "stock",
    "live_group_by": None,
    "live_conflicts": "sometimes",
    "live_row_refreshes": "no",
}
SERVED = """
import json
from django.contrib.auth.models import User
from django.test import Client
client = Client()
client.force_login(User.objects.create_superuser("bad-options", password="pw"))
from testapp.models import Widget
Widget.objects.create(name="bolt")
page = client.get("/admin/testapp/widget/")
from django.contrib import admin
made = admin.site._registry[Widget]
print(json.dumps([page.status_code, 'id="live-admin"' in page.content.decode(),
    made.live_fields, list(made.live_group_by), made.live_conflicts, made.live_row_refreshes]))
"""


@pytest.mark.django_db(transaction=True)
def test_bad_options_are_check_errors_and_left_out_never_a_crash() -> None:
    env = {"LIVE_ADMIN_TEST_MODELS": json.dumps({"testapp.widget": BAD})}
    done = run_django("check", env=env, timeout=120)
    assert done.returncode != 0
    assert done.stderr.count("live_admin.E014") == 4
    assert "LIVE_ADMIN['MODELS']['testapp.widget']['live_fields'] is 'stock'" in done.stderr
    # Served all the same, live, with each bad option's default.
    got = started_with({"testapp.widget": BAD}, SERVED)
    assert got == [200, True, None, [], None, True]


def test_a_check_names_where_the_option_was_written(monkeypatch: pytest.MonkeyPatch) -> None:
    made = admin.site._registry[Widget]
    monkeypatch.setattr(made, "live_exclude", ["nope"])  # the settings entry's option
    monkeypatch.setattr(made, "live_fields", ["name", "gone"])  # the class's own
    monkeypatch.setattr(made, "live_conflicts", "sometimes")  # the class's own
    said = [m.msg for m in run_checks() if m.obj is made]
    from_settings = "LIVE_ADMIN['MODELS']['testapp.widget']['live_exclude']"
    assert f"{from_settings} names 'nope', which is not a field of testapp.Widget." in said
    assert "LiveWidgetAdmin.live_fields names 'gone', which is not a field of testapp.Widget." in (
        said
    )
    assert any(m.startswith("LiveWidgetAdmin.live_conflicts is 'sometimes'") for m in said)
    monkeypatch.setattr(made, "live_exclude", "counted_at")
    said = [m.msg for m in run_checks() if m.obj is made]
    assert any(
        m.startswith("LIVE_ADMIN['MODELS']['testapp.widget']['live_exclude'] must be a list")
        for m in said
    )


def test_late_registrations_are_reported() -> None:
    import gc

    late = admin.AdminSite(name="late")
    late.register(User, LiveUserAdmin)  # live in code, without the settings' options
    late.register(Widget, WidgetAdmin)  # not live at all
    found = {m.id: m for m in run_checks() if m.id and m.id.startswith("live_admin.")}
    assert set(found) == {"live_admin.W010", "live_admin.E016"}
    assert (
        "without the options of LIVE_ADMIN['MODELS']['auth.user']" in found["live_admin.W010"].msg
    )
    del late, found
    gc.collect()  # out of the admin's set of sites
    assert ids({"auth.user": {}, "testapp.widget": {"live_exclude": ["counted_at"]}}) == []


def test_the_registered_admin_itself_is_made_live() -> None:
    # Not a second instance: the one the site built (and any URL built already is bound to).
    made = admin.site._registry[Widget]
    assert isinstance(made, WidgetAdmin)
    assert isinstance(made, LiveAdminMixin)
    assert type(made).__bases__ == (LiveAdminMixin, WidgetAdmin)
    match = resolve(reverse("admin:testapp_widget_changelist"))
    assert match.func.model_admin is made
    assert WidgetAdmin.built.count("admin") == 1  # built once, when its site registered it


def test_start_up_runs_once() -> None:
    from live_admin.pages import by_settings

    before = dict(admin.site._registry)
    by_settings.apply()
    assert admin.site._registry == before
    assert "auth.user" in _specs[User].views  # still observed


def test_what_the_options_mean_for_the_user_model() -> None:
    from types import SimpleNamespace

    from live_admin import options
    from live_admin.capture.observers import _quiet
    from testapp.models import Ticket

    def admin_of(model: Any, **attrs: Any) -> Any:
        return SimpleNamespace(model=model, **{"live_fields": None, "live_group_by": (), **attrs})

    assert options.excluded(admin_of(User)) == {"last_login"}
    assert options.excluded(admin_of(User, live_fields=["last_login", "email"])) == set()
    assert options.excluded(admin_of(User, live_exclude=())) == set()
    assert options.excluded(admin_of(Ticket, live_exclude=["project_id"])) == {"project"}
    assert options.fields(admin_of(Ticket, live_fields=("project_id",))) == {"project"}
    user = User(username="u")
    assert _quiet(_specs[User], user) == {"last_login"}  # nor do logins reach inline parents


def test_nothing_is_observed_for_a_model_the_setting_does_not_name() -> None:
    assert Tag not in _specs or "testapp.tag" not in _specs[Tag].views


def test_djangos_user_admin_forms_open(admin_client: Client, admin_user: User) -> None:
    """UserAdmin.get_form takes no ``change`` argument by position."""
    for site in ("admin", "other-admin"):
        assert admin_client.get(f"/{site}/auth/user/add/").status_code == 200
        page = admin_client.get(f"/{site}/auth/user/{admin_user.pk}/change/")
        assert page.status_code == 200
        assert 'id="live-admin"' in page.content.decode()


@override_settings(LIVE_ADMIN={"CONFLICTS": "refuse"})
@pytest.mark.django_db(transaction=True)
def test_a_login_meanwhile_does_not_refuse_a_user_save(admin_client: Client) -> None:
    """Refuse mode refuses a save over a change made meanwhile; a login is one nobody was told
    of (last_login is excluded), so it is taken, not refused over."""
    from forms import form_data

    bob = User.objects.create_user("bob", password="pw")
    url = f"/admin/auth/user/{bob.pk}/change/"
    data = form_data(admin_client.get(url).content, "user_form")
    assert Client().login(username="bob", password="pw")
    logged_in = User.objects.get(pk=bob.pk).last_login
    response = admin_client.post(url, {**data, "first_name": "Bobby"})
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.first_name, bob.last_login) == ("Bobby", logged_in)
