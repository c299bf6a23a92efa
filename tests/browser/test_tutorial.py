"""docs/tutorial.md, done as written: its commands and files, taken from its own code blocks,
in a fresh virtualenv with the built wheel, then its two browsers and its shell's save.

Editing the tutorial without keeping it working fails here. The only liberties: the package
comes from the built wheel (``dist/``), ``runserver`` gets a free port, and ``REDIS_URL`` (which
the tutorial's settings read) names this test's Redis."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RedisServer, wait_for
from playwright.sync_api import Browser, Page, expect
from ports import free_port

from .conftest import screenshot

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "tutorial.md"
#: A code block: its language, and its lines.
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
#: A Python block's first line names its file, and says "(at the end)" for an addition.
FILE = re.compile(r"^# (?P<path>[\w/.]+\.py)(?P<append> \(at the end\))?$")


def steps() -> list[tuple[str, str]]:
    """The tutorial's steps, in order: ("run", a command) or ("write"/"append", path + text)."""
    found: list[tuple[str, str]] = []
    for language, body in BLOCK.findall(TUTORIAL.read_text()):
        if language == "console":
            found += [("run", line[2:]) for line in body.splitlines() if line.startswith("$ ")]
        elif language == "python":
            first, _, rest = body.partition("\n")
            named = FILE.match(first)
            assert named, f"a Python block of the tutorial names no file: {first!r}"
            found.append(("append" if named["append"] else "write", named["path"] + "\n" + rest))
    return found


def wheel() -> Path:
    built = sorted((REPO / "dist").glob("django_live_admin-*.whl"))
    assert built, "no wheel in dist/: `make wheel` (make test builds it first)"
    return built[-1]


class Project:
    """The reader's directory and shell: commands run with the virtualenv active."""

    def __init__(self, directory: Path, redis_url: str) -> None:
        self.dir = directory
        self.env = {**os.environ, "REDIS_URL": redis_url}
        for name in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV"):
            self.env.pop(name, None)
        self.server: subprocess.Popen[str] | None = None
        self.port = 0

    def activate(self) -> None:
        venv = self.dir / ".venv"
        self.env["VIRTUAL_ENV"] = str(venv)
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"

    def run(self, command: str) -> None:
        if command == ". .venv/bin/activate":
            return self.activate()
        if command.startswith("python -m venv"):
            command = f"{shlex.quote(sys.executable)} {command[len('python ') :]}"
        command = command.replace('"django-live-admin[redis]"', f'"{wheel()}[redis]"')
        if command == "python manage.py runserver":
            return self.serve()
        done = subprocess.run(
            command, shell=True, cwd=self.dir, env=self.env, capture_output=True, text=True,
            timeout=600, check=False, executable="/bin/bash",
        )  # fmt: skip
        assert done.returncode == 0, f"$ {command}\n{done.stdout}\n{done.stderr}"
        if command == "python manage.py check":
            assert "live_admin" not in done.stdout + done.stderr, done.stdout + done.stderr

    def serve(self) -> None:
        self.port = free_port()
        self.log = open(self.dir / "runserver.log", "w")  # noqa: SIM115  (closed in stop())
        self.server = subprocess.Popen(
            ["python", "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=self.dir, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        wait_for(self.answers, timeout=60, interval=0.2)

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/admin/login/", timeout=2)
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.log.close()


@pytest.fixture
def project(tmp_path: Path, redis_server: RedisServer) -> Iterator[Project]:
    redis_server.command("FLUSHALL")
    reader = Project(tmp_path, redis_server.url + "?socket_timeout=10")
    yield reader
    reader.stop()


def logged_in(browser: Browser, url: str, user: str) -> Page:
    """A browser window of its own, logged in as the tutorial says, with keys and clicks."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    page.click("#id_username")
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(user)  # the tutorial's passwords are the user names
    page.keyboard.press("Enter")
    page.wait_for_url(url)
    page.wait_for_selector('#live-admin[data-live-state="live"]', state="attached")
    return page


def test_the_tutorial_works_as_written(project: Project, browser: Browser) -> None:
    todo = steps()
    change = todo.pop()  # the last step: the script's save, once the browsers watch
    assert change[0] == "run", change
    assert "order.save()" in change[1], change
    for kind, step in todo:
        if kind == "run":
            project.run(step)
        else:
            path, _, text = step.partition("\n")
            with open(project.dir / path, "a" if kind == "append" else "w") as file:
                file.write(("\n" if kind == "append" else "") + text)
    assert project.server is not None, "the tutorial starts no server"
    url = f"http://127.0.0.1:{project.port}/admin/shop/order/"
    windows = [logged_in(browser, url, user) for user in ("admin", "bob")]
    for page in windows:
        expect(page.locator("#result_list tbody tr", has_text="Ben")).to_contain_text("new")
    project.run(change[1])
    for page in windows:  # "within a second", given a loaded CI machine some more
        expect(page.locator("#result_list tbody tr", has_text="Ben")).to_contain_text(
            "shipped", timeout=5_000
        )
    screenshot(windows[0], "tutorial")
    for page in windows:
        page.context.close()
