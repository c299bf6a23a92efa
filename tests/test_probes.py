"""A hub's probe groups: one on each shard, and its own way home on a sharded layer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from conftest import Page, subscribed_socket, until
from django.contrib.auth.models import User
from django.test import override_settings
from topologies import Shards

import live_admin.realtime.probes
from live_admin.realtime import hub
from live_admin.realtime.probes import Probes, probe_groups

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("shards", [2, 3, 5])
async def test_one_probe_group_on_each_shard(shards: int) -> None:
    layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{6000 + n}" for n in range(shards)])
    names = probe_groups(layer)
    assert sorted(layer.consistent_hash(name) for name in names) == list(range(shards))
    assert all(layer.require_valid_group_name(name) for name in names)
    assert set(names).isdisjoint(probe_groups(layer))  # every hub has its own


async def test_a_probe_comes_back_and_a_lost_one_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = InMemoryChannelLayer()
    probes = Probes(layer)
    (group,) = probes.groups
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    sent = await probes.send(asyncio.Semaphore(1))
    probes.heard(await layer.receive(channel))
    assert await probes.all_back(sent)

    await layer.group_discard(group, channel)  # as when Redis forgets the membership
    sent = await probes.send(asyncio.Semaphore(1))
    monkeypatch.setattr(live_admin.realtime.probes, "PROBE_SECONDS", 0.2)
    assert not await probes.all_back(sent)
    assert probes._waiting == {}  # nothing left waiting


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[Shards]:
    topology = Shards(tmp_path)
    yield topology
    topology.stop()


@pytest.mark.django_db(transaction=True)
async def test_the_last_socket_stops_the_reader_on_a_sharded_layer(
    shards: Shards, admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    """channels-redis places a send to a process-local channel by its full name, and reads by
    the shared part: on two shards, half of such sends are never read. The hub's stop message
    goes through its probe group instead, and arrives."""
    caplog.set_level(logging.DEBUG, logger="live_admin")
    with override_settings(CHANNEL_LAYERS={"default": shards.layer()}):
        layer = get_channel_layer()
        assert isinstance(layer, RedisChannelLayer)
        for _ in range(20):  # until a hub's channel is one that a plain send would miss
            comm = await subscribed_socket(admin_user, model="testapp.project")
            (running,) = hub._hubs[asyncio.get_running_loop()].values()
            await until(lambda h=running: h.probes.groups[0] in h.joined, 10)
            channel = running.channel.result()  # type: ignore[union-attr]
            home = layer.consistent_hash(layer.non_local_name(channel))
            missed = layer.consistent_hash(channel) != home
            await comm.disconnect(timeout=10)
            if missed:
                break
        assert missed
    assert not any("could not stop the hub's reader" in r.getMessage() for r in caplog.records)


class FlakyLayer(InMemoryChannelLayer):
    """channels' in-memory layer that can go away and come back having forgotten its groups,
    as a Redis restarted without persistence."""

    down = False

    def outage(self) -> None:
        self.down = True
        self.groups.clear()

    def _refuse(self) -> None:
        if self.down:
            raise ConnectionError("the layer is away")

    async def group_add(self, group: str, channel: str) -> None:
        self._refuse()
        await super().group_add(group, channel)

    async def group_send(self, group: str, message: dict[str, object]) -> None:
        self._refuse()
        await super().group_send(group, message)


async def test_an_outage_is_told_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probes sent during the outage time out after the recovery has told the page: they are
    covered by it, and the page is not told again."""
    monkeypatch.setattr(live_admin.realtime.probes, "PROBE_SECONDS", 0.5)
    monkeypatch.setattr(hub, "PROBE_EVERY", 0.1)
    layer, page = FlakyLayer(), Page()
    running = hub.hub_for(layer)
    running.attach(page)
    assert await running.join("live_admin.vtestapp-project", page)
    await until(lambda: running.probes.groups[0] in running.joined, 5)
    layer.outage()
    await asyncio.sleep(0.3)  # probes fail meanwhile
    layer.down = False
    await until(lambda: {"type": hub.RESYNC} in page.events, 5)
    await asyncio.sleep(0.5 + 3 * 0.1)  # a probe lost in the outage times out now
    # Told once that changes may not reach it, and once that they do again.
    assert page.events == [{"type": hub.DELAYED}, {"type": hub.RESYNC}]
    await running.leave("live_admin.vtestapp-project", page)
    await running.detach(page)
