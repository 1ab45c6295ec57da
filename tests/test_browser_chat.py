"""The widget and the console in headless Chromium, talking for real."""
from __future__ import annotations

from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from flask_gdprchat.core.models import ConsentRecord, Contact, Conversation, LiveSocket, Message
from flask_gdprchat.core.state import session

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
HOST_PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Shop</title>
<style>
  /* A hostile host stylesheet: none of it may reach the widget. */
  * { font-family: Georgia, serif !important; }
  button { background: hotpink !important; border: 5px dashed green !important; }
  input { display: none !important; }
  body { margin: 0; font-family: Georgia, serif; background: #faf7f2; color: #3b3024; }
  header { padding: 20px 48px; background: #3b3024; color: #fff; font-size: 22px; }
  main { padding: 48px; max-width: 760px; }
  h1 { font-size: 38px; margin: 0 0 12px; } p { font-size: 18px; line-height: 1.6; }
</style></head>
<body><header>Acme Coffee Roasters</header>
<main><h1>Fresh beans, roasted weekly</h1>
<p>Single-origin coffee from small farms, delivered to your door. Questions about grinding,
brewing or your order? Our team is one click away.</p></main>
{{ gdprchat_widget() }}</body></html>"""


@pytest.fixture
def site(app: Any, live_server: Any, make_agent: Any) -> Any:
    """The app with a host page carrying the widget, served for real."""
    from playwright.sync_api import expect

    # Under a loaded machine (the whole suite at once) events may take a few seconds.
    expect.set_options(timeout=15_000)
    app.add_url_rule("/", "host_page", lambda: render_template_string(HOST_PAGE))
    agent = make_agent("agent@example.test", name="Alice Agent",
                       permissions=["send_messages", "edit_messages", "user_data"])
    # Someone can answer (an open console), so the widget offers a live chat.
    with app.app_context():
        session().add(LiveSocket(sid="console-of-alice", agent_id=agent))
        session().commit()
    return live_server(app)


def open_widget(page: Any, url: str) -> None:
    page.goto(url + "/")
    page.locator("#gdprchat-launcher").click()
    page.locator("#gdprchat-prechat").wait_for()


def start_chat(page: Any, name: str = "Vera Visitor") -> None:
    page.locator("#gdprchat-field-name").fill(name)
    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Start chat").click()
    page.locator("#gdprchat-input").wait_for()


def sign_in(page: Any, url: str) -> None:
    page.goto(url + "/gdprchat/agent/login")
    page.locator("input[name=email]").fill("agent@example.test")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#gdprchat-console").wait_for()
    page.locator(".gdprchat-conn-on").wait_for()


def counts(app: Any) -> list[int]:
    with app.app_context():
        return [session().scalar(select(func.count()).select_from(m))
                for m in (Contact, Conversation, ConsentRecord)]


def test_a_visitor_and_an_agent_chat_in_real_browsers(app, site, browser, screenshot):
    from playwright.sync_api import expect

    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    console = agent_ctx.new_page()
    sign_in(console, site.url)

    visitor_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = visitor_ctx.new_page()
    page.goto(site.url + "/")
    page.locator("#gdprchat-launcher").wait_for()
    screenshot(page, "widget-closed")
    page.locator("#gdprchat-launcher").click()
    page.locator("#gdprchat-field-email").fill("vera@example.test")
    screenshot(page, "widget-prechat")
    start_chat(page)
    page.locator("#gdprchat-input").fill("Hi! Which grind suits an AeroPress?")
    page.keyboard.press("Enter")
    # The stored message (its "sending" placeholder goes once the ack is in).
    expect(page.locator(".gdprchat-msg-visitor:not(.gdprchat-msg-pending) .gdprchat-bubble")).to_have_text(
        "Hi! Which grind suits an AeroPress?")

    # The new chat and its message reach the console without a reload.
    row = console.locator(".gdprchat-inbox-item", has_text="Vera Visitor")
    expect(row.locator(".gdprchat-unread")).to_have_text("1")
    row.click()
    expect(console.locator(".gdprchat-cmsg-visitor .gdprchat-cbubble")).to_have_text(
        "Hi! Which grind suits an AeroPress?")
    expect(console.locator("#gdprchat-contact-panel")).to_contain_text("vera@example.test")
    console.locator("#gdprchat-reply-text").fill("Hi Vera! A fine-medium grind, like table salt.")
    console.keyboard.press("Enter")

    reply = page.locator(".gdprchat-msg-agent .gdprchat-bubble")
    expect(reply).to_have_text("Hi Vera! A fine-medium grind, like table salt.")
    expect(page.locator(".gdprchat-msg-agent .gdprchat-meta").first).to_have_text("Alice")
    page.locator("#gdprchat-input").fill("Great, thanks. And for espresso?")
    page.keyboard.press("Enter")
    expect(console.locator(".gdprchat-cmsg-visitor")).to_have_count(2)
    console.locator("#gdprchat-reply-text").fill("Much finer: think powdered sugar.")
    console.keyboard.press("Enter")
    expect(page.locator(".gdprchat-msg-agent")).to_have_count(2)
    screenshot(page, "widget-conversation")
    screenshot(console, "console")

    # A reload resumes the conversation with its history.
    page.reload()
    page.locator("#gdprchat-launcher").click()
    expect(page.locator(".gdprchat-bubble")).to_have_count(4)

    with app.app_context():
        texts = [m.text for m in session().scalars(select(Message).order_by(Message.id))]
    assert texts[0] == "Hi! Which grind suits an AeroPress?" and len(texts) == 4
    visitor_ctx.close()
    agent_ctx.close()


def test_the_widget_fits_a_phone(app, site, browser, screenshot):
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    open_widget(page, site.url)
    screenshot(page, "widget-phone-prechat")
    panel = page.locator("#gdprchat-panel").bounding_box()
    assert panel["width"] <= 390 and panel["height"] <= 844
    start_chat(page, "Pat Phone")
    page.locator("#gdprchat-input").fill("Do you ship to Norway?")
    page.locator("#gdprchat-input").press("Enter")
    expect(page.locator(".gdprchat-msg-visitor")).to_have_count(1)
    screenshot(page, "widget-phone-conversation")
    assert page.locator("#gdprchat-input").bounding_box()["y"] < 844
    ctx.close()


def test_the_chat_does_not_start_without_the_consent_tick(app, site, browser):
    from playwright.sync_api import expect

    ctx = browser.new_context()
    page = ctx.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    open_widget(page, site.url)
    assert not page.locator("#gdprchat-consent").is_checked()
    assert not page.locator("#gdprchat-marketing").is_checked()
    page.locator("#gdprchat-field-name").fill("No Tick")
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("#gdprchat-error")).to_contain_text("accept the privacy policy")
    expect(page.locator("#gdprchat-consent")).to_be_focused()
    assert page.locator("#gdprchat-input").is_hidden()
    assert posts == []
    assert counts(app) == [0, 0, 0]
    link = page.locator("#gdprchat-prechat a", has_text="Privacy policy")
    assert link.get_attribute("href") == "/gdprchat/privacy/policy"
    assert link.inner_text() == "Privacy policy"  # the version is the record's, not the visitor's
    ctx.close()


def test_nothing_is_stored_or_sent_before_consent(app, site, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(f"{r.method} {r.url}"))
    open_widget(page, site.url)
    page.locator("#gdprchat-field-name").fill("Private Person")
    page.locator("#gdprchat-field-email").fill("private@example.test")
    page.locator("#gdprchat-consent").focus()

    def storage() -> dict[str, Any]:
        return page.evaluate("""() => ({cookie: document.cookie, local: localStorage.length,
                                       session: sessionStorage.length})""")

    assert storage() == {"cookie": "", "local": 0, "session": 0}
    assert ctx.cookies() == []
    # Only the page, the script, and whether someone can answer: nothing about the visitor.
    assert requests_seen == [f"GET {site.url}/", f"GET {site.url}/gdprchat/widget.js",
                             f"GET {site.url}/gdprchat/api/availability?lang=en"]

    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Start chat").click()
    page.locator("#gdprchat-input").wait_for()
    saved = page.evaluate("() => JSON.parse(localStorage.getItem('gdprchat-visitor'))")
    assert saved["token"] and saved["conversation_id"]
    assert saved["policy_version"] == "1"
    assert storage()["session"] == 0
    ctx.close()


def test_visitor_markup_is_shown_as_text(app, site, browser, screenshot):
    from playwright.sync_api import expect

    hostile = "<img src=x onerror=alert(1)><b>hi</b>"
    dialogs: list[str] = []
    agent_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    console = agent_ctx.new_page()
    console.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(console, site.url)

    ctx = browser.new_context()
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_widget(page, site.url)
    start_chat(page, name="<script>alert(2)</script>")
    page.locator("#gdprchat-input").fill(hostile)
    page.keyboard.press("Enter")
    # The stored message (its "sending" placeholder goes once the ack is in).
    expect(page.locator(".gdprchat-msg-visitor:not(.gdprchat-msg-pending) .gdprchat-bubble")).to_have_text(hostile)

    console.locator(".gdprchat-inbox-item", has_text="alert(2)").click()
    bubble = console.locator(".gdprchat-cmsg-visitor .gdprchat-cbubble")
    expect(bubble).to_have_text(hostile)
    assert bubble.locator("b, img").count() == 0
    expect(console.locator("#gdprchat-thread-title")).to_have_text("<script>alert(2)</script>")
    expect(console.locator(".gdprchat-inbox-preview").first).to_have_text(hostile)

    console.reload()
    expect(console.locator(".gdprchat-inbox-name").first).to_have_text("<script>alert(2)</script>")
    expect(console.locator(".gdprchat-inbox-preview").first).to_have_text(hostile)
    assert console.locator("#gdprchat-inbox-list b, #gdprchat-inbox-list img").count() == 0
    assert dialogs == []
    ctx.close()
    agent_ctx.close()
