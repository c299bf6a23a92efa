"""The fallback transport, for pages whose websocket cannot connect (a proxy that refuses or cuts
the upgrade): the same protocol as server-sent events one way and POSTs the other, at
``LIVE_ADMIN["STREAM_PATH"]``.

A GET opens a stream: the same consumer as a websocket's, with the same checks (the session's
user, ``MAX_SOCKETS_PER_USER``, each subscription through the ModelAdmin), whose messages are
``data:`` lines. Its first event names the stream (``{"type": "stream", "id": …}``); a close is an
event too (``{"type": "closed", "code": 4401}``). A POST carries one message for a stream, named
by its ``X-Live-Admin-Stream`` header, under Django's own CSRF check; it reaches the stream
through the channel layer, whatever process holds it, and the stream takes it only from its own
session. An origin other than the site's is refused, as the websocket route's validator does.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import secrets
from typing import Any, cast
from urllib.parse import urlparse

from asgiref.sync import sync_to_async
from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

from ..conf import get_config
from ..delivery.listeners import listened
from ..delivery.sender import get_layer
from ..protocol import CLIENT, stream_group
from .consumer import LiveAdminConsumer
from .permissions import user_refusal

logger = logging.getLogger("live_admin")

STREAM_ID = re.compile(r"[0-9a-f]{32}\Z")
STREAM_HEADER = b"x-live-admin-stream"
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]


def _header(scope: Any, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def foreign_origin(scope: Any) -> bool:
    """Whether the request comes from a page of another site: an ``Origin`` that
    ``ALLOWED_HOSTS`` does not allow (as channels' validator decides for websockets), or, with
    none, a browser saying it is cross-site."""
    origin = _header(scope, b"origin")
    if origin is None:
        return _header(scope, b"sec-fetch-site") in ("cross-site", "same-site")
    validator: Any = AllowedHostsOriginValidator(cast(Any, None))
    return not validator.valid_origin(urlparse(origin))


def session_mark(session_key: str | None) -> str:
    """What a POSTed message carries of its session (not the key itself: it crosses the layer)."""
    return hashlib.sha256(f"live_admin.stream:{session_key}".encode()).hexdigest()[:32]


class LiveAdminStream(LiveAdminConsumer):
    """The live admin consumer over an event stream."""

    EVENTS = {**LiveAdminConsumer.EVENTS, CLIENT: "posted"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream = secrets.token_hex(16)
        self.started = False
        self.keepalive: asyncio.TimerHandle | None = None

    async def http_request(self, message: dict[str, Any]) -> None:
        if self.started:  # more of a GET's body: there is none to read
            return
        self.started = True
        if foreign_origin(self.scope):
            await self._raw({"type": "http.response.start", "status": 403, "headers": []})
            await self._raw({"type": "http.response.body", "body": b""})
            self.ended = True
            return
        await self.connect()
        if self.allowed and not self.ended:
            await self.member(stream_group(self.stream), "stream", True)
            await self.send_message({"type": "stream", "id": self.stream})
            self._keep_alive()

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        await self.disconnect(1001)
        raise StopConsumer

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await self._raw({"type": "http.response.start", "status": 200, "headers": HEADERS})

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Say the code as an event, and end the response: the stream is over."""
        if self.ended:
            return
        await self.send_message({"type": "closed", "code": code or 1000})
        self.ended = True
        try:
            await self._raw({"type": "http.response.body", "body": b""})
        except Exception as exc:  # the client went away first
            logger.debug("live_admin: ending a closed stream failed: %s", exc)
        self._wake()

    async def send_message(self, content: dict[str, Any]) -> None:
        if not self.ended:
            await self._send(b"data: " + json.dumps(content).encode() + b"\n\n")

    async def _send(self, body: bytes) -> None:
        try:
            await self._raw({"type": "http.response.body", "body": body, "more_body": True})
        except Exception as exc:  # the client went away mid-send: end this consumer cleanly
            logger.debug("live_admin: sending to a closed stream failed: %s", exc)
            raise StopConsumer from exc

    async def _raw(self, event: dict[str, Any]) -> None:
        sent: Any = event  # an HTTP response's events, where the base class types a websocket's
        await self.base_send(sent)

    def _keep_alive(self) -> None:
        self.keepalive = asyncio.get_running_loop().call_later(KEEPALIVE_SECONDS, self._beat)

    def _beat(self) -> None:
        if self.hub is not None and not self.ended:  # still open
            self.deliver({"type": "live_admin.keepalive"})

    async def live_admin_keepalive(self, event: dict[str, Any]) -> None:
        if not self.ended:
            await self._send(b": keep-alive\n\n")
            self._keep_alive()

    async def posted(self, event: dict[str, Any]) -> None:
        """A message POSTed for this stream, taken only from the stream's own session."""
        if event.get("session") == session_mark(self.session_key):
            await self.receive(text_data=str(event.get("text", "")))

    async def _leave(self) -> None:
        if self.keepalive is not None:
            self.keepalive.cancel()
        await super()._leave()


class StreamPost(AsyncConsumer):
    """One message POSTed for a stream: checked as Django checks a form's POST, then sent to
    the stream's group. 202 once sent; 410 when no stream of that id is open (the page opens
    another); 400, 403 or 413 for a request that is not one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.body: list[bytes] = []
        self.size = 0

    async def http_request(self, message: dict[str, Any]) -> None:
        self.size += len(message.get("body", b""))
        limit = get_config()["MAX_MESSAGE_BYTES"]
        if self.size <= limit:
            self.body.append(message.get("body", b""))
        if message.get("more_body"):
            return
        status = 413 if self.size > limit else await self.forward(b"".join(self.body))
        await self.send({"type": "http.response.start", "status": status, "headers": HEADERS[1:2]})
        await self.send({"type": "http.response.body", "body": b""})
        raise StopConsumer

    async def http_disconnect(self, message: dict[str, Any]) -> None:
        raise StopConsumer

    async def forward(self, body: bytes) -> int:
        stream = _header(self.scope, STREAM_HEADER) or ""
        if not STREAM_ID.match(stream):
            return 400
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if foreign_origin(self.scope) or not key or user_refusal(self.scope.get("user")):
            return 403
        if not await sync_to_async(_csrf_passes)(self.scope, body):
            return 403
        layer, group = get_layer(), stream_group(stream)
        try:
            if isinstance(layer, InMemoryChannelLayer):
                heard: set[str] | None = set(layer.groups)
            else:
                heard = await listened(layer, [group])
            if heard is not None and group not in heard:
                return 410
            text = body.decode("utf-8", "replace")
            event = {"type": CLIENT, "group": group, "session": session_mark(key), "text": text}
            await layer.group_send(group, event)
        except Exception as exc:
            logger.warning("live_admin: a stream's message could not be passed on: %s", exc)
            return 503
        return 202


def _csrf_passes(scope: Any, body: bytes) -> bool:
    """Django's CSRF check of the POST (its token in ``X-CSRFToken``, its origin)."""
    request = ASGIRequest(scope, io.BytesIO(body))
    request.session = scope["session"]
    check = CsrfViewMiddleware(_view)
    check.process_request(request)
    return check.process_view(request, _view, (), {}) is None


def _view(request: Any) -> HttpResponse:  # pragma: no cover (what CSRF checks; never called)
    """Stands for the endpoint in Django's CSRF check."""
    return HttpResponse()


class StreamEndpoint:
    """``STREAM_PATH``: a GET opens a stream, a POST passes a message on to one."""

    def __init__(self) -> None:
        self.stream = LiveAdminStream.as_asgi()
        self.post = StreamPost.as_asgi()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope.get("method")
        if method == "GET":
            await self.stream(scope, receive, send)
        elif method == "POST":
            await self.post(scope, receive, send)
        else:
            await send({"type": "http.response.start", "status": 405, "headers": []})
            await send({"type": "http.response.body", "body": b""})
