"""A reverse proxy on loopback that passes HTTP through and blocks websockets, as some corporate
proxies and PaaS routers do: it refuses the upgrade, or (``cut``) lets it through and closes the
socket at once. It may also end long responses (``streams_for``: an event stream) after some
seconds, as proxies with a read time-out do, and hold new ones back (``open``, cleared)."""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import threading
from typing import Any

REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_HEAD = 65536


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for end in (source, target):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def _end(*ends: socket.socket) -> None:
    for end in ends:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


class _Handler(socketserver.BaseRequestHandler):
    server: Any

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
            data = client.recv(4096)
            if not data:
                return
            head += data
        # A browser opens each websocket on a connection of its own: its first request says.
        upgrade = b"\r\nupgrade: websocket" in head.lower()
        if upgrade:
            self.server.refused += 1
            if not self.server.cut:
                client.sendall(REFUSED)
                return
        # One request a connection, so that each one's head is seen here.
        if not upgrade:
            head = re.sub(rb"\r\nconnection:[^\r]*", b"", head, count=1, flags=re.IGNORECASE)
            head = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        streamed = b"text/event-stream" in head.lower()  # the page's EventSource asks for it
        if streamed:
            self.server.open.wait(30)  # held back while the test makes a change
        with socket.create_connection(("127.0.0.1", self.server.upstream)) as upstream:
            upstream.sendall(head)
            if streamed and self.server.streams_for:  # ended at the proxy's time-out
                ends = threading.Timer(self.server.streams_for, _end, (client, upstream))
                ends.daemon = True
                ends.start()
            if upgrade:  # the server's 101, then nothing: the socket is closed at once
                client.sendall(upstream.recv(65536))
                return
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join(30)


class UpgradeRefusingProxy:
    """Listens on its own port (``url``) and forwards to ``upstream``'s."""

    def __init__(
        self, upstream: int, *, cut: bool = False, streams_for: float | None = None
    ) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.upstream = upstream  # type: ignore[attr-defined]
        self.server.cut = cut  # type: ignore[attr-defined]
        self.server.streams_for = streams_for  # type: ignore[attr-defined]
        #: Cleared, new event streams wait for it to be set again.
        self.open = self.server.open = threading.Event()  # type: ignore[attr-defined]
        self.open.set()
        self.server.refused = 0  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def refused(self) -> int:
        """Upgrades refused (or cut) so far."""
        return int(self.server.refused)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
