"""Run Django's ``tests/runtests.py`` as ``python -m compat.run TESTS_DIR [runtests args]``.

With ``LIVE_ADMIN_COMPAT=server``, ``models`` or ``selenium`` in the environment, live_admin is
injected first (``compat.inject``); otherwise Django's suite runs stock. Either way the outcomes
are recorded (``compat.settings`` selects ``compat.runner.RecordingRunner``).
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import sys


def main() -> None:
    tests_dir = os.path.abspath(sys.argv[1])
    # --parallel workers must inherit the injection: spawned ones would set Django up afresh and
    # run stock (Python 3.14 starts them with forkserver by default).
    multiprocessing.set_start_method("fork")
    if "--selenium=chrome" in sys.argv:
        sandboxless_chromium()
    if os.environ.get("LIVE_ADMIN_COMPAT", "stock") != "stock":
        from compat import inject

        inject.install()  # before Django's tests dir goes on the path (see install())
    sys.path.insert(0, tests_dir)
    os.chdir(tests_dir)
    sys.argv = [os.path.join(tests_dir, "runtests.py"), *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")


def sandboxless_chromium() -> None:
    """Debian's Chromium as root in a container: no sandbox, no /dev/shm (stock and live alike)."""
    from django.test.selenium import SeleniumTestCaseBase

    create_options = SeleniumTestCaseBase.create_options

    def options(self: SeleniumTestCaseBase) -> object:
        made = create_options(self)
        if self.browser == "chrome":
            for argument in ("--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
                made.add_argument(argument)
            made.binary_location = "/usr/bin/chromium"
        return made

    SeleniumTestCaseBase.create_options = options


if __name__ == "__main__":
    main()
