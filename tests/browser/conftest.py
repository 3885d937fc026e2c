"""Browser tests: Debian's Chromium, driven by Playwright, against a real `tierflow serve --demo`.

Every test in this folder is marked ``browser`` and runs in the plain ``pytest``
command. Chromium is ``/usr/bin/chromium`` from Debian's ``chromium`` package
(``.ci/run`` installs it), never a browser Playwright downloads; the tests fail,
saying so, when it is missing.

Fixtures: ``tierflow_server`` (the base URL of one server for the folder),
``browser``, ``page`` (a fresh context per test, its base URL the server's, so
``page.goto("/")`` works), and the helpers ``shoot(page, name)`` and
``axe_check(page)``; ``tests.browser.support`` also has ``visit(page, path)`` and
the fixtures' types.

The server and the browser are package-scoped: started once for this folder and
stopped when its last test is done. Playwright's sync API leaves its event loop
marked as running on the main thread while it lives, which would break every
async test after this folder, and an idle server has no business running
through the rest of the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser import support
from tests.procs import free_port, stop, wait_for_http

HERE = Path(__file__).resolve().parent
TIERFLOW = Path(sys.executable).with_name("tierflow")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def tierflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``tierflow serve --demo`` on free ports with a fresh data dir; yields its base URL.

    SQLite in the data dir and the embedded Temporal dev server, as a first-time user
    runs it (``TIERFLOW_*`` variables of the caller are dropped). Stopped with SIGTERM,
    then SIGKILL if it lingers; its output is kept as ``test-artifacts/browser-serve.log``.
    """
    folder = tmp_path_factory.mktemp("browser-serve")
    log = folder / "serve.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    command = [str(TIERFLOW), "serve", "--demo", "--data-dir", str(folder / "data")]
    command += ["--demo-days", "0"]  # no ticket history: the tests make the tickets they need
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        # run outside the repository, as a user would: its workflows/ folder is not a site's
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/healthz", proc, log)
        yield base_url
    finally:
        stop(proc)
        support.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, support.ARTIFACTS / "browser-serve.log")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless ``/usr/bin/chromium`` under Playwright."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests use Debian's Chromium, never a "
            "downloaded one. Install it with: apt-get install -y chromium (.ci/run does).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, tierflow_server: str) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies), its base URL the server's."""
    context = browser.new_context(base_url=tierflow_server, viewport={"width": 1280, "height": 800})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def shoot() -> support.Shoot:
    """``shoot(page, name)``: a full-page PNG in ``test-artifacts/screenshots/<name>.png``."""
    return support.shoot


@pytest.fixture
def axe_check() -> support.AxeCheck:
    """``axe_check(page)``: fails listing every serious or critical axe-core violation."""
    return support.axe_check
