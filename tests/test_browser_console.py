"""The agent console in headless Chromium: phone, tablet/laptop and desktop widths."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flask_gdprchat.core.models import Agent, Contact, Conversation, SavedReply
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from flask_gdprchat.team.agents import create_agent

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
LONG_EMAIL = "veronika.wolkenstein-hohenberg@example-company.test"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}


@pytest.fixture
def desk(app: Any, live_server: Any, make_agent: Any) -> Any:
    """The app served for real, with Alice (who may do everything) and Bob."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    make_agent("agent@example.test", name="Dr. Alice Agent",
               permissions=["send_messages", "edit_messages", "user_data"])
    with app.app_context():
        create_agent("bob@example.test", "Bob Builder", PASSWORD, permissions=["send_messages"])
        session().commit()
    return live_server(app)


def sign_in(page: Any, url: str) -> None:
    page.goto(url + "/gdprchat/agent/login")
    page.locator("input[name=email]").fill("agent@example.test")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#gdprchat-console").wait_for()
    page.locator(".gdprchat-conn-on").wait_for()


def visitor_writes(chat_visitor: Any, url: str, text: str, **fields: Any) -> tuple[int, Any]:
    chat, visitor = chat_visitor(url, **fields)
    cid = chat["conversation_id"]
    assert visitor.call("send_message", {"conversation_id": cid, "text": text})["ok"]
    return cid, visitor


def status_of(app: Any, cid: int) -> tuple[str, int | None]:
    with app.app_context():
        conversation = session().get(Conversation, cid)
        return conversation.status, conversation.assigned_agent_id


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_on_a_phone_one_pane_at_a_time_from_list_to_thread_to_contact(
        app, desk, browser, chat_visitor, screenshot):
    from playwright.sync_api import expect

    cid, visitor = visitor_writes(chat_visitor, desk.url, "Is my order on its way?",
                                  name="Veronika Wolkenstein", email=LONG_EMAIL)
    visitor_writes(chat_visitor, desk.url, "Hello?")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    sign_in(page, desk.url)
    screenshot(page, "console-phone-list")

    # The page is as wide as the phone and its header is one line with "Sign out" in view.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    header = page.locator(".gdprchat-topbar").bounding_box()
    assert header["height"] == 56
    sign_out = page.get_by_role("button", name="Sign out").bounding_box()
    assert sign_out["x"] + sign_out["width"] <= 390 and sign_out["y"] < 56
    expect(page.locator("#gdprchat-thread")).to_be_hidden()

    page.locator(".gdprchat-inbox-item", has_text="Veronika").tap()
    expect(page.locator(".gdprchat-cmsg-visitor .gdprchat-cbubble")).to_have_text(
        "Is my order on its way?")
    expect(page.locator(".gdprchat-inbox")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.locator("#gdprchat-reply-text").fill("Yes, it left our warehouse this morning.")
    page.get_by_role("button", name="Send").tap()
    got = visitor.wait_for("message", lambda d: d["author"] == "agent")
    assert (got["author_name"], got["text"]) == ("Alice", "Yes, it left our warehouse this morning.")

    page.locator("#gdprchat-resolve").tap()
    expect(page.locator("#gdprchat-status-badge")).to_have_text("Resolved")
    expect(page.locator("#gdprchat-resolve")).to_have_text("Reopen")
    assert status_of(app, cid)[0] == "resolved"
    screenshot(page, "console-phone-thread")

    page.locator("#gdprchat-contact-toggle").tap()
    panel = page.locator("#gdprchat-contact-panel")
    expect(panel.locator(".gdprchat-clip").first).to_have_text(LONG_EMAIL)
    expect(panel.get_by_role("button", name="Delete chat")).to_be_visible()
    expect(page.locator("#gdprchat-thread")).to_be_hidden()
    # The address is cut with an ellipsis on one line, its full value in the title.
    email = panel.locator(".gdprchat-clip").first
    assert email.get_attribute("title") == LONG_EMAIL
    assert email.bounding_box()["height"] < 30
    screenshot(page, "console-phone-contact")

    page.locator("#gdprchat-contact-close").tap()
    expect(page.locator("#gdprchat-thread")).to_be_visible()
    page.locator("#gdprchat-back").tap()
    expect(page.locator(".gdprchat-inbox")).to_be_visible()
    expect(page.locator("#gdprchat-thread")).to_be_hidden()

    # Opening a conversation's address shows the thread alone, not under the list.
    page.goto(f"{desk.url}/gdprchat/agent/?conversation={cid}")
    expect(page.locator(".gdprchat-cmsg-agent .gdprchat-cbubble")).to_have_text(
        "Yes, it left our warehouse this morning.")
    expect(page.locator(".gdprchat-inbox")).to_be_hidden()
    assert page.locator(".gdprchat-thread-head").bounding_box()["y"] == 56
    ctx.close()


def test_at_1024_the_contact_panel_is_a_drawer_with_the_csv_export(
        app, desk, browser, chat_visitor, screenshot):
    from playwright.sync_api import expect

    cid, _visitor = visitor_writes(chat_visitor, desk.url, "Please send me my data.",
                                   name="Veronika Wolkenstein", email=LONG_EMAIL)
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, accept_downloads=True)
    page = ctx.new_page()
    sign_in(page, desk.url)
    page.locator(".gdprchat-inbox-item", has_text="Veronika").click()
    panel = page.locator("#gdprchat-contact-panel")
    expect(panel.get_by_role("link", name="Export CSV")).to_be_hidden()
    expect(page.locator(".gdprchat-cmsg-visitor")).to_have_count(1)
    screenshot(page, "console-1024")
    page.get_by_role("button", name="Contact").click()
    expect(panel.get_by_role("link", name="Export CSV")).to_be_visible()
    screenshot(page, "console-1024-drawer")

    with page.expect_download() as download_info:
        panel.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert any(LONG_EMAIL in cell for row in rows for cell in row)
    assert any("Please send me my data." in cell for row in rows for cell in row)

    # An action answers with a toast that leaves the open drawer uncovered.
    panel.get_by_role("button", name="Unsubscribe").click()
    note = page.locator(".gdprchat-toast", has_text="unsubscribed")
    expect(note).to_be_visible()
    assert not overlaps(note.bounding_box(), panel.bounding_box())
    screenshot(page, "console-1024-toast")
    with app.app_context():
        assert session().get(Conversation, cid).contact.unsubscribed_at is not None

    page.keyboard.press("Escape")
    expect(panel.get_by_role("link", name="Export CSV")).to_be_hidden()
    ctx.close()


def test_at_1366_assignment_filters_saved_replies_and_the_delete_dialog(
        app, desk, browser, chat_visitor, screenshot):
    from playwright.sync_api import expect

    with app.app_context():
        session().add(SavedReply(shortcut="hours", title="Opening hours",
                                 text="We answer Monday to Friday, 9:00 to 17:00."))
        session().add(SavedReply(shortcut="refund", text="Refunds take five working days."))
        session().commit()
    first, visitor = visitor_writes(chat_visitor, desk.url, "When are you open?", name="Olga Open")
    assert visitor.call("send_message", {"conversation_id": first, "text": "And on Saturdays?"})["ok"]
    second, _other = visitor_writes(chat_visitor, desk.url, "Hi there")
    dialogs: list[str] = []
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, desk.url)
    expect(page.locator(".gdprchat-inbox-item", has_text="Visitor ")).to_have_count(1)
    assert re.match(r"^\(3\) ", page.title())

    page.locator(".gdprchat-inbox-item", has_text="Olga").click()
    # Two messages in a row from the visitor: one name and time for the group.
    expect(page.locator(".gdprchat-cmsg-visitor")).to_have_count(2)
    expect(page.locator(".gdprchat-cmsg-visitor .gdprchat-cmeta")).to_have_count(2)
    assert page.locator(".gdprchat-cmsg-visitor .gdprchat-cmeta:visible").count() == 1

    # Assigned to me, it is under "Mine" and no longer under "Unassigned".
    alice_id = str(_agent_id(app, "agent@example.test"))
    page.locator("#gdprchat-assign").select_option(alice_id)
    row = page.locator(".gdprchat-inbox-item", has_text="Olga")
    expect(row.locator(".gdprchat-inbox-assignee")).to_have_text("Mine")
    assert status_of(app, first) == ("open", int(alice_id))
    page.get_by_role("tab", name=re.compile("^Mine")).click()
    expect(row).to_be_visible()
    expect(page.locator(".gdprchat-inbox-item:visible")).to_have_count(1)
    page.get_by_role("tab", name=re.compile("^Unassigned")).click()
    expect(row).to_be_hidden()
    expect(page.locator(".gdprchat-inbox-item", has_text="Visitor")).to_be_visible()
    page.get_by_role("tab", name=re.compile("^All")).click()

    # "/" opens the saved replies; choosing one puts its text in the reply box.
    reply = page.locator("#gdprchat-reply-text")
    reply.click()
    reply.type("/ho")
    options = page.locator("#gdprchat-saved-list [role=option]")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("/hours")
    screenshot(page, "console-1366-saved-replies")
    reply.press("Enter")
    expect(reply).to_have_value("We answer Monday to Friday, 9:00 to 17:00.")
    expect(page.locator("#gdprchat-saved")).to_be_hidden()
    reply.press("Enter")
    got = visitor.wait_for("message", lambda d: d["author"] == "agent")
    assert got["text"] == "We answer Monday to Friday, 9:00 to 17:00."

    # Edit shows on my own message only when it is hovered or focused.
    mine = page.locator(".gdprchat-cmsg-agent").last
    expect(mine.get_by_role("button", name="Edit this message")).to_be_hidden()
    mine.hover()
    expect(mine.get_by_role("button", name="Edit this message")).to_be_visible()
    assert page.locator(".gdprchat-cmsg-visitor button").count() == 0

    # Keyboard: the help, then the next conversation.
    page.locator("#gdprchat-messages").click()
    page.keyboard.press("?")
    expect(page.locator("#gdprchat-help")).to_be_visible()
    screenshot(page, "console-1366-shortcuts")
    page.keyboard.press("Escape")
    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#gdprchat-thread-title")).to_have_text(re.compile(r"^Visitor \d+$"))
    # Opening it put the caret in the reply box: Escape leaves it, then letters are shortcuts.
    expect(page.locator("#gdprchat-reply-text")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("k")
    expect(page.locator("#gdprchat-thread-title")).to_have_text("Olga Open")
    expect(page.locator("#gdprchat-reply-text")).to_have_value("")
    screenshot(page, "console-1366")

    # "Delete chat" asks in the page, not with the browser's confirm().
    panel = page.locator("#gdprchat-contact-panel")
    panel.get_by_role("button", name="Delete chat").click()
    dialog = page.locator("#gdprchat-confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Olga Open")
    screenshot(page, "console-1366-delete-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    with app.app_context():
        assert session().get(Conversation, first) is not None
    panel.get_by_role("button", name="Delete chat").click()
    dialog.get_by_role("button", name="Delete for good").click()
    expect(page.locator(".gdprchat-inbox-item", has_text="Olga")).to_have_count(0)
    expect(page.locator("#gdprchat-thread-empty")).to_contain_text("deleted")
    assert dialogs == []
    with app.app_context():
        assert not [c for c in session().scalars(select(Contact)) if c.name == "Olga Open"]
    ctx.close()


def test_alerts_a_beep_a_desktop_notification_and_the_title_count(
        app, desk, browser, chat_visitor):
    from playwright.sync_api import expect

    cid, visitor = visitor_writes(chat_visitor, desk.url, "First", name="Nora Notify")
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    # Stand-ins that record what the console asks of the browser; the page is
    # told it is not in front, as when the agent works in another window.
    ctx.add_init_script("""
      window.__notes = []; window.__tones = 0; window.__asked = 0;
      window.Notification = function (title, options) { window.__notes.push([title, options.body]); };
      window.Notification.permission = "default";
      window.Notification.requestPermission = function () {
        window.__asked += 1; window.Notification.permission = "granted"; return Promise.resolve("granted"); };
      window.AudioContext = function () {
        return { state: "running", currentTime: 0, destination: {},
          createOscillator: function () { return { frequency: {}, connect: function () {},
            start: function () { window.__tones += 1; }, stop: function () {} }; },
          createGain: function () { return { gain: { setValueAtTime: function () {},
            exponentialRampToValueAtTime: function () {} }, connect: function () {} }; } };
      };
      document.hasFocus = function () { return false; };
    """)
    page = ctx.new_page()
    sign_in(page, desk.url)
    # Nothing is asked before the agent chooses to.
    assert page.evaluate("window.__asked") == 0
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#gdprchat-notify-offer")).to_be_hidden()
    assert page.evaluate("window.__asked") == 1

    assert visitor.call("send_message", {"conversation_id": cid, "text": "Are you there?"})["ok"]
    expect(page.locator(".gdprchat-inbox-item", has_text="Nora").locator(".gdprchat-unread")
           ).to_have_text("2")
    page.wait_for_function("window.__notes.length === 1")
    assert page.evaluate("window.__notes") == [["New message from Nora Notify", "Are you there?"]]
    assert page.evaluate("window.__tones") == 2
    assert page.title().startswith("(2) ")

    # Sound off, and away: no more alerts.
    page.locator("#gdprchat-me-button").click()
    page.locator("#gdprchat-sound").uncheck()
    page.get_by_role("radio", name=re.compile("Away")).check()
    expect(page.locator("#gdprchat-presence-dot")).to_have_attribute("data-presence", "away")
    with app.app_context():
        assert session().scalars(select(Agent.presence).where(
            agent_email_is("agent@example.test"))).one() == "away"
    assert visitor.call("send_message", {"conversation_id": cid, "text": "Hello?"})["ok"]
    expect(page.locator(".gdprchat-inbox-item", has_text="Nora").locator(".gdprchat-unread")
           ).to_have_text("3")
    assert page.evaluate("window.__notes.length") == 1
    assert page.evaluate("window.__tones") == 2
    ctx.close()


def _agent_id(app: Any, email: str) -> int:
    with app.app_context():
        return session().scalar(select(Agent.id).where(agent_email_is(email)))
