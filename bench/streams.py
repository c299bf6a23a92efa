"""12. The event stream: fan-out over the fallback transport (server-sent events, messages in
POSTs) against websockets, side by side in one run.

``python bench/run.py --only streams`` runs this section alone.

uvicorn, in-memory layer: ``PAGES`` pages subscribed to the ``Item`` model, first over
websockets, then over event streams (each subscribed by a POST, as a page that falls back is);
one save at a time, the time from its commit to its arrival at each page. A small HTTP/1.1
client reads the streams (chunked, as uvicorn sends them).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

PATH = "/live-admin/stream/"
CSRF = "b3nch" * 6 + "ab"  # a CSRF secret, as Django's cookie holds one (32 letters and digits)
SUBSCRIBE = {"type": "subscribe", "id": "i", "model": "benchapp.item"}


class Stream:
    """One page's event stream, read event by event."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""

    async def event(self) -> dict[str, Any]:
        while b"\n\n" not in self.buffer:
            size = int((await self.reader.readline()).strip() or b"0", 16)
            if not size:
                raise ConnectionError("the stream ended")
            self.buffer += await self.reader.readexactly(size + 2)
            self.buffer = self.buffer[:-2] if self.buffer.endswith(b"\r\n") else self.buffer
        part, self.buffer = self.buffer.split(b"\n\n", 1)
        if not part.startswith(b"data: "):  # a keep-alive comment
            return await self.event()
        return dict(json.loads(part[6:]))


async def open_stream(port: int, cookie: str) -> tuple[Stream, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Cookie: sessionid={cookie}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
        raise RuntimeError(f"unexpected stream answer: {head[:200]!r}")
    stream = Stream(reader, writer)
    first = await stream.event()
    return stream, str(first["id"])


def post(base: str, cookie: str, stream_id: str, message: dict[str, Any]) -> int:
    request = urllib.request.Request(
        base + PATH,
        data=json.dumps(message).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Cookie": f"sessionid={cookie}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
            "X-Live-Admin-Stream": stream_id,
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


class StreamClients:
    """Pages on event streams, each counting the events it hears with their arrival times (as
    run.py's ``Clients`` does for websockets)."""

    def __init__(self) -> None:
        self.sockets: list[Stream] = []
        self.arrivals: list[list[tuple[float, dict[str, Any]]]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.posting = asyncio.Semaphore(16)

    async def add(self, base: str, port: int, cookie: str) -> None:
        stream, stream_id = await open_stream(port, cookie)
        async with self.posting:
            status = await asyncio.to_thread(post, base, cookie, stream_id, SUBSCRIBE)
        if status != 202 or (await stream.event())["type"] != "subscribed":
            raise RuntimeError("a stream's subscription was not taken")
        index = len(self.sockets)
        self.sockets.append(stream)
        self.arrivals.append([])
        self.tasks.append(asyncio.create_task(self._read(stream, index)))

    async def _read(self, stream: Stream, index: int) -> None:
        while True:
            event = await stream.event()
            self.arrivals[index].append((time.monotonic(), event))

    async def grow(self, n: int, base: str, port: int, cookie: str) -> None:
        while len(self.sockets) < n:
            batch = min(50, n - len(self.sockets))
            await asyncio.gather(*(self.add(base, port, cookie) for _ in range(batch)))

    def received(self) -> int:
        return sum(len(a) for a in self.arrivals)

    def clear(self) -> None:
        for a in self.arrivals:
            a.clear()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for stream in self.sockets:
            stream.writer.close()


async def stream_fan_out(
    server: Any, redis: Any, cookie: str, pages: int, rounds: int, ws_clients: Any, repeated: Any
) -> dict[str, Any]:
    """Section 12; ``server``, ``ws_clients`` (run.py's ``Clients``) and ``repeated`` (its
    ``repeated_rounds``) are run.py's."""
    out: dict[str, Any] = {"pages": pages}
    with server("uvicorn", "memory", redis) as s:

        async def trigger() -> float:
            committed = await asyncio.to_thread(s.json, "/bench/commit/?model=live")
            return float(committed["committed"])

        url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
        websockets = ws_clients()
        try:
            await websockets.grow(pages, url, s.url, cookie, SUBSCRIBE, "live")
            await repeated(websockets, trigger, 2)  # warm-up
            out["websocket"] = await repeated(websockets, trigger, rounds)
        finally:
            await websockets.close()
        streams = StreamClients()
        try:
            await streams.grow(pages, s.url, s.port, cookie)
            await repeated(streams, trigger, 2)
            out["stream"] = await repeated(streams, trigger, rounds)
        finally:
            await streams.close()
    return out


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 12."""
    from report import table

    rows = [
        [label, r[key]["clients"], r[key]["p50_ms"], r[key]["p99_ms"], r[key]["lost"]]
        for key, label in (("websocket", "websockets"), ("stream", "event streams"))
    ]
    ratio = round(r["stream"]["p99_ms"] / r["websocket"]["p99_ms"], 2)
    return [
        "",
        "## 12. The event stream",
        "",
        f"{r['pages']} pages on uvicorn (in-memory layer) subscribed to one model, first over"
        " websockets, then over the fallback transport (event streams, each subscribed by a"
        " POST); one save at a time, from its commit to its arrival at each page (ms). Run"
        " one after the other in the same server process, so each has the machine to itself.",
        "",
        table(["pages on", "pages", "p50", "p99", "lost"], rows),
        "",
        f"Event streams' p99 / websockets' p99: {ratio}.",
    ]
