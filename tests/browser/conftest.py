"""Browser tests: Debian's Chromium, driven by Playwright, against the session's local stack.

Chromium is a system package (``/usr/bin/chromium``; ``.ci/run`` installs it, as ``apt-get install
chromium`` does on a workstation); Playwright only drives it and never downloads a browser. Each
test gets a fresh page that collects the browser console's errors and uncaught exceptions, and
the test fails on any. Screenshots go to ``test-artifacts/console/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.template import ROOT
from tests.support.stack_client import StackClient

CHROMIUM = os.environ.get("AUTOMATIONS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / "test-artifacts" / "console"
# what keeps a headless Chromium from reaching for the network on its own (this machine's is closed)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the console's browser tests need Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new tab (its own session storage), 1366x900, failing the test on any console error."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", timezone_id="Europe/Berlin")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    tab.console_errors = errors
    yield tab
    context.close()
    assert errors == [], f"the browser console had errors: {errors}"


@pytest.fixture(scope="session")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def open_console(page: Any, stack: StackClient, route: str = "#/flows") -> None:
    """Open the console and enter the key, as a user does: once, in the form."""
    page.goto(f"{stack.url}/console{route}")
    page.fill("#api-key", stack.api_key)
    page.press("#api-key", "Enter")
    page.wait_for_selector("nav")
