"""The package's logger, and a log for failures that repeat."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("live_admin")

WARN_EVERY = 10.0
#: Said once (in development) by a process whose changes no page can hear, on the in-memory layer.
UNHEARD = (
    "this process's changes cannot reach pages on the in-memory channel layer: it serves no "
    "live page, and that layer does not carry changes to the process that does. Configure "
    "channels_redis to see saves of shells, workers and commands live."
)


class Throttled:
    """A log of repeated failures: WARNING at most once every ``WARN_EVERY`` s, the rest DEBUG."""

    def __init__(self) -> None:
        self.last = -WARN_EVERY

    def log(self, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic()
        level = logging.DEBUG
        if now - self.last >= WARN_EVERY:
            self.last, level = now, logging.WARNING
        logger.log(level, "live_admin: " + message, *args, exc_info=exc_info)
