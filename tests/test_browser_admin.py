"""The dashboard in a real browser: an admin changes retention; P/privacy states it."""
from __future__ import annotations

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.plugins.admin import ADMIN_URL

SCREENS = ["", "team/", "team/new/", "widget/", "retention/", "campaigns/", "campaigns/new/",
           "contacts/", "consents/", "requests/", "audit/"]


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}{ADMIN_URL}/")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{ADMIN_URL}/")


@pytest.mark.browser
def test_an_admin_edits_retention_and_the_privacy_page_states_it(
    app, make_agent, make_contact, live_server, browser, screenshot
):
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    server = live_server(app)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    _sign_in(page, server.url)
    assert page.get_by_role("heading", name="Overview").is_visible()
    page.get_by_role("link", name="Retention").click()
    page.fill("input[name=anonymous_retention_days]", "0")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Nothing was saved").is_visible()
    screenshot(page, "admin-retention-error")
    page.fill("input[name=anonymous_retention_days]", "314")
    page.get_by_role("button", name="Save settings").click()
    assert page.get_by_text("Saved: 1 setting changed.").is_visible()
    screenshot(page, "admin-retention-saved")
    page.goto(f"{server.url}/gdprchat/privacy")
    assert page.get_by_text("314", exact=False).first.is_visible()
    context.close()


@pytest.mark.browser
def test_every_screen_renders(app, make_agent, make_contact, live_server, browser, screenshot):
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    make_agent("sam@example.test", name="Sam Support", permissions=["send_messages", "user_data"])
    make_contact("reader@example.test", name="Rita <script>alert(1)</script>")
    make_contact(None, marketing=False)
    server = live_server(app)
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, server.url)
    for path in SCREENS:
        response = page.goto(f"{server.url}{ADMIN_URL}/{path}")
        assert response.status == 200, path
        name = "admin-" + (path.strip("/").replace("/", "-") or "overview")
        screenshot(page, name, full_page=True)
    assert errors == []
    context.close()
