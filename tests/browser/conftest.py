"""Real Chromium (Debian's) driven by Playwright against a real daphne, on Redis.

Run in their own pytest process (`make test` does): sync Playwright and pytest-asyncio do not
share a process well.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Daphne, RedisServer, session_cookie
from django.contrib.auth.models import User
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

# Sync Playwright runs an event loop on this thread; the ORM calls of these tests are still
# plain sync code (the server under test is its own process).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(
    os.environ.get("LIVE_ADMIN_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts")
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: run `make test`, or apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(redis_layer: RedisServer, tmp_path: Path, transactional_db: None) -> Iterator[Daphne]:
    daphne = Daphne(tmp_path / "daphne.log", redis_layer.url)
    yield daphne
    daphne.stop()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors of every page a test opened; the test fails unless it is empty at the end."""
    return []


@pytest.fixture
def open_page(
    browser: Browser, server: Daphne, console_errors: list[str]
) -> Iterator[Callable[..., Page]]:
    """Open ``path`` as ``user`` in a browser context of its own; fail on console errors."""
    contexts: list[BrowserContext] = []
    errors = console_errors

    def open_page(
        user: User,
        path: str,
        state: str | None = "live",
        hold: str | None = None,
        frames: list[dict[str, Any]] | None = None,
        own_socket: bool = False,
    ) -> Page:
        """``hold``: a static file whose response is held back until the page is ``state``;
        ``frames``: a list to append each message the page's socket receives to (a socket of
        the page's own, then); ``own_socket``: no shared connection, as where a browser has no
        shared connection (the page's socket can then be seen and routed)."""
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if own_socket or frames is not None:
            without_shared_connection(context)
        context.add_cookies(
            [{"name": "sessionid", "value": session_cookie(user), "url": server.url}]
        )
        # A theme's fonts or icons from a CDN: answered empty, as nothing outside is reached.
        context.route(lambda url: not url.startswith(server.url), lambda r: r.fulfill(status=204))
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        if frames is not None:
            page.on(
                "websocket",
                lambda ws: ws.on("framereceived", lambda f: frames.append(json.loads(f))),
            )
        held: list[Route] = []
        if hold:
            page.route(f"**/static/{hold}", lambda route: held.append(route))
        page.goto(server.url + path, wait_until="commit" if hold else "load")
        if state is not None:  # None: a page that is not live itself (the index)
            wait_live(page, state)
        if hold:
            assert held, f"{hold} was not requested before the page was {state}"
            for route in held:
                route.continue_()
            page.wait_for_load_state("load")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], errors


#: A browser that cannot share a connection: no SharedWorker, and no Web Locks for a tab to
#: lead the others with (nor to tell when one has gone).
NO_SHARING = """
window.SharedWorker = undefined;
Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });
"""


def without_shared_connection(context: BrowserContext) -> None:
    """The context's pages connect each on its own, as where a browser cannot share one."""
    context.add_init_script(NO_SHARING)


#: How Chromium reports a try that met no server: refused while it was down, or reset by a
#: server that took the connection as it stopped.
SERVER_AWAY = ("ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET")


def forgive_server_away(console_errors: list[str]) -> None:
    """Drop the console errors of reconnection tries while the server was away (there may be
    none: the jittered first try can come after it is back); those, and only those, are
    expected of a test that stops its server."""
    console_errors[:] = [e for e in console_errors if not any(r in e for r in SERVER_AWAY)]


def wait_live(page: Page, state: str = "live") -> None:
    page.wait_for_selector(
        f'#live-admin[data-live-state="{state}"]', state="attached", timeout=10_000
    )


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def bob(transactional_db: None) -> User:
    return User.objects.create_superuser("bob", password="pw", first_name="Bob", last_name="Other")
