"""A crowd of idle pages for bench/scale.py: one process, many websockets to one server.

``python bench/crowd.py URL ORIGIN COOKIE COUNT`` connects COUNT sockets, each subscribed to
``benchapp.item``, and prints ``{"ready": COUNT, "resyncs": N}``. Then, one line in, one JSON
line out: ``arm`` forgets what arrived and answers ``{"armed": true}``; ``wait SECONDS`` waits
until every socket has a frame (or the time is up) and answers each socket's first arrival
(``time.monotonic()``, comparable across processes) and how many got none; ``close`` ends it.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from sockets import open_page

HELLO = {"type": "subscribe", "id": "i", "model": "benchapp.item"}


class Crowd:
    def __init__(self) -> None:
        self.sockets: list[Any] = []
        self.first: list[float | None] = []
        self.got = 0
        self.resyncs = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def add(self, url: str, origin: str, cookie: str) -> None:
        # No permessage-deflate: the servers run without it (docs/deployment.md).
        ws, resyncs = await open_page(
            url, origin, cookie, HELLO, "subscribed", 300, compression=None
        )
        self.resyncs += resyncs
        index = len(self.sockets)
        self.sockets.append(ws)
        self.first.append(None)
        self.tasks.append(asyncio.create_task(self.read(ws, index)))

    async def read(self, ws: Any, index: int) -> None:
        async for _ in ws:
            if self.first[index] is None:
                self.first[index] = time.monotonic()
                self.got += 1

    def arm(self) -> None:
        self.first = [None] * len(self.sockets)
        self.got = 0

    async def wait(self, seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while self.got < len(self.sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        arrivals = [t for t in self.first if t is not None]
        return {"arrivals": arrivals, "lost": len(self.sockets) - len(arrivals)}


async def main(url: str, origin: str, cookie: str, count: int) -> None:
    crowd = Crowd()
    while len(crowd.sockets) < count:
        batch = min(50, count - len(crowd.sockets))
        await asyncio.gather(*(crowd.add(url, origin, cookie) for _ in range(batch)))
    print(json.dumps({"ready": count, "resyncs": crowd.resyncs}), flush=True)
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        command, *args = line.split() or ["close"]
        if command == "arm":
            crowd.arm()
            out: dict[str, Any] = {"armed": True}
        elif command == "wait":
            out = await crowd.wait(float(args[0]))
        else:
            break
        print(json.dumps(out), flush=True)
    for task in crowd.tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in crowd.sockets), return_exceptions=True)


if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
