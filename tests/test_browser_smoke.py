"""The browser suite's own footing: Chromium renders our sign-in page."""
from __future__ import annotations

import pytest


@pytest.mark.browser
def test_sign_in_page_renders_in_chromium(app, live_server, browser, screenshot):
    server = live_server(app)
    page = browser.new_page()
    page.goto(f"{server.url}/gdprchat/agent/login")
    assert page.get_by_role("heading", name="Agent console").is_visible()
    assert page.locator("input[name=csrf_token]").get_attribute("value")
    screenshot(page, "agent-login")
    page.close()
