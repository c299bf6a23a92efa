"""Work done in a background thread, so that the code that hands it over never waits or fails.

The sender (layer sends) and the badge recorder (store writes) are both one :class:`Worker`: a
bounded queue, a daemon thread started with the first item and anew in a forked child,
:meth:`~Worker.flush` to wait for it, and a bounded wait at exit.

A worker takes the first item after a quiet spell at once, and under load at most one batch per
:attr:`Worker.spacing`: what is queued meanwhile waits and goes with the next batch, and its
queuing wakes nobody. The saving thread shares the GIL with the worker's thread, so a burst of
saves pays for one batch's work per spacing rather than one per save.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from _thread import start_new_thread
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..conf import get_config
from ..logs import Throttled

logger = logging.getLogger("live_admin")


class Worker:
    """Items queued by :meth:`_put`, worked through in batches by :meth:`_work` in a thread of
    the worker's own. A subclass names its thread and says what an exit left undone."""

    name = "live-admin-worker"
    #: Seconds from the start of one batch to the start of the next, under load.
    spacing = 0.02

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self._flush_at_exit)

    def _reset(self) -> None:
        """A fresh state: at start, and in a forked child (the parent's thread is not there)."""
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque()
        self._idle = threading.Event()
        self._idle.set()
        self._has_work = threading.Event()
        #: Cuts a spacing short: set by :meth:`flush`, cleared once the queue is empty.
        self._hurry = threading.Event()
        #: When the next batch may start (``time.monotonic()``).
        self._due = 0.0
        #: The worker thread's ident, once started (a daemon: it ends with the process).
        self._thread: int | None = None
        self._warnings = Throttled()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been worked through, without waiting out a spacing;
        False on time-out."""
        self._hurry.set()
        return self._idle.wait(timeout)

    def _put(self, items: Iterable[Any], limit: int) -> int:
        """Queue ``items``, keeping the newest ``limit``; how many of the oldest were dropped."""
        with self._lock:
            self._pending.extend(items)
            dropped = max(len(self._pending) - limit, 0)
            for _ in range(dropped):
                self._pending.popleft()
            self._idle.clear()
            # A thread waiting on an Event is woken without the caller giving up the GIL (a
            # write to an event loop's wake-up socket would): the worker runs once the caller
            # next waits, rather than in the middle of its save. A worker waiting out its
            # spacing is not waiting on this one: setting it again wakes nobody.
            self._has_work.set()
            if self._thread is None:
                # The new thread's first batch waits a spacing too: it would otherwise take
                # the GIL (importing and connecting) before the save that started it returns.
                self._due = time.monotonic() + self.spacing
                # Not threading.Thread.start(), which waits until the new thread has run (0.5 ms
                # a start, and several on a busy machine, where the scheduler makes it wait).
                try:
                    self._thread = start_new_thread(self._start, ())
                except RuntimeError:  # refused while the interpreter shuts down
                    self._pending.clear()
                    self._idle.set()
                    raise
        return dropped

    def _start(self) -> None:  # pragma: no cover (its own frame is never traced)
        """The thread's first frame: what threading's own threads do before they run, install
        the hooks of debuggers, profilers and coverage, so that they see :meth:`_run`."""
        if threading.gettrace() is not None:
            sys.settrace(threading.gettrace())
        if threading.getprofile() is not None:
            sys.setprofile(threading.getprofile())
        self._run()

    def _run(self) -> None:
        threading.current_thread().name = self.name
        while True:
            self._has_work.wait()
            pause = self._due - time.monotonic()
            if pause > 0:
                self._hurry.wait(pause)
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
                if not batch:
                    self._has_work.clear()
                    self._hurry.clear()
                    self._idle.set()
                    continue
            self._due = time.monotonic() + self.spacing
            try:
                self._work(batch)
            except Exception as exc:  # the thread goes on with the next batch
                self._warnings.log("%s failed: %s", self.name, exc, exc_info=True)

    def _work(self, batch: list[Any]) -> None:
        raise NotImplementedError

    def _unfinished(self) -> str:
        """What an exit that did not wait long enough leaves undone."""
        raise NotImplementedError

    def _flush_at_exit(self) -> None:
        if not self.flush(get_config()["FLUSH_TIMEOUT"]):
            logger.warning("live_admin: %s", self._unfinished())
