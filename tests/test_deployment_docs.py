"""docs/deployment.md's Redis step, as written: its ``CHANNEL_LAYERS`` and ``LIVE_ADMIN``, pointed
at this test's Redis, carry a save to a subscribed page and pass live_admin's deployment checks.
Editing the step without keeping it working fails here (the tutorial has its own test)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from conftest import RedisServer, subscribed_socket
from django.conf import settings
from django.contrib.auth.models import User
from django.core.checks import run_checks
from django.test import override_settings

from live_admin.delivery.sender import sender
from testapp.models import Project

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

DEPLOYMENT = Path(__file__).resolve().parents[1] / "docs" / "deployment.md"


def redis_step() -> dict[str, Any]:
    """The names the page's first Redis block defines (its placeholders left out)."""
    blocks = re.findall(r"^```python\n(.*?)^```", DEPLOYMENT.read_text(), re.S | re.M)
    block = next(b for b in blocks if "RedisChannelLayer" in b)
    names: dict[str, Any] = {}
    exec(block, names)  # the project's own docs
    names["CHANNEL_LAYERS"] = {
        alias: layer for alias, layer in names["CHANNEL_LAYERS"].items() if isinstance(layer, dict)
    }
    return names


def here(url: str, redis: RedisServer) -> str:
    """The page's Redis URL, on this test's server (its database and options kept)."""
    return re.sub(r"^redis://[^/?]+", f"redis://127.0.0.1:{redis.port}", url)


async def test_the_deployment_page_s_redis_step(
    redis_server: RedisServer, admin_user: User
) -> None:
    redis_server.command("FLUSHALL")
    step = redis_step()
    layers = {
        alias: {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [
            here(host, redis_server) for host in layer["CONFIG"]["hosts"]
        ]}}
        for alias, layer in step["CHANNEL_LAYERS"].items()
    }  # fmt: skip
    assert layers, "the deployment page's Redis step configures no layer"
    live_admin = {**settings.LIVE_ADMIN, **step.get("LIVE_ADMIN", {})}
    with override_settings(CHANNEL_LAYERS=layers, LIVE_ADMIN=live_admin):
        found = await sync_to_async(run_checks)(include_deployment_checks=True)
        assert [m.id for m in found if (m.id or "").startswith("live_admin.")] == []
        comm = await subscribed_socket(admin_user, model="testapp.project")
        await sync_to_async(Project.objects.create)(name="Deployed")
        event = await comm.receive_json_from(timeout=10)
        assert (event["type"], event["model"]) == ("changed", "testapp.project")
        await comm.disconnect()
        assert sender.flush(10)
