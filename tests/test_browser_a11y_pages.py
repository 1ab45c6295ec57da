"""Accessibility of the agent console, the privacy center and the subject's own page,
checked by axe-core in Chromium at the three widths people use (the dashboard and
the widget have their own axe tests)."""
from __future__ import annotations

import pytest

from tests.plugins.chat import agent_cookie, start_chat
from tests.test_browser_a11y_admin import (
    VIEWPORTS,
    _violations,
    assert_no_blocking_violations,
    axe_source,
)

__all__ = ["axe_source"]  # the fixture, shared with the dashboard's test


@pytest.mark.browser
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_console_privacy_center_and_subject_page_have_no_serious_violation(
    app, make_agent, live_server, browser, axe_source, client_for_link, screenshot, viewport
):
    make_agent("agent@example.test", name="Alice Agent",
               permissions=["send_messages", "edit_messages", "user_data"])
    server = live_server(app)
    chat = start_chat(server.url, name="Rita Reader", email="rita@example.test")
    width, height = VIEWPORTS[viewport]
    found: dict[str, list[dict]] = {}

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    cookie = agent_cookie(server.url, "agent@example.test")
    name, _, value = cookie.split(";")[0].partition("=")
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    page.goto(f"{server.url}/gdprchat/agent/?conversation={chat['conversation_id']}")
    page.locator("#gdprchat-reply, textarea").first.wait_for()
    found["console"] = _violations(page, axe_source)
    screenshot(page, f"a11y-{viewport}-console")

    page.goto(f"{server.url}/gdprchat/privacy")
    found["privacy center"] = _violations(page, axe_source)
    screenshot(page, f"a11y-{viewport}-privacy", full_page=True)

    _client, path = client_for_link(app, "rita@example.test")
    page.goto(f"{server.url}{path}")
    assert page.locator("html").get_attribute("lang") == "en"
    found["subject page"] = _violations(page, axe_source)
    screenshot(page, f"a11y-{viewport}-subject", full_page=True)
    context.close()

    assert_no_blocking_violations(found)

