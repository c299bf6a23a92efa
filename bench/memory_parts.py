"""Where an idle socket's memory goes: the server's Python heap, by owner, per socket.

    .venv-bench/bin/python bench/memory_parts.py [N]      # default 2000 sockets

Starts uvicorn with tracemalloc on (as docs/deployment.md recommends, then with its own
defaults; daphne under tracemalloc is too slow to take the handshakes), lets 50 sockets come
and go, marks the heap, opens N subscribed sockets and prints what the heap grew by per socket,
by owner (bench/benchapp/views.py: heap), and live_admin's part by the line that allocated it.
tracemalloc sees Python's allocations only, and its own bookkeeping makes the process's RSS no
guide here: §5 of `make bench` measures that, without tracemalloc.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from run import Clients, Redis, Server, prepare_database


async def measure(kind: str, stock: bool, n: int, cookie: str, redis: Redis) -> dict[str, Any]:
    env = {"PYTHONTRACEMALLOC": "16"}
    s = Server(kind, "redis", redis, env, stock, start_s=180)
    try:
        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}
        warm = Clients()
        await warm.grow(50, url, s.url, cookie, hello, "live")
        await warm.close()
        await asyncio.sleep(1)
        await asyncio.to_thread(s.json, "/bench/heap/?mark=1")
        clients = Clients()
        await clients.grow(n, url, s.url, cookie, hello, "live")
        await asyncio.sleep(1)
        grown = await asyncio.to_thread(s.json, "/bench/heap/")
        await clients.close()
    finally:
        s.stop()
    return grown


async def main(n: int, cookie: str) -> None:
    redis = Redis()
    try:
        for kind, stock in (("uvicorn", False), ("uvicorn", True)):
            out = await measure(kind, stock, n, cookie, redis)
            label = f"{kind}{' (its defaults)' if stock else ''}"
            print(f"{label}, {n} sockets: {sum(out['bytes'].values()) / n / 1024:.1f} KB a socket")
            for owner, size in sorted(out["bytes"].items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {size / n / 1024:6.2f} KB  {owner}")
            print("  live_admin's, by the line that allocated:")
            for line, size in sorted(out["live_admin"].items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {size / n:8.0f} B  {line}")
    finally:
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, prepare_database()))
