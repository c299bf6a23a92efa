"""Counting a model's changes for a badge (live_admin.badges.Tally), without a socket."""

from __future__ import annotations

import pytest

from live_admin.delivery.badges import MAX_PENDING_BATCHES, MAX_PKS, RING, Tally


def kept(*numbers: int, pks: tuple[str, ...] = ("1",)) -> dict[int, tuple]:
    return {n: (n, pks, len(pks)) for n in numbers}


def test_distinct_pks_after_seen() -> None:
    tally = Tally(seen=3, read=3)
    tally.add({4: (4, ("a", "b"), 2), 5: (5, ("b",), 1)}, 5)
    assert (tally.told(), tally.read) == ({"count": 2, "more": False}, 5)


def test_a_missing_recent_batch_is_pending_then_counted() -> None:
    tally = Tally(seen=0, read=0)
    tally.add(kept(2, pks=("b",)), 2)
    assert (tally.told(), tally.pending) == ({"count": 1, "more": False}, {1})
    assert tally.wanted(2) == (1, 2)
    tally.add(kept(1, pks=("a",)), 2)
    assert (tally.told(), tally.pending) == ({"count": 2, "more": False}, set())


def test_a_batch_missing_long_enough_counts_as_lost() -> None:
    tally = Tally(seen=0, read=0)
    upto = MAX_PENDING_BATCHES + 5
    tally.add(kept(*range(2, upto + 1)), upto)
    assert tally.told() == {"count": 1, "more": True}
    assert tally.pending == set()


def test_more_than_the_ring_says_more_and_reads_only_what_is_kept() -> None:
    tally = Tally(seen=0, read=0)
    assert tally.wanted(10 * RING) == (9 * RING + 1, 10 * RING)
    tally.add(kept(*range(9 * RING + 1, 10 * RING + 1)), 10 * RING)
    assert tally.told() == {"count": 1, "more": True}


def test_unknown_objects_and_too_many_pks_say_more() -> None:
    tally = Tally(seen=0, read=0)
    tally.add({1: (1, None, None)}, 1)  # notify(model) without pks
    assert tally.told() == {"count": 1, "more": True}
    tally = Tally(seen=0, read=0)
    many = tuple(str(n) for n in range(MAX_PKS + 5))
    tally.add({1: (1, many, len(many))}, 1)
    assert tally.told() == {"count": MAX_PKS, "more": True}
    assert len(tally.pks) == MAX_PKS


def test_the_default_store_tells_only_its_own_process(monkeypatch, caplog) -> None:
    from live_admin.delivery import badges
    from live_admin.delivery.sender import sender

    monkeypatch.setattr(sender, "home_loop", None)  # no socket here: nothing to tell, no error
    badges._tell(badges.BADGE, "g", "testapp.order", 1)
    recorder = badges.Recorder()
    monkeypatch.setattr(recorder, "flush", lambda timeout=None: False)
    recorder._flush_at_exit()
    assert "not recorded before exit" in caplog.text


def test_a_slow_store_drops_the_oldest_changes_and_says_so(monkeypatch, caplog) -> None:
    import threading

    from live_admin.delivery import badges

    started, release, handled = threading.Event(), threading.Event(), []

    def slow(item: tuple) -> None:
        started.set()
        release.wait(10)
        handled.append(item[1])

    monkeypatch.setattr(badges, "MAX_QUEUED", 2)
    recorder = badges.Recorder()
    monkeypatch.setattr(recorder, "_handle", slow)
    recorder.changed("a", None, None)
    assert started.wait(10)  # the store is busy with "a"
    for label in ("b", "c", "d"):
        recorder.changed(label, None, None)
    assert "badge store too slow, a change was not counted" in caplog.text
    release.set()
    assert recorder.flush(10)
    assert handled == ["a", "c", "d"]  # the oldest waiting change was dropped


LAYER = "channels_redis.core.RedisChannelLayer"


@pytest.mark.parametrize(
    ("hosts", "decoded"),
    [
        (None, {"address": "redis://localhost:6379"}),
        (["redis://r1:6380/2", "redis://r2"], {"address": "redis://r1:6380/2"}),
        ([("r1", 6380)], {"host": "r1", "port": 6380}),
        (
            [{"address": "rediss://r1", "ssl_cert_reqs": None}],
            {"address": "rediss://r1", "ssl_cert_reqs": None},
        ),
    ],
)
def test_the_default_store_is_the_layers_first_host(settings, hosts, decoded) -> None:
    from live_admin.delivery import badges, layer_store

    config = {} if hosts is None else {"hosts": hosts}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYER, "CONFIG": config}}
    assert layer_store.layer_host() == decoded
    store = badges.store()
    assert isinstance(store, layer_store.LayerCache)
    pool = store._cache.get_client().connection_pool
    assert pool.connection_kwargs["socket_timeout"] == 1.0  # short, unless the layer says
    assert badges.scope() == ""  # every process reads the same numbers


def test_the_default_store_follows_sentinel(settings) -> None:
    from redis.sentinel import SentinelConnectionPool

    from live_admin.delivery import badges

    host = {"sentinels": [("127.0.0.1", 26379)], "master_name": "live", "socket_timeout": 3}
    pubsub = "channels_redis.pubsub.RedisPubSubChannelLayer"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": pubsub, "CONFIG": {"hosts": [host]}}}
    pool = badges.store()._cache.get_client().connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "live"
    assert pool.connection_kwargs["socket_timeout"] == 3


def test_an_in_memory_layer_keeps_the_store_in_the_process(settings) -> None:
    from django.core.cache.backends.locmem import LocMemCache

    from live_admin.delivery import badges

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert isinstance(badges.store(), LocMemCache)
    assert badges.scope() != ""


def test_the_layers_store_keeps_json_and_clears_only_its_own_keys(settings, redis_server) -> None:
    """The layer's Redis holds no pickle of ours, and clearing the store leaves the channel
    layer's keys be."""
    from live_admin.delivery import badges

    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": LAYER, "CONFIG": {"hosts": [redis_server.url]}}
    }
    redis_server.command("SET", "asgi:kept", "1")
    number = badges.record("testapp.order", ["7", "8"], 2)
    raw = redis_server.command("GET", f":1:live_admin:badges:testapp.order:{number}")
    assert raw.endswith(b"[" + str(number).encode() + b', ["7", "8"], 2]\r\n')  # JSON
    assert badges.batches("testapp.order", number, number) == {number: [number, ["7", "8"], 2]}
    badges.store().clear()
    assert badges.latest(["testapp.order"]) == {"testapp.order": 0}
    assert redis_server.command("GET", "asgi:kept") == b"$1\r\n1\r\n"


def test_a_badge_change_that_cannot_be_queued_never_reaches_the_save(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from live_admin.delivery import badges

    def full(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("the queue is gone")

    monkeypatch.setattr(badges.recorder, "_put", full)
    with caplog.at_level(logging.WARNING, logger="live_admin"):
        badges.recorder.changed("testapp.order", ["1"], 1)  # no exception
    assert "could not queue a badge change: the queue is gone" in caplog.text
