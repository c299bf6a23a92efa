"""The badge store by default: a Django cache on the channel layer's own Redis.

When ``LIVE_ADMIN["BADGE_CACHE"]`` is not set and the channel layer is channels-redis (plain,
pub/sub, Sentinel or sharded), badges are counted in that Redis, so that every process counts
every process's changes without another setting. Its first host serves (a badge store needs no
shards), with the layer's own connection options and one-second time-outs unless the layer sets
its own: the store is read with a time limit, and written off the saving thread. Values are
JSON, and clearing it deletes only live_admin's keys.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from ..conf import REDIS_LAYERS, get_config, layer_backend

#: Connection time-outs of the store's pool, unless the layer's host entry sets its own.
TIMEOUTS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


def layer_host() -> dict[str, Any] | None:
    """The first Redis host of live_admin's channel layer as channels-redis decodes it; None
    when the layer is not channels-redis."""
    from django.conf import settings

    if layer_backend() not in REDIS_LAYERS:
        return None
    layer: dict[str, Any] = settings.CHANNEL_LAYERS[get_config()["CHANNEL_LAYER"]]
    hosts = (layer.get("CONFIG") or {}).get("hosts")
    if not hosts:
        return {"address": "redis://localhost:6379"}
    first = hosts[0]
    if isinstance(first, dict):
        return dict(first)
    if isinstance(first, (tuple, list)):
        return {"host": first[0], "port": first[1]}
    return {"address": first}


def redis_pool(host: dict[str, Any]) -> Any:
    """A blocking connection pool to ``host``, made as channels-redis makes its own."""
    import redis
    from redis.sentinel import Sentinel, SentinelConnectionPool

    host = {**TIMEOUTS, **host}
    if "address" in host:
        return redis.ConnectionPool.from_url(host.pop("address"), **host)
    master = host.pop("master_name", None)
    if master is not None:
        asked = {**TIMEOUTS, **(host.pop("sentinel_kwargs", None) or {})}
        sentinels = Sentinel(host.pop("sentinels"), sentinel_kwargs=asked)
        return SentinelConnectionPool(master, sentinels, **host)  # type: ignore[no-untyped-call]
    return redis.ConnectionPool(**host)


class Json:
    """Values as JSON, not pickles: the layer's Redis holds no pickle (channels-redis keeps it
    so, with msgpack), so that writing to it never runs code in the processes that read it.
    Integers stay plain, as Django's own serializer keeps them, for ``incr``."""

    def dumps(self, obj: Any) -> Any:
        return obj if type(obj) is int else json.dumps(obj).encode()

    def loads(self, data: Any) -> Any:
        try:
            return int(data)
        except ValueError:
            return json.loads(data)


class _Client(RedisCacheClient):
    """Django's Redis cache client on one pool of the layer's host."""

    def __init__(self, servers: list[str], *, host: dict[str, Any], **options: Any) -> None:
        super().__init__(servers, **options)
        self._layer_pool = redis_pool(host)

    def _get_connection_pool(self, write: bool) -> Any:
        return self._layer_pool


class LayerCache(RedisCache):
    """A Django cache on the channel layer's first Redis host."""

    def __init__(self, host: dict[str, Any]) -> None:
        super().__init__("layer", {"OPTIONS": {"host": host, "serializer": Json}})
        self._class = _Client

    def clear(self) -> None:
        """Delete live_admin's own keys only: the database is the channel layer's too."""
        client = self._cache.get_client(write=True)
        for key in client.scan_iter(match=self.make_key("live_admin:*")):
            client.delete(key)


def layer_cache() -> LayerCache | None:
    """The badge store derived from the channel layer; None when it is not channels-redis."""
    host = layer_host()
    return None if host is None else LayerCache(host)
