"""Bench project only: counts what the pages send the server (websocket frames, and the
fallback transport's POSTs), for the tabs section (bench/tabs.py); read at /bench/state/."""

from __future__ import annotations

from collections import Counter
from typing import Any

#: Messages pages sent: ``frames`` on websockets, ``posts`` to the stream path.
received: Counter[str] = Counter()


class Counted:
    """An ASGI application that counts the messages its clients send, then passes them on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted() -> Any:
            message = await receive()
            if message["type"] == "websocket.receive":
                received["frames"] += 1
            elif message["type"] == "http.request" and scope.get("method") == "POST":
                received["posts"] += 1
            return message

        await self.app(scope, counted, send)
