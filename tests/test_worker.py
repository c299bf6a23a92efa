"""The background worker the sender and the badge recorder are made of."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from django.test import override_settings

from live_admin.worker import Worker

TIMEOUT = 5.0


class Collector(Worker):
    name = "test-worker"

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Any]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.working = threading.Event()  # the thread has taken a batch

    def _work(self, batch: list[Any]) -> None:
        self.working.set()
        self.gate.wait(TIMEOUT)
        if "boom" in batch:
            raise RuntimeError("boom")
        self.batches.append(batch)

    def _unfinished(self) -> str:
        return f"{len(self._pending)} item(s) left"


def test_items_are_worked_through_in_order_off_the_callers_thread() -> None:
    worker = Collector()
    assert worker.flush(0)  # nothing queued: idle
    assert worker._put([1, 2], limit=10) == 0
    assert worker._put([3], limit=10) == 0
    assert worker.flush(TIMEOUT)
    assert [item for batch in worker.batches for item in batch] == [1, 2, 3]
    assert worker._thread is not None
    assert worker._thread.name == "test-worker"
    assert worker._thread is not threading.current_thread()


def test_a_full_queue_drops_its_oldest_items() -> None:
    worker = Collector()
    worker.gate.clear()  # the thread is held on its first batch
    worker._put(["first"], limit=3)
    assert worker.working.wait(TIMEOUT)
    assert worker._put([1, 2, 3, 4, 5], limit=3) == 2
    worker.gate.set()
    assert worker.flush(TIMEOUT)
    assert worker.batches[-1] == [3, 4, 5]


def test_a_failing_batch_is_logged_and_the_next_is_still_worked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Collector()
    with caplog.at_level(logging.WARNING, logger="live_admin"):
        worker._put(["boom"], limit=10)
        assert worker.flush(TIMEOUT)
    assert "test-worker failed: boom" in caplog.text
    worker._put(["after"], limit=10)
    assert worker.flush(TIMEOUT)
    assert worker.batches == [["after"]]


def test_an_exit_waits_a_bounded_time_then_says_what_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = Collector()
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
