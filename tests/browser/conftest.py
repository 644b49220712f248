"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium; no browser is downloaded) against a
live Daphne server on the test database, started as the ingest benchmark starts its servers
(`oracle.benchmarks.servers_running`), so the websockets are served too.

Without Chromium the tests are skipped, except under CI=true, where they fail: CI must run them (`.ci/run`
installs the package when it is missing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from oracle.benchmarks import servers_running
from registry.defaults import zones_seed

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 20_000


@pytest.fixture
def chromium_path() -> str:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture
def live_server_url(ledger, monkeypatch):
    """A Daphne server on this test's database, with the default zones; this process stays the sequencer.

    The server matches orders in its own thread (TRADING_MATCHER=thread), as the embedded platform does, so its
    websockets publish every trade whichever channel layer is configured."""
    zones_seed()
    if not settings.DEBUG:  # ServeStatic then serves STATIC_ROOT only, as in production
        call_command("collectstatic", "--noinput", verbosity=0)
    monkeypatch.setenv("TRADING_MATCHER", "thread")
    # Playwright's synchronous API runs an event loop in this thread; the test's own database calls are
    # synchronous code that does not share it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with servers_running(1, log=lambda message: None) as [server]:
        yield server


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()
