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


@pytest.mark.browser
def test_bulk_actions_and_delete_ask_first_and_work_under_the_pages_csp(
    app, make_agent, live_server, browser
):
    from flask_gdprchat.core.models import Agent
    from flask_gdprchat.core.state import session

    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    victim = make_agent("vic@example.test", name="Vic Tim")
    server = live_server(app)
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None)
    _sign_in(page, server.url)
    page.goto(f"{server.url}{ADMIN_URL}/team/")

    # Dismissing the question deletes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete Vic").click()
    assert page.get_by_role("button", name="Delete Vic").is_visible()

    # "With selected" -> Disable, confirmed, reaches the server with its token.
    page.get_by_role("checkbox", name="Select Vic").check()
    page.get_by_text("With selected").click()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Disable").click()
    assert page.get_by_text("1 team member disabled.").is_visible()
    with app.app_context():
        member = session().get(Agent, victim)
        assert member.is_active is False
        assert member.deleted_at is None  # the dismissed delete sent nothing
    assert blocked == []
    context.close()


@pytest.mark.browser
def test_the_widget_preview_follows_what_the_admin_types(app, make_agent, live_server, browser,
                                                         screenshot):
    make_agent(ADMIN_EMAIL, name="Ada Admin", admin=True)
    server = live_server(app)
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    _sign_in(page, server.url)
    page.goto(f"{server.url}{ADMIN_URL}/widget/")
    preview = page.locator("#gdprchat-widget-preview")
    head = preview.locator(".gdprchat-admin-mock-head")
    assert head.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(37, 99, 235)"

    page.fill("input[name=widget_color]", "#16a34a")
    assert head.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(22, 163, 74)"
    page.fill("input[name=widget_color]", "green")  # not a colour yet: the last good one stays
    assert head.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(22, 163, 74)"
    page.fill("input[name=widget_title]", "Ask <b>us</b>")
    assert preview.locator("[data-preview=title]").inner_text() == "Ask <b>us</b>"
    page.fill("input[name=widget_greeting]", "")
    assert preview.locator("[data-preview=greeting]").is_hidden()
    page.get_by_role("checkbox", name="Phone").first.uncheck()
    assert preview.locator("[data-preview-field=phone]").is_hidden()
    assert preview.locator("[data-preview-field=email]").is_visible()
    screenshot(page, "admin-widget-preview")
    context.close()


@pytest.mark.browser
def test_an_agent_finds_a_contact_and_opens_its_conversation(app, make_agent, make_contact,
                                                            live_server, browser):
    make_agent("sam@example.test", name="Sam Support", permissions=["send_messages", "user_data"])
    make_contact("rita@example.test", name="Rita Reader")
    make_contact(None, marketing=False)
    server = live_server(app)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.url}{ADMIN_URL}/contacts/")
    page.fill("input[name=email]", "sam@example.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}{ADMIN_URL}/contacts/")
    page.get_by_label("Search by name or e-mail").fill("rita")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Rita Reader").click()
    assert page.get_by_role("heading", name="Rita Reader").is_visible()
    page.get_by_role("link", name="Open in the console").first.click()
    page.wait_for_url("**/gdprchat/agent/?conversation=*")
    context.close()
