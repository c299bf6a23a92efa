"""Arbitrary input thrown at one socket: it always answers per the protocol and stays usable."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from conftest import communicator, session_cookie
from django.contrib.auth.models import User
from django.test import override_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from live_admin.conf import DEFAULTS

pytestmark = pytest.mark.django_db(transaction=True)

CODES = {"invalid", "not_found", "forbidden", "too_many", "rate_limited"}  # never server_error

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
protocol_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["subscribe", "unsubscribe", "ping", "SUBSCRIBE", ""]) | scalars},
    optional={
        "id": st.text(max_size=70) | scalars,
        "model": st.sampled_from(["testapp.ticket", "testapp.secret", "auth.user", "x", "."])
        | scalars,
        "pk": st.text(max_size=30) | scalars,
        "group": st.fixed_dictionaries({}, optional={"field": json_values, "value": json_values})
        | json_values,
    },
)
frames = (
    protocol_like.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | st.integers(1, 2000).map(lambda depth: "[" * depth + "]" * depth)  # deep nesting, < 4 KiB
    | st.integers(1, 600).map(lambda depth: '{"a":' * depth + "1" + "}" * depth)
)


@pytest_asyncio.fixture
async def fuzz_socket(admin_user: User) -> AsyncIterator[WebsocketCommunicator]:
    """One socket for every example: it must stay usable throughout. Limits raised so that the
    rate and subscription limits (tested on their own) do not mask other answers."""
    with override_settings(LIVE_ADMIN={"RATE_LIMIT": 100_000, "MAX_SUBSCRIPTIONS": 100_000}):
        comm = communicator(await sync_to_async(session_cookie)(admin_user))
        assert (await comm.connect())[0]
        yield comm
        await comm.disconnect()


async def answer(comm: WebsocketCommunicator, frame: str) -> dict[str, Any]:
    await comm.send_input({"type": "websocket.receive", "text": frame})  # "" too, as browsers can
    return await comm.receive_json_from(timeout=5)


@pytest.mark.asyncio
@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(frame=frames)
@example(frame="[" * 2000 + "]" * 2000)  # nesting deeper than Python's recursion limit
@example(frame='{"a":' * 800 + "1" + "}" * 800)
@example(frame="")
@example(frame='{"type": "subscribe", "id": "\\ud800", "model": "testapp.ticket"}')
async def test_any_frame_gets_a_protocol_answer(
    fuzz_socket: WebsocketCommunicator, frame: str
) -> None:
    if len(frame.encode()) > DEFAULTS["MAX_MESSAGE_BYTES"]:
        frame = frame[: DEFAULTS["MAX_MESSAGE_BYTES"] // 4]  # oversize closes; tested elsewhere
    reply = await answer(fuzz_socket, frame)
    assert reply["type"] in {"error", "pong", "subscribed", "unsubscribed"}, reply
    if reply["type"] == "error":
        assert reply["code"] in CODES, reply
        assert set(reply) == {"type", "id", "code", "message"}
    assert await answer(fuzz_socket, '{"type": "ping"}') == {"type": "pong"}
