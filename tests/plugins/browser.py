"""Headless Chromium (Debian's package) driven by Playwright.

Tests using ``browser`` must carry ``@pytest.mark.browser``; without
``GDPRCHAT_TEST_CHROMIUM`` they skip. ``browser.new_context()`` gives each
actor (visitor, agent) its own cookies and storage.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Screenshots land here (ignored by git) so a person can look at the pages.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright: Any) -> Iterator[Any]:
    """One Chromium for the session."""
    executable = os.environ.get("GDPRCHAT_TEST_CHROMIUM")
    if not executable:
        pytest.skip("set GDPRCHAT_TEST_CHROMIUM to run the browser suite")
    browser = _playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def screenshot() -> Any:
    """``screenshot(page, "name")`` saves ``test-artifacts/name.png``."""

    def save(page: Any, name: str, **kwargs: Any) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), **kwargs)
        return path

    return save
