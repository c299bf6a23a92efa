"""The listening end of database capture: one connection per server process.

Every server process with live sockets opens one connection (psycopg 3, asynchronous). On a
network channel layer it waits for a PostgreSQL advisory lock on it, one per layer; the process
that holds it ``LISTEN``s and hands each notification to the sender, the path every change
takes, so a write is told once however many processes serve pages. On the in-memory layer each
process listens for its own pages. When the leading connection drops (PostgreSQL restarted, the
process ended) another takes the lock, or the same one reconnects with backoff; the new leader first
tells every live model's pages to check everything (a bulk change), since what was written while
nobody listened is not known. Nothing here runs on a save.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import weakref
from typing import Any

from django.db import connections
from django.utils import timezone

from ...conf import get_config, layer_backend
from ...delivery.sender import sender
from ...logs import Throttled
from ..changes import Changes
from ..observers import record_bulk, specs
from ..record import deliver
from . import CHANNEL, in_database
from .events import record
from .install import not_installed

logger = logging.getLogger("live_admin")

IN_MEMORY = "channels.layers.InMemoryChannelLayer"
#: libpq's TCP keepalives for the listening connection, unless the database's OPTIONS set them.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
#: Seconds between tries to connect, doubling up to the last.
BACKOFF = (0.5, 10.0)

_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)
_warnings = Throttled()


def start() -> None:
    """Start this event loop's listeners, once: one per PostgreSQL database whose writes are
    captured there."""
    loop = asyncio.get_running_loop()
    tasks = _tasks.setdefault(loop, {})
    for using in connections:
        if in_database(using) and (using not in tasks or tasks[using].done()):
            tasks[using] = loop.create_task(Listener(using).run(), name="live-admin-listener")


async def stop() -> None:
    """Stop this event loop's listeners (tests; servers keep theirs for their lifetime)."""
    tasks = _tasks.pop(asyncio.get_running_loop(), {})
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


def lock_key() -> int | None:
    """The advisory lock the leading listener holds: one per channel layer configuration (the
    processes that share a layer share a leader); None on the in-memory layer, where every
    process serves only its own pages and listens for itself."""
    from django.conf import settings

    if layer_backend() in (None, IN_MEMORY):
        return None
    layer = settings.CHANNEL_LAYERS[get_config()["CHANNEL_LAYER"]]
    # The same in every process: an object in the configuration (an SSL context) by its type.
    text = json.dumps(layer, sort_keys=True, default=lambda value: type(value).__qualname__)
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def parameters(using: str) -> dict[str, Any]:
    """psycopg's connection keywords for Django's database ``using``."""
    params = dict(connections[using].get_connection_params())
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    # A connection that only listens sends nothing: keepalives notice a server gone silent.
    return {**KEEPALIVES, **params}


class Listener:
    """Waits to lead, then listens, reconnecting with backoff."""

    def __init__(self, using: str) -> None:
        self.using = using

    async def run(self) -> None:
        try:
            import psycopg
        except ImportError:
            logger.warning("live_admin: database capture needs psycopg 3; nothing is listening")
            return
        delay = BACKOFF[0]
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    **parameters(self.using), autocommit=True
                )
                async with conn:
                    # The database's OPTIONS may set a statement_timeout: not for a wait to lead.
                    await conn.execute("SET statement_timeout = 0")
                    key = lock_key()
                    if key is not None:
                        await conn.execute("SELECT pg_advisory_lock(%s)", [key])
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = BACKOFF[0]
                    self.tell_everything()
                    await asyncio.to_thread(self.say_what_is_missing)
                    async for note in conn.notifies():
                        self.heard(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _warnings.log("listening to PostgreSQL failed (retrying): %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF[1])

    def say_what_is_missing(self) -> None:
        """Log, once per leadership, the live models whose triggers are not installed."""
        try:
            missing = not_installed(self.using)
        except Exception as exc:
            logger.warning("live_admin: the triggers could not be checked: %s", exc)
            return
        finally:
            connections[self.using].close()  # this thread's, made for the check
        if missing:
            names = ", ".join(f"{m._meta.label} ({state.lower()})" for m, state in missing)
            logger.warning("live_admin: triggers missing, run migrate: %s", names)

    def heard(self, payload: str) -> None:
        """Hand one notification on; a bad one is logged, never raised."""
        changes = Changes()
        try:
            record(changes, payload)
        except Exception:
            _warnings.log("a notification could not be read: %.200s", payload, exc_info=True)
            return
        deliver(changes)

    def tell_everything(self) -> None:
        """What was written while nobody listened is not known: every page checks. Not counted
        on the change badges, which count changes known to have happened."""
        changes = Changes()
        for model in specs():
            record_bulk(changes, model)
        changes.at = timezone.now().isoformat()
        sender.send_changes(changes)
