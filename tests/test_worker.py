"""The background worker the sender and the badge recorder are made of."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from live_admin.delivery.worker import Worker

TIMEOUT = 5.0


class Collector(Worker):
    name = "test-worker"

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.working = threading.Event()  # the thread has taken a batch
        self.threads: set[int] = set()

    def _work(self, batch: list[Any]) -> None:
        self.threads.add(threading.get_ident())
        self.working.set()
        self.gate.wait(TIMEOUT)
        if "boom" in batch:
            raise RuntimeError("boom")
        self.batches.append(batch)

    def _unfinished(self) -> str:
        return f"{len(self._pending)} item(s) left"


@pytest.fixture
def worker() -> Iterator[Collector]:
    worker = Collector()
    yield worker
    atexit.unregister(worker._flush_at_exit)  # not waited for when the test process exits


def test_items_are_worked_through_in_order_off_the_callers_thread(worker: Collector) -> None:
    assert worker.flush(0)  # nothing queued: idle
    assert worker._put([1, 2], limit=10) == 0
    assert worker._put([3], limit=10) == 0
    assert worker.flush(TIMEOUT)
    assert [item for batch in worker.batches for item in batch] == [1, 2, 3]
    assert worker.threads == {worker._thread}
    assert threading.get_ident() not in worker.threads
    (thread,) = [t for t in threading.enumerate() if t.ident == worker._thread]
    assert (thread.name, thread.daemon) == ("test-worker", True)


def test_a_full_queue_drops_its_oldest_items(worker: Collector) -> None:
    worker.gate.clear()  # the thread is held on its first batch
    worker._put(["first"], limit=3)
    assert worker.working.wait(TIMEOUT)
    assert worker._put([1, 2, 3, 4, 5], limit=3) == 2
    worker.gate.set()
    assert worker.flush(TIMEOUT)
    assert worker.batches[-1] == [3, 4, 5]


def test_a_failing_batch_is_logged_and_the_next_is_still_worked(
    worker: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="live_admin"):
        worker._put(["boom"], limit=10)
        assert worker.flush(TIMEOUT)
    assert "test-worker failed: boom" in caplog.text
    worker._put(["after"], limit=10)
    assert worker.flush(TIMEOUT)
    assert worker.batches == [["after"]]


def test_an_exit_waits_a_bounded_time_then_says_what_is_left(
    worker: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    worker.gate.clear()
    worker._put(["held"], limit=10)
    assert worker.working.wait(TIMEOUT)
    worker._put(["waiting"], limit=10)
    with (
        override_settings(LIVE_ADMIN={"FLUSH_TIMEOUT": 0.01}),
        caplog.at_level(logging.WARNING, logger="live_admin"),
    ):
        worker._flush_at_exit()
    assert "live_admin: 1 item(s) left" in caplog.text
    worker.gate.set()
    assert worker.flush(TIMEOUT)


def test_a_thread_that_cannot_start_leaves_nothing_waiting(
    worker: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(function: Any, args: tuple[Any, ...]) -> int:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr("live_admin.delivery.worker.start_new_thread", refused)
    with pytest.raises(RuntimeError):
        worker._put(["lost"], limit=10)
    assert worker.flush(0)  # a flush does not wait for what cannot be done
    monkeypatch.undo()
    worker._put(["later"], limit=10)  # the next item starts the thread
    assert worker.flush(TIMEOUT)
    assert worker.batches == [["later"]]


def test_a_forked_child_starts_a_thread_of_its_own(worker: Collector) -> None:
    worker._put(["parent"], limit=10)
    assert worker.flush(TIMEOUT)
    with warnings.catch_warnings():  # Python 3.12+ warns of forking a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: the parent's thread is not here; a new one does the work
        try:
            worker._put(["child"], limit=10)
            done = worker.flush(TIMEOUT) and worker.batches[-1] == ["child"]
            os._exit(0 if done and worker._thread in worker.threads else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
