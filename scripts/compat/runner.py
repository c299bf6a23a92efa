"""A DiscoverRunner that writes every test's outcome to the JSON file ``$COMPAT_RESULTS``.

The result object lives in the main process; with ``--parallel`` the workers' events are replayed
on it, so one writer sees every test. A test's outcome is the worst one reported for it (a failing
subtest fails the test; an error in ``tearDownClass`` is reported on the class's last test).
Class and module fixtures that fail before any test are recorded under unittest's own ids, such
as ``setUpClass (admin_views.tests.AdminViewBasicTest)``. A test during which live_admin logged
an error (``compat.inject.LoggedErrors``) has the outcome "logged" unless it failed anyway.
With ``COMPAT_COLLECT`` set it runs nothing and writes the ids of the tests it would run; with
``COMPAT_ONLY`` it runs only the tests that file lists.
When nothing has started or ended a test for ``WATCH_SECONDS``, every thread's stack is written
to the log: a hung run is killed by ``scripts/django-compat``, and the stacks say where it hung.
"""

from __future__ import annotations

import faulthandler
import json
import os
import re
import time
import traceback
import unittest
from typing import Any

from django.test.runner import DiscoverRunner

#: Worst last: the outcome kept for a test is the highest ranked one.
RANKS = ["xfail", "skip", "ok", "logged", "xpass", "fail", "error"]
#: Seconds without a test starting or ending before the process's stacks are dumped (stderr).
WATCH_SECONDS = 60
#: Seconds between saves of the outcomes while the run goes on.
SAVE_EVERY = 5


class Recording:
    """Mixed into the runner's result class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, dict[str, str]] = {}
        self.saved = time.monotonic()

    def record(self, test: Any, outcome: str, err: Any = None) -> None:
        known = self.outcomes.get(test.id())
        if known and RANKS.index(known["outcome"]) >= RANKS.index(outcome):
            return
        entry = {"outcome": outcome}
        if err is not None:
            lines = traceback.format_exception(*err)
            entry["error"] = "".join(traceback.format_exception_only(*err[:2])).strip()
            entry["traceback"] = "".join(lines)[-6000:]
        self.outcomes[test.id()] = entry
        if time.monotonic() - self.saved > SAVE_EVERY:  # a run killed as hung keeps the rest
            self.save(complete=False)

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self.record(test, "ok")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self.record(test, "fail", err)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self.record(test, "error", err)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self.record(test, "fail" if failed else "error", err)

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self.record(test, "skip")

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self.record(test, "xfail")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self.record(test, "xpass")

    def add_logged(self) -> None:
        """Fail the tests during which live_admin logged an error (see ``compat.inject``)."""
        path = os.environ["COMPAT_RESULTS"] + ".logged"
        if not os.path.exists(path):
            return
        with open(path) as f:
            for line in f:
                logged = json.loads(line)
                test = logged["test"]
                known = self.outcomes.get(test, {"outcome": "ok"})
                if RANKS.index(known["outcome"]) < RANKS.index("logged"):
                    self.outcomes[test] = {"outcome": "logged", **logged}
                    del self.outcomes[test]["test"]

    def save(self, complete: bool) -> None:
        path = os.environ["COMPAT_RESULTS"]
        with open(f"{path}.part", "w") as f:  # replaced whole: a kill never leaves half a file
            json.dump({"complete": complete, "tests": self.outcomes}, f, indent=1)
        os.replace(f"{path}.part", path)
        self.saved = time.monotonic()

    def stopTestRun(self) -> None:
        super().stopTestRun()
        self.save(complete=False)  # also reached when the run breaks off; run_suite completes it


def _wanted(test_id: str, only: set[str]) -> bool:
    """``test_id`` is one of ``only``, or a test of a class or module ``only`` names as failed
    (``setUpClass (app.tests.Case)``)."""
    return test_id in only or any(test_id.startswith(prefix + ".") for prefix in only)


class RecordingRunner(DiscoverRunner):
    def load_tests_for_label(self, label: str, discover_kwargs: Any) -> Any:
        """With ``COMPAT_ONLY`` (a JSON list of test ids), only those of the label's tests: the
        suite is built from the same labels, so the same apps are installed, in the same order."""
        tests = super().load_tests_for_label(label, discover_kwargs)
        path = os.environ.get("COMPAT_ONLY")
        if not path:
            return tests
        from django.test.utils import iter_test_cases

        with open(path) as f:
            only = {re.sub(r"^\w+ \((.+)\)$", r"\1", test) for test in json.load(f)}
        return self.test_suite([t for t in iter_test_cases(tests) if _wanted(t.id(), only)])

    def run_tests(self, test_labels: Any, *args: Any, **kwargs: Any) -> int:
        """With ``COMPAT_COLLECT`` set, only write the ids of the tests the labels name."""
        if not os.environ.get("COMPAT_COLLECT"):
            return super().run_tests(test_labels, *args, **kwargs)
        from django.test.utils import iter_test_cases

        self.setup_test_environment()
        tests = {test.id(): {"outcome": "collected"} for test in iter_test_cases(
            self.build_suite(test_labels)
        )}  # fmt: skip
        self.teardown_test_environment()
        with open(os.environ["COMPAT_RESULTS"], "w") as f:
            json.dump({"complete": True, "tests": tests}, f, indent=1)
        return 0

    def get_resultclass(self) -> Any:
        base = super().get_resultclass() or unittest.TextTestResult
        return type("RecordingResult", (Recording, base), {})

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        watch_tests()  # before --parallel forks its workers: they inherit it
        result = super().run_suite(suite, **kwargs)
        faulthandler.cancel_dump_traceback_later()
        result.add_logged()
        result.save(complete=True)
        return result


def watch_tests() -> None:
    """Arm the stack dump as each test starts and again as it ends, so that it also covers the
    class fixtures between tests (a live server's shutdown, say)."""
    from django.test import SimpleTestCase

    call = SimpleTestCase.__call__
    if getattr(call, "watched", False):
        return

    def watched(self: SimpleTestCase, result: Any = None) -> Any:
        faulthandler.dump_traceback_later(WATCH_SECONDS)
        try:
            return call(self, result)
        finally:
            faulthandler.dump_traceback_later(WATCH_SECONDS)

    watched.watched = True  # type: ignore[attr-defined]
    SimpleTestCase.__call__ = watched  # type: ignore[method-assign]
