"""Redis past one server, started by the tests on loopback: Sentinel (a master, a replica and
three sentinels) and shards (channels-redis with several hosts); and the pages that watch."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import RedisServer, free_port, wait_for
from websockets.asyncio.client import connect

CORE = "channels_redis.core.RedisChannelLayer"
PUBSUB = "channels_redis.pubsub.RedisPubSubChannelLayer"


def ask(port: int, method: str, *args: object) -> Any:
    """One of redis-py's commands to the server or sentinel on ``port``, on a connection of
    its own (closed at once, not left to the garbage collector)."""
    with redis.Redis(port=port, socket_timeout=2) as client:
        return getattr(client, method)(*args)


def layer(hosts: list[Any], backend: str = CORE) -> dict[str, Any]:
    """One CHANNEL_LAYERS entry on ``hosts``, as docs/deployment.md configures it."""
    config: dict[str, Any] = {"hosts": hosts}
    if backend == CORE:
        config["group_expiry"] = 180
    return {"BACKEND": backend, "CONFIG": config}


class Sentinels:
    """Redis Sentinel: a master, its replica, and three sentinels (quorum two) watching them;
    a master that stops answering for a second is failed over."""

    NAME = "live"

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-sentinel")
        if binary is None:
            pytest.fail("redis-sentinel is not installed: run `make test`, or apt-get install it")
        self.directory = directory
        self.servers: list[RedisServer] = []
        self.sentinels: list[subprocess.Popen[bytes]] = []
        try:
            self.master = self._server("master")
            replica = ["--replicaof", "127.0.0.1", str(self.master.port)]
            self.replica = self._server("replica", replica)
            wait_for(lambda: b"master_link_status:up" in self.replica.command("INFO"))
            self.ports = [free_port() for _ in range(3)]
            for index, port in enumerate(self.ports):
                self.sentinels.append(self._sentinel(binary, index, port))
            # Ready for a failover once every sentinel knows the replica and the two others.
            wait_for(self._ready, 30, 0.1)
        except BaseException:
            self.stop()
            raise

    def _server(self, name: str, args: list[str] | None = None) -> RedisServer:
        self.servers.append(RedisServer(self._dir(name), args=args))
        return self.servers[-1]

    def _dir(self, name: str) -> Path:
        path = self.directory / name
        path.mkdir(exist_ok=True)
        return path

    def _sentinel(self, binary: str, index: int, port: int) -> subprocess.Popen[bytes]:
        directory = self._dir(f"sentinel-{index}")
        config = directory / "sentinel.conf"  # a sentinel rewrites its own file
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {self.NAME} 127.0.0.1 {self.master.port} 2\n"
            f"sentinel down-after-milliseconds {self.NAME} 1000\n"
            f"sentinel failover-timeout {self.NAME} 3000\n"  # a split vote retries soon
        )
        return subprocess.Popen(
            [binary, str(config)],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _ready(self) -> bool:
        try:
            for port in self.ports:
                state = ask(port, "sentinel_master", self.NAME)
                if state["num-slaves"] < 1 or state["num-other-sentinels"] < 2:
                    return False
        except redis.RedisError:
            return False
        return True

    def master_port(self) -> int:
        """The port of the master as the sentinels now name it."""
        return int(ask(self.ports[0], "sentinel_get_master_addr_by_name", self.NAME)[1])

    def layer(self, backend: str = CORE) -> dict[str, Any]:
        sentinels = [["127.0.0.1", port] for port in self.ports]
        host = {"sentinels": sentinels, "master_name": self.NAME, "socket_timeout": 10}
        return layer([host], backend)

    def stop(self) -> None:
        try:
            for process in self.sentinels:
                process.terminate()
            for process in self.sentinels:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        finally:
            for server in self.servers:
                server.stop()


class Shards:
    """``count`` redis-servers, one channels-redis layer sharded over them."""

    def __init__(self, directory: Path, count: int = 2) -> None:
        self.servers: list[RedisServer] = []
        try:
            for _ in range(count):
                self.servers.append(RedisServer(directory))
        except BaseException:
            self.stop()
            raise

    def layer(self, backend: str = CORE) -> dict[str, Any]:
        return layer([f"{server.url}?socket_timeout=10" for server in self.servers], backend)

    def keys(self, index: int, pattern: str) -> list[bytes]:
        return ask(self.servers[index].port, "keys", pattern)

    def restart(self, index: int) -> None:
        """Stop a shard and start it again on its port, empty (no persistence)."""
        old = self.servers[index]
        old.stop()
        self.servers[index] = RedisServer(old.directory, port=old.port)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


class Page:
    """A page's socket: subscribed to model lists, recording what it is told."""

    def __init__(
        self, url: str, origin: str, cookie: str, models: tuple[str, ...] = ("testapp.project",)
    ) -> None:
        self.url, self.origin, self.cookie, self.models = url, origin, cookie, models
        self.subscribed = asyncio.Event()
        self.heard: list[tuple[float, dict[str, object]]] = []

    def told(self, kind: str) -> list[dict[str, object]]:
        return [message for _, message in self.heard if message["type"] == kind]

    async def run(self) -> None:
        headers = {"Cookie": f"sessionid={self.cookie}"}
        async with connect(self.url, origin=self.origin, additional_headers=headers) as ws:
            for model in self.models:
                await ws.send(json.dumps({"type": "subscribe", "id": model, "model": model}))
            async for frame in ws:
                message = json.loads(frame)
                self.heard.append((time.monotonic(), message))
                if len(self.told("subscribed")) == len(self.models):
                    self.subscribed.set()
