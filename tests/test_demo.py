"""The demo project: its port check, its view-only user and its Redis settings (run as
subprocesses in demo/, which has its own settings)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "demo"


def demo(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=DEMO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "demo_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_rundemo_fails_loudly_on_a_port_in_use() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = demo("manage.py", "rundemo", timeout=30, DEMO_PORT=str(port))
    assert result.returncode == 1, result
    assert f"error: 127.0.0.1:{port} is in use; pick another port with DEMO_PORT=" in result.stderr
    assert "Starting ASGI" not in result.stdout  # failed before serving anything


def test_rundemo_addrport_overrides_demo_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        result = demo("manage.py", "rundemo", "--addrport", str(port), timeout=30, DEMO_PORT="1")
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is in use" in result.stderr


VIEWER = """
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from shop.models import Order, Ticket

setup_test_environment()
connection.creation.create_test_db(verbosity=0)  # in-memory SQLite; demo/db.sqlite3 untouched
call_command("demo_setup", stdout=open("/dev/null", "w"))
for model, action, done in ((Order, "mark_shipped", "shipped"), (Ticket, "mark_done", "done")):
    url = f"/admin/shop/{model._meta.model_name}/"
    admin, viewer = Client(), Client()
    assert admin.login(username="admin", password="admin")
    assert viewer.login(username="viewer", password="viewer")
    choices = [name for name, _ in admin.get(url).context["action_form"].fields["action"].choices]
    assert action in choices, choices
    response = viewer.get(url)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action the viewer may run
    pks = list(model.objects.exclude(status=done).values_list("pk", flat=True)[:5])
    viewer.post(url, {"action": action, "_selected_action": pks, "index": 0})
    assert model.objects.filter(pk__in=pks, status=done).count() == 0
print("ok")
"""


def test_viewer_cannot_run_the_change_actions() -> None:
    result = demo("-c", textwrap.dedent(VIEWER))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_check_is_clean_in_redis_mode() -> None:
    # No Redis needs to run: `check` only reads the settings.
    result = demo(
        "manage.py", "check", "--fail-level", "WARNING", DEMO_REDIS_URL="redis://127.0.0.1:6399/0"
    )
    assert result.returncode == 0, result.stderr
    assert "live_admin." not in result.stdout + result.stderr
