"""Where a fan-out's time goes in the server: py-spy samples one daphne process while K sockets
hear 20 saves; prints the functions with the most samples (own and inclusive).

    .venv-bench/bin/python bench/profile_fanout.py [K] [LAYER]     # defaults: 1000 memory
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from run import TMP, Clients, Redis, measure_rounds, prepare_database, server


async def main(k: int, layer: str, cookie: str) -> None:
    redis = Redis()
    try:
        with server("daphne", layer, redis) as s:
            clients = Clients()
            url = f"ws://127.0.0.1:{s.port}/ws/live-admin/"
            hello = {"type": "subscribe", "id": "i", "model": "benchapp.item"}
            await clients.grow(k, url, s.url, cookie, hello, "live")

            async def trigger() -> float:
                out = await asyncio.to_thread(s.json, "/bench/commit/?model=live")
                return out["committed"]

            await measure_rounds(clients, trigger, 2)
            raw = TMP / "fan-out.txt"
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "-p",
                    str(s.proc.pid),
                    "-f",
                    "raw",
                    "-r",
                    "250",
                    "-o",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)  # py-spy attaching
            print(await measure_rounds(clients, trigger, 20))
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
            spy.wait(30)
            await clients.close()
    finally:
        redis.stop()
    summarise(raw)


def summarise(raw: Path) -> None:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        frames = [f.split(" (")[0] + " (" + f.split("/")[-1] for f in stack.split(";")[1:]]
        if not frames or "select" in frames[-1]:
            continue  # idle: the loop waiting
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} busy samples")
    print("own time:")
    for frame, n in own.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("inclusive:")
    for frame, n in inclusive.most_common(40):
        print(f"  {100 * n / total:5.1f}%  {frame}")


if __name__ == "__main__":
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    asyncio.run(main(k, (sys.argv[2:] or ["memory"])[0], prepare_database()))
