"""After a seeded random workload, every watching page equals a fresh load of its own URL."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Daphne, RedisServer
from django.contrib.auth.models import User
from playwright.sync_api import Page

from live_admin.delivery.sender import sender
from testapp import workload
from testapp.models import Order, Project, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = 60
LIST_STATE = """() => {
  const form = document.getElementById("changelist-form");
  const live = form ? form.querySelectorAll("#result_list tbody tr:not(.live-admin-gone)") : [];
  const rows = Array.from(live, (row) => row.innerText.trim());
  const count = form ? (form.querySelector(".paginator") || {}).innerText : null;
  return JSON.stringify({rows, count});
}"""
FORM_STATE = """() => {
  const form = document.querySelector("#content-main form");
  const fields = Array.from(form.elements)
    .filter((el) => el.name && !["csrfmiddlewaretoken", "_live_origin"].includes(el.name))
    .map((el) => [el.name, el.value]);
  return JSON.stringify(fields);
}"""


@pytest.fixture(params=["in-memory", "redis"])
def server(
    request: pytest.FixtureRequest, redis_layer: RedisServer, tmp_path: Path
) -> Iterator[Daphne]:
    daphne = Daphne(tmp_path / "daphne.log", redis_layer.url if request.param == "redis" else None)
    daphne.layer = request.param  # type: ignore[attr-defined]
    yield daphne
    daphne.stop()


def converged(page: Page, fresh: Page, script: str, timeout: float = 10.0) -> tuple[str, str]:
    """Poll until the live page shows what a fresh load of its URL shows; return both."""
    fresh.goto(page.url)
    expected = fresh.evaluate(script)
    deadline = time.monotonic() + timeout
    while (actual := page.evaluate(script)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return actual, expected


@pytest.mark.parametrize("seed", [1, 2])
def test_pages_converge_after_a_random_workload(
    open_page: Callable[..., Page], admin_user: User, server: Daphne, seed: int
) -> None:
    projects = [Project.objects.create(name=name) for name in ("Apollo", "Borealis", "Cygnus")]
    for i in range(12):
        Ticket.objects.create(project=projects[i % 3], title=f"T{i}", status="open")
    for i in range(6):
        Order.objects.create(customer=f"C{i}")
    kept = Ticket.objects.first()
    watched = {
        "tickets": open_page(admin_user, "/admin/testapp/ticket/"),
        "one project (group)": open_page(
            admin_user, f"/admin/testapp/ticket/?project__id__exact={projects[0].pk}"
        ),
        "open tickets": open_page(admin_user, "/admin/testapp/ticket/?status=open&o=2"),
        "orders": open_page(admin_user, "/admin/testapp/order/"),
    }
    form = open_page(admin_user, f"/admin/testapp/ticket/{kept.pk}/change/")

    if server.layer == "in-memory":  # the workload must run where the sockets are
        url = f"{server.url}/__workload__/?seed={seed}&steps={STEPS}&keep={kept.pk}"
        with urllib.request.urlopen(url, timeout=60) as response:
            done = json.loads(response.read())["done"]
    else:  # from this process, across Redis
        done = workload.run(seed, STEPS, keep={kept.pk})
        assert sender.flush(10)
    assert len(done) == STEPS
    assert len(set(done)) >= 5, done  # most kinds of change happened

    fresh = form.context.new_page()
    for name, page in watched.items():
        actual, expected = converged(page, fresh, LIST_STATE)
        assert actual == expected, name
    actual, expected = converged(form, fresh, FORM_STATE)
    assert actual == expected, "change form"

    # A rename more, typed and saved as a person does: the lists update just that row.
    form.click("#id_title")
    form.keyboard.press("Control+A")
    form.keyboard.type("Renamed")
    form.click("input[name=_continue]")
    form.wait_for_load_state()
    for name, page in watched.items():
        actual, expected = converged(page, fresh, LIST_STATE)
        assert actual == expected, name
    row_refreshes = [
        int(page.locator("#live-admin").get_attribute("data-row-refreshes") or 0)
        for page in watched.values()
    ]
    assert row_refreshes[0] > 0, row_refreshes  # the whole list (by pk) took the row path
