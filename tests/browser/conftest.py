"""Fixtures for the browser test: the built site, a local HTTP server, and headless Chromium.

The test needs Debian's ``chromium`` (``apt-get install chromium``) and Playwright for
Python (``pip install -r requirements-browser.txt``); it skips, saying which is missing,
when either is absent. Playwright's own browser download is never used: it drives the
browser at ``MEDCNN_CHROMIUM`` (default ``/usr/bin/chromium``).

The book (both editions) is built once per session with ``tools/build_book.py``, unless ``MEDCNN_BOOK_BUILT=1`` says that ``_build/html`` is fresh.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SITE = REPOSITORY / "_build" / "html"
SCREENSHOTS = REPOSITORY / "_build" / "screenshots"
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BUILD_TIMEOUT_SECONDS = 20 * 60


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: opens the built site in headless Chromium (needs chromium and playwright)")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The Chromium executable, or a skip that says how to install it."""
    path = os.environ.get("MEDCNN_CHROMIUM", "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.skip(f"no Chromium at {path}: install it with `apt-get install -y chromium` (or set MEDCNN_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed: pip install -r requirements-browser.txt")
    return path


@pytest.fixture(scope="session")
def built_site(chromium_path) -> Path:
    """``_build/html``, built now unless ``MEDCNN_BOOK_BUILT=1``."""
    if os.environ.get("MEDCNN_BOOK_BUILT") == "1":
        if not (SITE / "index.html").is_file():
            pytest.fail(f"MEDCNN_BOOK_BUILT=1 but {SITE / 'index.html'} does not exist; build the book first")
        return SITE
    environment = {**os.environ, "MEDCNN_PROFILE": os.environ.get("MEDCNN_PROFILE", "smoke")}
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environment.setdefault("MPLBACKEND", "Agg")
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "tools" / "build_book.py")],   # both editions, as `make book`
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS,
    )  # fmt: skip
    assert result.returncode == 0, "the book build failed:\n" + result.stdout[-6000:] + result.stderr[-6000:]
    return SITE


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site served from 127.0.0.1 on a free port, for this session only."""
    from helpers import serving

    with serving(functools.partial(_QuietHandler, directory=str(built_site))) as url:
        yield f"{url}/"


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGUMENTS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One browsing context at a desktop size (the primary sidebar is shown from 960 px up),
    shared by the tests so that the theme's scripts and styles are fetched once, as a reader's
    browser caches them."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context):
    """A fresh page (its own routes and error listeners) in the shared context."""
    opened = browser_context.new_page()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def accessibility_audits() -> dict:
    """Each page's axe-core violations and article images, by page name: filled on the page load
    that the render test makes anyway, judged for every page at once by the accessibility tests."""
    return {}
