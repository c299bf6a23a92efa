"""Where a fan-out's time goes in the server, per socket: py-spy samples the server process
(only the thread holding the GIL, without pausing it) while K sockets hear 20 changes, and
splits the busy samples into the stages a message passes through.

    .venv-bench/bin/python bench/profile_fanout.py [K] [SERVER] [LAYER]
    # SERVER: daphne (default), uvicorn, or floor (the bare websockets server); LAYER: memory

Prints the server's busy CPU time per socket and change, each stage's share of it, and the
ten functions with the most samples of their own.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from run import (
    HERE,
    TMP,
    Clients,
    Redis,
    connect,
    free_port,
    measure_rounds,
    prepare_database,
    server,
    wait_port,
)

RATE = 1000
ROUNDS = 20
#: Stages by the frames that mark them, innermost first: a sample counts for the first stage
#: one of whose frames is on its stack.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("the socket's write (the loop's next pass)", ("doWrite (", "_write_ready (")),
    (
        "the server's write call (buffer, epoll)",
        ("FileDescriptor.write (", "_SelectorSocketTransport.write ("),
    ),
    (
        "the server's websocket framing",
        (
            "WebSocketProtocol.sendMessage (",
            "WebSocketCommonProtocol.send (",
            "Protocol.send_text (",
            "broadcast (",
        ),
    ),
    (
        "the server's send path (ASGI send to framing; uvloop's write)",
        ("Server.handle_reply (", "WebSocketsSansIOProtocol.send (", "asgi_send ("),
    ),
    ("channels' send wrappers (session middleware)", ("AsyncConsumer.send (",)),
    ("live_admin: the socket's handler and JSON", ("HubSocket.__call__ (",)),
    ("live_admin: the hub handing the change over", ("Hub._read (",)),
]
OTHER = "the event loop and the rest"


async def main(k: int, kind: str, layer: str, cookie: str) -> None:
    redis = Redis()
    try:
        if kind == "floor":
            await profile_floor(k)
        else:
            with server(kind, layer, redis) as s:
                clients = Clients()
                url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
                hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}
                await clients.grow(k, url, s.url, cookie, hello, "live")

                async def trigger() -> float:
                    out = await asyncio.to_thread(s.json, "/bench/commit/?model=live")
                    return float(out["committed"])

                await sampled(s.proc.pid, clients, trigger, k, kind)
                await clients.close()
    finally:
        redis.stop()


async def profile_floor(k: int) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "floor.py"), str(port)])
    try:
        wait_port(port)
        url = f"ws://127.0.0.1:{port}/"
        control = await connect(url)
        clients = Clients()
        await clients.grow(k, url, "http://127.0.0.1", "", {}, "floor")

        async def trigger() -> float:
            await control.send("go")
            return 0.0

        await sampled(proc.pid, clients, trigger, k, "floor", lambda frame: frame["t"])
        await clients.close()
        await control.close()
    finally:
        proc.terminate()
        proc.wait(10)


async def sampled(
    pid: int,
    clients: Clients,
    trigger: Callable[[], Awaitable[float]],
    k: int,
    kind: str,
    sent_at: Any = None,
) -> None:
    await measure_rounds(clients, trigger, 2, sent_at)  # warm-up
    raw = TMP / f"fan-out-{kind}.txt"
    spy = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "--gil"),
            *("--nonblocking", "-f", "raw", "-r", str(RATE), "-o", str(raw)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(2)  # py-spy attaching
    figures = await measure_rounds(clients, trigger, ROUNDS, sent_at)
    spy.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
    spy.wait(30)
    print(f"{kind}, {k} sockets, {ROUNDS} changes: {figures}")
    summarise(raw, k * ROUNDS)


def summarise(raw: Path, deliveries: int) -> None:
    """Busy µs per delivery (one change to one socket), by stage and by function."""
    stages: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = stack.split(";")
        if not frames or "select (" in frames[-1] or "poll (" in frames[-1]:
            continue  # the loop waiting in the kernel
        n = int(count)
        total += n
        own[frames[-1]] += n
        stages[_stage(frames)] += n
    each = 1e6 / RATE / deliveries
    print(f"busy: {total / RATE:.3f} s, {total * each:.1f} µs per socket and change")
    for name, _ in [*STAGES, (OTHER, ())]:
        n = stages[name]
        print(f"  {n * each:6.1f} µs  {100 * n / max(total, 1):5.1f}%  {name}")
    print("most samples of their own:")
    for frame, n in own.most_common(10):
        print(f"  {n * each:6.1f} µs  {100 * n / max(total, 1):5.1f}%  {frame}")


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        function = frame.split(" (")[0]
        for name, marks in STAGES:
            for mark in marks:
                mark = mark.removesuffix(" (")
                if function == mark or function.endswith("." + mark):
                    return name
    return OTHER


if __name__ == "__main__":
    args = sys.argv[1:]
    k = int(args[0]) if args else 1000
    kind = args[1] if len(args) > 1 else "daphne"
    layer = args[2] if len(args) > 2 else "memory"
    asyncio.run(main(k, kind, layer, prepare_database() if kind != "floor" else ""))
