"""The widget in headless Chromium for what visitors do every day: who can answer now,
a message left for an answer by e-mail, consent that informs, errors in words, long
messages, erasure, a phone's keyboard, and what axe-core finds.

Each screen is seen at 390x844 (a phone), 1024x768 and 1366x800; the screenshots land
in ``test-artifacts/``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from flask import render_template_string
from sqlalchemy import select

from flask_gdprchat.core.models import ConsentRecord, Conversation, LiveSocket, Message
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session
from tests.plugins.mail import body_text

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
VIEWPORTS = {"phone": (390, 844), "tablet": (1024, 768), "desktop": (1366, 800)}
AXE = Path(__file__).resolve().parents[1] / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
HOST_PAGE = """<!doctype html><html{% if lang %} lang="{{ lang }}"{% endif %}><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Shop</title>
<style>body { margin: 0; font-family: Georgia, serif; background: #faf7f2; color: #3b3024; }
header { padding: 20px 48px; background: #3b3024; color: #fff; font-size: 22px; }
main { padding: 48px; max-width: 760px; } a { color: #3b3024; }</style></head>
<body><header>Acme Coffee Roasters</header>
<main><h1>Fresh beans, roasted weekly</h1>
<p>Questions about grinding, brewing or your order? <a href="#faq">Read the FAQ</a>.</p></main>
{{ gdprchat_widget() }}</body></html>"""
CONSENT_LINE = ("I agree that my details and messages are used only to answer me and are "
                "deleted 270 days after our last message. Privacy policy")


@pytest.fixture
def site(app: Any, live_server: Any, make_agent: Any) -> Any:
    """The host page with the widget, served for real; ``site.agent`` may answer."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    # "/" leaves the language to the browser; "/en" is a page that says it is English.
    app.add_url_rule("/", "host_page", lambda: render_template_string(HOST_PAGE, lang=None))
    app.add_url_rule("/en", "english_page", lambda: render_template_string(HOST_PAGE, lang="en"))
    server = live_server(app)
    server.agent = make_agent("agent@example.test", name="Alice Agent",
                              permissions=["send_messages", "user_data"])
    return server


def agent_online(app: Any, agent_id: int) -> None:
    """What an open console leaves behind: the agent (online by default) has a socket."""
    with app.app_context():
        session().add(LiveSocket(sid=f"console-{agent_id}", agent_id=agent_id))
        session().commit()


def visit(browser: Any, url: str, viewport: str, path: str = "/",
          **options: Any) -> tuple[Any, Any]:
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                  has_touch=phone, **options)
    page = context.new_page()
    page.goto(url + path)
    # The widget knows who can answer (it asks once it starts, in its own language).
    page.wait_for_function("() => window.__gdprchatWidget && window.__gdprchatWidget.availability")
    return context, page


def open_panel(page: Any, form: str) -> None:
    page.locator("#gdprchat-launcher").click()
    page.locator(f"#{form}").wait_for()


def sign_in(page: Any, url: str) -> None:
    page.goto(url + "/gdprchat/agent/login")
    page.locator("input[name=email]").fill("agent@example.test")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".gdprchat-conn-on").wait_for()


def in_view(page: Any, selector: str) -> bool:
    """The element is inside the viewport and nothing covers its centre."""
    return page.evaluate("""(selector) => {
        const host = document.querySelector('#gdprchat-widget-host');
        const node = host.shadowRoot.querySelector(selector);
        const box = node.getBoundingClientRect();
        if (!box.width || box.bottom > innerHeight || box.top < 0) { return false; }
        const hit = host.shadowRoot.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
        return hit === node || node.contains(hit);
    }""", selector)


def browser_storage(page: Any) -> dict[str, Any]:
    return page.evaluate("() => ({cookie: document.cookie, local: localStorage.length})")


# -- nobody online: a message, answered by e-mail ----------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_nobody_online_the_widget_takes_a_message_and_the_answer_comes_by_e_mail(
    app, site, browser, smtp_server, screenshot, viewport
):
    from playwright.sync_api import expect

    context, page = visit(browser, site.url, viewport, locale="de-DE")
    open_panel(page, "gdprchat-offline")
    expect(page.locator("#gdprchat-availability")).to_have_text("Gerade ist niemand online")
    expect(page.locator("#gdprchat-offline .gdprchat-greeting")).to_contain_text("per E-Mail")
    screenshot(page, f"widget-offline-{viewport}")
    page.locator("#gdprchat-field-name").fill("Vera Visitor")
    page.locator("#gdprchat-field-email").fill("Vera@Example.test")
    page.locator("#gdprchat-field-text").fill("Habt ihr auch entkoffeinierten Kaffee?")
    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Nachricht senden").click()
    notice = page.locator("#gdprchat-sent-notice")
    expect(notice).to_have_text("Vielen Dank! Wir antworten Ihnen per E-Mail an vera@example.test.")
    expect(notice).to_be_focused()
    screenshot(page, f"widget-offline-sent-{viewport}")
    # The answer goes to the mailbox: nothing was put in the browser.
    assert browser_storage(page) == {"cookie": "", "local": 0} and context.cookies() == []
    with app.app_context():
        [conversation] = session().scalars(select(Conversation)).all()
        assert conversation.offline is True
        [record] = [r for r in conversation.contact.consents if r.purpose == "privacy_policy"]
        assert record.locale == "de" and record.wording.endswith("gelöscht werden. Datenschutzerklärung")
    context.close()
    if viewport != "desktop":
        return

    # The agent finds it marked in the inbox, and the answer leaves as a German e-mail.
    agent_ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    console = agent_ctx.new_page()
    sign_in(console, site.url)
    row = console.locator(".gdprchat-inbox-item", has_text="Vera Visitor")
    expect(row.locator(".gdprchat-inbox-email")).to_be_visible()
    row.click()
    expect(console.locator("#gdprchat-offline-badge")).to_be_visible()
    expect(console.locator("#gdprchat-email-note")).to_contain_text("vera@example.test")
    expect(console.locator("#gdprchat-reply-send")).to_have_text("Send e-mail")
    screenshot(console, "console-offline-message")
    console.locator("#gdprchat-reply-text").fill("Ja: einen aus Peru, mild und nussig.")
    console.keyboard.press("Enter")
    expect(console.locator(".gdprchat-toast", has_text="Sent by e-mail")).to_be_visible()
    expect(console.locator(".gdprchat-cmsg-agent .gdprchat-cbubble")).to_have_text(
        "Ja: einen aus Peru, mild und nussig.")
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "vera@example.test" and mail["Content-Language"] == "de"
    assert mail["Subject"].startswith("Unsere Antwort auf Ihre Nachricht")
    assert "Ja: einen aus Peru, mild und nussig." in body_text(mail)
    assert "> Habt ihr auch entkoffeinierten Kaffee?" in body_text(mail)
    agent_ctx.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_with_an_agent_online_the_widget_says_someone_can_answer(app, site, browser,
                                                                  screenshot, viewport):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, viewport)
    screenshot(page, f"widget-closed-{viewport}")
    open_panel(page, "gdprchat-prechat")
    expect(page.locator("#gdprchat-availability")).to_have_text("Someone can answer now")
    expect(page.locator(".gdprchat-dot-on")).to_have_count(1)
    expect(page.get_by_role("button", name="Start chat")).to_be_visible()
    screenshot(page, f"widget-prechat-{viewport}")
    context.close()


def test_outside_office_hours_the_widget_says_when_someone_is_back(app, site, browser):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    with app.app_context():
        # Open one minute a week, and not now: the next opening is at most a week away.
        save_settings({"OFFICE_HOURS": {"timezone": "UTC", "sun": ["03:00", "03:01"]}})
    context, page = visit(browser, site.url, "desktop", timezone_id="UTC")
    open_panel(page, "gdprchat-offline")
    # In the visitor's own clock and language.
    expect(page.locator("#gdprchat-availability")).to_have_text(
        "Nobody is online right now · back Sun 03:00 AM")
    context.close()


# -- consent that informs ----------------------------------------------------------------------


def test_the_consent_line_says_what_for_and_how_long_and_is_recorded_as_read(app, site, browser,
                                                                            screenshot):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, "desktop")
    open_panel(page, "gdprchat-prechat")
    line = page.locator("#gdprchat-consent-text")
    expect(line).to_have_text(CONSENT_LINE)
    link = line.locator("a")
    expect(link).to_have_text("Privacy policy")
    assert link.get_attribute("href") == "/gdprchat/privacy/policy"
    assert "version" not in line.inner_text()
    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Start chat").click()
    page.locator("#gdprchat-input").wait_for()
    with app.app_context():
        [record] = session().scalars(select(ConsentRecord)).all()
        assert (record.wording, record.locale) == (CONSENT_LINE, "en")
        save_settings({"ANONYMOUS_RETENTION_DAYS": 90})
    context.close()
    # The line follows the retention in force.
    context, page = visit(browser, site.url, "phone")
    open_panel(page, "gdprchat-prechat")
    expect(page.locator("#gdprchat-consent-text")).to_contain_text("deleted 90 days after")
    context.close()


# -- errors in words, with the button in view ----------------------------------------------------


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_a_field_error_is_worded_for_people_and_start_chat_stays_in_view(
    app, site, browser, screenshot, viewport
):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    with app.app_context():
        save_settings({"PRECHAT_REQUIRED": ["name", "email"]})
    context, page = visit(browser, site.url, viewport)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    open_panel(page, "gdprchat-prechat")
    page.locator("#gdprchat-field-email").fill("vera@")
    page.locator("#gdprchat-field-phone").fill("call me")
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("#gdprchat-field-name-error")).to_have_text("Name is required.")
    expect(page.locator("#gdprchat-field-email-error")).to_have_text(
        "Enter an e-mail address like name@example.com.")
    expect(page.locator("#gdprchat-field-phone-error")).to_have_text(
        "Enter a phone number, digits only.")
    expect(page.locator("#gdprchat-field-name")).to_be_focused()
    assert page.locator("#gdprchat-field-email").get_attribute("aria-describedby") == \
        "gdprchat-field-email-error"
    assert posts == []  # checked in the browser first
    assert in_view(page, ".gdprchat-actions .gdprchat-btn"), "Start chat was pushed out of view"
    screenshot(page, f"widget-field-errors-{viewport}")

    # What only the server can tell is said under its field too, without the field's key.
    page.locator("#gdprchat-field-name").fill("Vera")
    page.locator("#gdprchat-field-email").fill("vera@example..test")
    page.locator("#gdprchat-field-phone").fill("")
    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Start chat").click()
    expect(page.locator("#gdprchat-field-email-error")).to_have_text("Enter a valid e-mail address.")
    assert "email:" not in page.locator("#gdprchat-prechat").inner_text()
    assert in_view(page, ".gdprchat-actions .gdprchat-btn")
    context.close()


# -- erasure, long messages, lost acknowledgements ---------------------------------------------


def start_chat(page: Any, email: str = "vera@example.test") -> None:
    page.locator("#gdprchat-field-name").fill("Vera Visitor")
    page.locator("#gdprchat-field-email").fill(email)
    page.locator("#gdprchat-consent").check()
    page.get_by_role("button", name="Start chat").click()
    page.locator("#gdprchat-input").wait_for()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_after_erasure_the_notice_is_in_view_and_the_widget_stops_reconnecting(
    app, site, browser, screenshot, viewport
):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, viewport)
    open_panel(page, "gdprchat-prechat")
    start_chat(page)
    for n in range(12):  # enough to scroll the conversation
        page.locator("#gdprchat-input").fill(f"Question number {n} about the espresso blend.")
        page.keyboard.press("Enter")
    expect(page.locator(".gdprchat-msg-visitor:not(.gdprchat-msg-pending)")).to_have_count(12)
    page.wait_for_function("() => window.__gdprchatWidget.socket && window.__gdprchatWidget.socket.connected")
    screenshot(page, f"widget-conversation-{viewport}")
    with app.app_context():
        assert app.extensions["gdprchat"].chat.erase_subject("vera@example.test") is True

    notice = page.locator("#gdprchat-ended-notice")
    expect(notice).to_have_text("This conversation has been deleted.")
    expect(notice).to_be_focused()
    assert in_view(page, "#gdprchat-ended-notice")
    assert in_view(page, ".gdprchat-actions .gdprchat-btn")
    screenshot(page, f"widget-erased-{viewport}")
    # No socket left to reconnect, no "Reconnecting…", nothing of it in the browser.
    assert page.evaluate("() => window.__gdprchatWidget.socket") is None
    expect(page.locator(".gdprchat-status")).to_be_hidden()
    assert page.evaluate("() => localStorage.getItem('gdprchat-visitor')") is None
    page.get_by_role("button", name="Start a new chat").click()
    expect(page.locator("#gdprchat-prechat")).to_be_visible()
    expect(page.locator(".gdprchat-status")).to_be_hidden()
    context.close()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_counter_shows_near_the_limit_and_a_too_long_message_is_refused(
    app, site, browser, screenshot, viewport
):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, viewport)
    open_panel(page, "gdprchat-prechat")
    start_chat(page)
    box = page.locator("#gdprchat-input")
    counter = page.locator("#gdprchat-counter")
    box.fill("a" * 4000)
    expect(counter).to_be_hidden()
    box.fill("b" * 4600)
    expect(counter).to_have_text("4,600 of 5,000 characters")
    box.fill("c" * 5200)  # a paste: kept whole, not cut to 5,000 in silence
    assert len(box.input_value()) == 5200
    expect(counter).to_have_text(
        "Your message is too long: 5,200 characters, and the limit is 5,000. Please shorten it.")
    box.press("Enter")
    expect(counter).to_have_attribute("role", "alert")
    expect(box).to_have_attribute("aria-invalid", "true")
    assert len(box.input_value()) == 5200
    screenshot(page, f"widget-too-long-{viewport}")
    assert page.locator(".gdprchat-msg-visitor").count() == 0
    box.fill("d" * 5000)
    box.press("Enter")
    expect(page.locator(".gdprchat-msg-visitor:not(.gdprchat-msg-pending)")).to_have_count(1)
    expect(counter).to_be_hidden()
    with app.app_context():
        assert [len(t) for t in (m.text for m in session().scalars(select(Message)))] == [5000]
    context.close()


def test_a_message_whose_acknowledgement_was_lost_is_sent_again_and_stored_once(app, site, browser):
    from playwright.sync_api import expect

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, "desktop")
    open_panel(page, "gdprchat-prechat")
    start_chat(page)
    page.wait_for_function("() => window.__gdprchatWidget.socket && window.__gdprchatWidget.socket.connected")
    # The server stores the first send, but its acknowledgement never reaches the widget.
    page.evaluate("""() => {
        const socket = window.__gdprchatWidget.socket;
        const emit = socket.emit.bind(socket);
        let dropped = false;
        socket.emit = function (event, data, ack) {
            if (event === 'send_message' && !dropped) {
                dropped = true;
                window.__sentId = data.client_msg_id;
                return emit(event, data, () => { window.__ackLost = true; });
            }
            return emit.apply(null, arguments);
        };
    }""")
    page.locator("#gdprchat-input").fill("Is the Ethiopian roast in stock?")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.__ackLost === true")
    expect(page.locator(".gdprchat-msg-pending")).to_have_count(1)
    # The connection drops and comes back: the widget sends it again, with the same id.
    page.evaluate("() => window.__gdprchatWidget.socket.io.engine.close()")
    expect(page.locator(".gdprchat-msg-pending")).to_have_count(0)
    expect(page.locator(".gdprchat-msg-visitor")).to_have_count(1)
    sent_id = page.evaluate("() => window.__sentId")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", sent_id)
    with app.app_context():
        rows = [(m.text, m.client_msg_id) for m in session().scalars(select(Message))]
    assert [tuple(r) for r in rows] == [("Is the Ethiopian roast in stock?", sent_id)]
    context.close()


# -- a phone's keyboard --------------------------------------------------------------------------


def test_on_a_phone_tab_stays_inside_the_open_panel_and_reaches_close(app, site, browser):
    agent_online(app, site.agent)
    context, page = visit(browser, site.url, "phone")
    open_panel(page, "gdprchat-prechat")
    count = page.evaluate("() => window.__gdprchatWidget.focusables().length")
    assert page.locator("#gdprchat-panel").get_attribute("aria-modal") == "true"
    seen = []
    for _ in range(count + 2):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("""() => {
            const host = document.querySelector('#gdprchat-widget-host');
            if (document.activeElement !== host) { return 'page:' + document.activeElement.tagName; }
            return host.shadowRoot.activeElement.id || host.shadowRoot.activeElement.tagName;
        }"""))
    assert not [s for s in seen if s.startswith("page:")], seen
    assert "gdprchat-close" in seen  # forward Tab comes round to the close button
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "gdprchat-widget-host"
    page.keyboard.press("Escape")
    assert page.locator("#gdprchat-panel").is_hidden()
    assert page.evaluate(
        "() => document.querySelector('#gdprchat-widget-host').shadowRoot.activeElement.id"
    ) == "gdprchat-launcher"
    context.close()


# -- axe-core ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        if os.environ.get("GDPRCHAT_TEST_CHROMIUM"):
            pytest.fail(f"{AXE} is missing: run `npm install --prefix .ci/node axe-core`")
        pytest.skip("axe-core is not installed (npm install --prefix .ci/node axe-core)")
    return AXE.read_text(encoding="utf-8")


def serious_violations(page: Any, axe_source: str) -> list[str]:
    page.evaluate(axe_source)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']}: {v['help']} -> "
            + "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:4])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_axe_finds_no_serious_problem_in_any_state_of_the_widget(app, site, browser, axe_source,
                                                                 viewport):
    from playwright.sync_api import expect

    context, page = visit(browser, site.url, viewport, "/en")
    found = {"closed": serious_violations(page, axe_source)}
    open_panel(page, "gdprchat-offline")
    found["message form"] = serious_violations(page, axe_source)
    context.close()

    agent_online(app, site.agent)
    context, page = visit(browser, site.url, viewport, "/en")
    open_panel(page, "gdprchat-prechat")
    found["pre-chat form"] = serious_violations(page, axe_source)
    page.get_by_role("button", name="Start chat").click()  # errors shown
    found["pre-chat form with an error"] = serious_violations(page, axe_source)
    start_chat(page)
    page.locator("#gdprchat-input").fill("Hello, is the shop open on Sundays?")
    page.keyboard.press("Enter")
    expect(page.locator(".gdprchat-msg-visitor time")).to_have_count(1)
    found["conversation"] = serious_violations(page, axe_source)
    context.close()
    assert found == {state: [] for state in found}, found
