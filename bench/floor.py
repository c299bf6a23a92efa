"""The floor: a bare websockets server that broadcasts one frame to every client it holds.

A client that sends ``go`` makes it broadcast ``{"t": <monotonic time>}`` to all the others.
"""

import asyncio
import json
import sys
import time

from websockets.asyncio.server import broadcast, serve

clients: set = set()


async def handler(ws) -> None:
    clients.add(ws)
    try:
        async for message in ws:
            if message == "go":
                others = [c for c in clients if c is not ws]
                broadcast(others, json.dumps({"t": time.monotonic()}))
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
