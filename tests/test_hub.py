"""The hub's own bookkeeping: joins and leaves told to the layer once, and a run that ends
cleanly however its channel and reader stand when the last socket goes."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from conftest import Page, RedisServer, until

from live_admin.realtime import hub, reader
from live_admin.realtime.reader import HAND_OVER

pytestmark = pytest.mark.asyncio

GROUP = "live_admin.vtestapp-project"
CHANGE = {"type": "live_admin.changed", "group": GROUP}


class CountingLayer(InMemoryChannelLayer):
    """channels' in-memory layer that counts the joins and leaves it is asked for, and can be
    away (no channel, no join), refuse leaves, or fail reads."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.away = False
        self.refuse_leaves = False
        self.read_errors: list[Exception] = []

    async def new_channel(self, prefix: str = "specific.") -> str:
        if self.away:
            raise ConnectionError("the layer is away")
        return await super().new_channel(prefix)

    async def group_add(self, group: str, channel: str) -> None:
        self.calls["add", group] += 1
        if self.away:
            raise ConnectionError("the layer is away")
        await asyncio.sleep(0)  # a network layer answers later: let a rival join run meanwhile
        await super().group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.calls["discard", group] += 1
        if self.refuse_leaves:
            raise ConnectionError("the layer is away")
        await super().group_discard(group, channel)

    async def receive(self, channel: str) -> dict[str, Any]:
        if self.read_errors:
            raise self.read_errors.pop(0)
        return await super().receive(channel)


@pytest.fixture(autouse=True)
def _debug_log(caplog: pytest.LogCaptureFixture) -> None:
    """A hub's repeated warnings are logged at DEBUG: the tests look for each one."""
    caplog.set_level(logging.DEBUG, logger="live_admin")


def attached(layer: InMemoryChannelLayer | RedisChannelLayer) -> tuple[hub.Hub, Page]:
    """The running hub on ``layer``, with one page attached."""
    running, page = hub.hub_for(layer), Page()
    running.attach(page)
    return running, page


async def test_a_group_is_joined_and_left_once_for_all_its_sockets() -> None:
    layer, first, second = CountingLayer(), Page(), Page()
    running = hub.hub_for(layer)
    running.attach(first)
    running.attach(second)
    assert await asyncio.gather(running.join(GROUP, first), running.join(GROUP, second)) == [
        True,
        True,
    ]
    assert layer.calls["add", GROUP] == 1
    await layer.group_send(GROUP, CHANGE)
    await until(lambda: first.events and second.events, 5)

    await running.leave(GROUP, first)
    await running.leave(GROUP, first)  # a second leave of one socket is nothing
    assert layer.calls["discard", GROUP] == 0  # the other socket still watches
    await running.leave(GROUP, second)
    assert layer.calls["discard", GROUP] == 1
    for page in (first, second):
        await running.detach(page)


@pytest.mark.parametrize("twisted", [True, False], ids=["daphne", "asyncio"])
async def test_a_change_reaches_many_sockets_a_slice_per_pass_on_twisted(twisted: bool) -> None:
    """On a loop that writes on its next pass (daphne's), the loop runs between slices of a
    fan-out, so writing starts before the last socket has its event; elsewhere every socket
    gets it in one pass. Each socket gets each change once, in order."""
    layer = CountingLayer()
    passes = [0]

    class Counted(Page):
        def deliver(self, event: dict[str, object]) -> None:
            super().deliver({**event, "pass": passes[0]})

    async def tick() -> None:
        while True:
            passes[0] += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    pages = [Counted() for _ in range(3 * HAND_OVER + 5)]
    running = hub.hub_for(layer)
    assert running.per_pass > len(pages)  # pytest's loop is asyncio's
    if twisted:
        running.per_pass = HAND_OVER
    for page in pages:
        running.attach(page)
        assert await running.join(GROUP, page)
    for count in (1, 2):
        await layer.group_send(GROUP, {**CHANGE, "count": count})
    await until(lambda: all(len(page.events) == 2 for page in pages), 5)
    ticker.cancel()
    assert all([e["count"] for e in page.events] == [1, 2] for page in pages)
    first = Counter(page.events[0]["pass"] for page in pages)
    assert sorted(first.values(), reverse=True) == (
        [HAND_OVER] * 3 + [5] if twisted else [len(pages)]
    )
    for page in pages:
        await running.leave(GROUP, page)
        await running.detach(page)


async def test_daphnes_loop_is_known_as_one_that_writes_on_its_next_pass() -> None:
    """As daphne runs it: Twisted's asyncio reactor installed on an asyncio loop."""
    code = (
        "import asyncio\n"
        "import daphne.server\n"  # installs the reactor, as daphne's command does
        "from twisted.internet import reactor\n"
        "from live_admin.realtime.reader import writes_on_next_pass\n"
        "async def main():\n"
        "    print(writes_on_next_pass())\n"
        "    reactor.stop()\n"
        "reactor.callLater(0, lambda: asyncio.ensure_future(main()))\n"
        "reactor.run(installSignalHandlers=False)\n"
    )
    run = subprocess.run
    done = await asyncio.to_thread(
        run, [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.stdout.strip() == "True", done.stderr
    # Here daphne's server module is imported too (its reactor installed), but this loop is
    # pytest's own.
    assert "twisted.internet.reactor" in sys.modules
    assert not reader.writes_on_next_pass()


async def test_a_group_the_layer_would_not_take_is_not_left_there(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = CountingLayer()
    running, page = attached(layer)
    await running.channel  # type: ignore[misc]
    layer.away = True
    assert await running.join(GROUP, page) is False  # and retried in the background
    assert f"joining {GROUP} failed" in caplog.text
    await running.leave(GROUP, page)
    assert layer.calls["discard", GROUP] == 0
    await running.detach(page)


async def test_a_socket_gone_while_the_layer_is_away_leaves_nothing_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = CountingLayer()
    layer.away = True
    running, page = attached(layer)
    tasks = [running.channel, *running.tasks]
    await until(lambda: "making a channel on the layer failed" in caplog.text, 5)
    await running.detach(page)
    assert all(task is not None and task.done() for task in tasks)
    assert hub.hub_for(layer) is not running  # the next socket starts a new run
    assert not any(call == "discard" for call, _ in layer.calls)


async def test_a_join_after_its_socket_went_is_refused_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A page that disconnects while its subscribe is still on its way."""
    layer = CountingLayer()
    running, page = attached(layer)
    await running.detach(page)
    assert await running.join(GROUP, page) is False
    assert "the hub has no socket" in caplog.text
    assert not layer.calls


async def test_a_leave_the_layer_refuses_at_the_end_of_a_run_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = CountingLayer()
    running, page = attached(layer)
    probe = running.probes.groups[0]
    await until(lambda: probe in running.joined, 5)
    layer.refuse_leaves = True
    await running.detach(page)  # raises nothing
    assert layer.calls["discard", probe] == 1
    assert f"leaving {probe} failed: the layer is away" in caplog.text


@pytest.mark.parametrize(
    ("error", "rejoins"), [(TimeoutError("read timed out"), False), (ConnectionError(), True)]
)
async def test_a_failed_read_is_retried_and_only_a_lost_connection_rejoins(
    error: Exception, rejoins: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A read time-out leaves the layer's memberships where they were; a lost connection may
    mean Redis restarted and forgot them: the hub joins again and tells its pages to resync."""
    layer = CountingLayer()
    layer.read_errors.append(error)
    running, page = attached(layer)
    assert await running.join(GROUP, page)
    await until(lambda: "receiving from the channel layer failed" in caplog.text, 5)
    await layer.group_send(GROUP, CHANGE)
    await until(lambda: CHANGE in page.events, 5)
    if rejoins:
        await until(lambda: {"type": hub.RESYNC} in page.events, 5)
        assert layer.calls["add", GROUP] >= 2
    else:
        assert running._rejoin_task is None
        assert layer.calls["add", GROUP] == 1
    await running.leave(GROUP, page)
    await running.detach(page)


class StubbornRedisLayer(RedisChannelLayer):
    """channels-redis that refuses to put the hub's channel in its probe groups, or to carry
    the hub's stop message."""

    refuse_probe_groups = False
    refuse_stop = False

    async def group_add(self, group: str, channel: str) -> None:
        if self.refuse_probe_groups and group.startswith("live_admin.probe"):
            raise ConnectionError("not this group")
        await super().group_add(group, channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if self.refuse_stop and message == hub.STOP:
            raise ConnectionError("not this message")
        await super().send(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.refuse_stop and message == hub.STOP:
            raise ConnectionError("not this message")
        await super().group_send(group, message)


@pytest.mark.parametrize("refused", ["probe groups", "the stop message"])
async def test_the_last_socket_ends_the_reader_on_channels_redis(
    redis_server: RedisServer, refused: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The stop message goes to the channel itself when the probe group was never joined; when
    it cannot be sent at all, the reader is cancelled and its receive buffer dropped."""
    layer = StubbornRedisLayer(hosts=[redis_server.url])
    layer.refuse_probe_groups = refused == "probe groups"
    layer.refuse_stop = refused == "the stop message"
    running, page = attached(layer)
    assert await running.join(GROUP, page)
    probe = running.probes.groups[0]
    if layer.refuse_probe_groups:
        await until(lambda: f"joining {probe} failed" in caplog.text, 5)
    else:
        await until(lambda: probe in running.joined, 5)
    channel = await running.channel  # type: ignore[misc]
    reader = running.tasks[0]
    await until(lambda: channel in layer.receive_buffer, 5)  # the reader is reading
    await running.detach(page)
    assert reader.done()
    given_up = "could not stop the hub's reader by message" in caplog.text
    assert given_up is layer.refuse_stop
    assert channel not in layer.receive_buffer
    await layer.flush()
