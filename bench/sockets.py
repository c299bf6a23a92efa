"""One bench page's websocket: logged in by its session cookie, subscribed, as a browser's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect


async def open_page(
    url: str, origin: str, cookie: str, hello: dict, expected: str, timeout: float, **options: Any
) -> tuple[Any, int]:
    """A socket that sent ``hello`` (if any) and got ``expected`` back (a reply's ``type`` or
    ``action``), and how many ``resync`` replies (joins the server retried) came first."""
    ws = await connect(
        url,
        origin=origin,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        max_queue=None,
        open_timeout=timeout,
        ping_interval=None,
        **options,
    )
    resyncs = 0
    if hello:
        await ws.send(json.dumps(hello))
        reply = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        while reply == {"type": "resync"}:
            resyncs += 1
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if reply.get("type") != expected and reply.get("action") != expected:
            raise RuntimeError(f"unexpected reply to subscribe: {reply}")
    return ws, resyncs
