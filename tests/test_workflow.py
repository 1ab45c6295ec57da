"""The conversation workflow over real sockets: resolve, reopen, assign, presence.

Also the parts of the agents' daily work that live on the server: display
names (what visitors see), "Visitor <id>" labels, agents online now, and saved
replies.
"""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from flask_gdprchat.chat.inbox import avatar, contact_label, conversation_summary
from flask_gdprchat.core.models import (
    Agent,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    SavedReply,
)
from flask_gdprchat.core.presence import agents_online
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from flask_gdprchat.team.agents import create_agent, delete_agent, first_name_of, update_agent
from tests.conftest import PASSWORD
from tests.plugins.admin import ADMIN_URL
from tests.plugins.chat import start_chat


def _conversation(app, cid):
    with app.app_context():
        conversation = session().get(Conversation, cid)
        return conversation.status, conversation.assigned_agent_id


def _agent_id(app, email):
    with app.app_context():
        return session().scalar(select(Agent.id).where(agent_email_is(email)))


@pytest.fixture
def desk(app, chat_server, chat_visitor, chat_agent):
    """A served app, a visitor's open chat, and two connected agents (Alice, Bob)."""
    with app.app_context():
        create_agent("bob@example.test", "Bob Builder", PASSWORD, permissions=["send_messages"])
        session().commit()
    alice = chat_agent(chat_server.url)
    bob = chat_agent(chat_server.url, "bob@example.test")
    chat, visitor = chat_visitor(chat_server.url, name="Vera Visitor")
    return {"url": chat_server.url, "alice": alice, "bob": bob, "visitor": visitor,
            "cid": chat["conversation_id"], "alice_id": _agent_id(app, "agent@example.test"),
            "bob_id": _agent_id(app, "bob@example.test")}


def test_resolving_and_reopening_ack_and_tell_every_agent(app, desk):
    cid, alice, bob = desk["cid"], desk["alice"], desk["bob"]
    ack = alice.call("resolve", {"conversation_id": cid})
    assert ack == {"ok": True, "conversation": {"id": cid, "status": "resolved", "assignee_id": None}}
    told = bob.wait_for("conversation_updated", lambda d: d["id"] == cid)
    assert told == {"id": cid, "status": "resolved", "assignee_id": None}
    assert _conversation(app, cid) == ("resolved", None)

    ack = bob.call("reopen", {"conversation_id": cid})
    assert ack["ok"] is True and ack["conversation"]["status"] == "open"
    alice.wait_for("conversation_updated", lambda d: d["id"] == cid and d["status"] == "open")
    assert _conversation(app, cid) == ("open", None)
    # The visitor is not told about the team's housekeeping.
    assert not [name for name, _ in desk["visitor"].drain(0.3) if name == "conversation_updated"]


def test_a_visitors_message_reopens_a_resolved_conversation(app, desk):
    cid, alice, visitor = desk["cid"], desk["alice"], desk["visitor"]
    assert alice.call("resolve", {"conversation_id": cid})["ok"]
    alice.wait_for("conversation_updated", lambda d: d["status"] == "resolved")
    with app.app_context():
        assert session().get(Conversation, cid).unread_count == 0

    assert visitor.call("send_message", {"conversation_id": cid, "text": "One more thing"})["ok"]
    reopened = alice.wait_for("conversation_updated", lambda d: d["status"] == "open")
    assert reopened == {"id": cid, "status": "open", "assignee_id": None}
    assert _conversation(app, cid) == ("open", None)
    with app.app_context():
        assert session().get(Conversation, cid).unread_count == 1


def test_an_agents_reply_does_not_reopen(app, desk):
    cid, alice = desk["cid"], desk["alice"]
    assert alice.call("resolve", {"conversation_id": cid})["ok"]
    assert alice.call("send_message", {"conversation_id": cid, "text": "Glad it helped"})["ok"]
    assert _conversation(app, cid)[0] == "resolved"


def test_assigning_to_oneself_another_agent_and_nobody(app, desk):
    cid, alice, bob = desk["cid"], desk["alice"], desk["bob"]
    alice_id, bob_id = desk["alice_id"], desk["bob_id"]

    ack = alice.call("assign", {"conversation_id": cid, "agent_id": alice_id})
    assert ack["conversation"] == {"id": cid, "status": "open", "assignee_id": alice_id}
    assert bob.wait_for("conversation_updated", lambda d: d["assignee_id"] == alice_id)["id"] == cid
    # Alice hands her own conversation to Bob.
    ack = alice.call("assign", {"conversation_id": cid, "agent_id": bob_id})
    assert ack["ok"] is True and ack["conversation"]["assignee_id"] == bob_id
    assert _conversation(app, cid) == ("open", bob_id)
    # Bob puts it back in the shared inbox.
    ack = bob.call("assign", {"conversation_id": cid, "agent_id": None})
    assert ack["ok"] is True and ack["conversation"]["assignee_id"] is None
    alice.wait_for("conversation_updated", lambda d: d["assignee_id"] is None and d["id"] == cid)
    assert _conversation(app, cid) == ("open", None)


def test_moving_a_colleagues_conversation_needs_the_team_permission(app, desk, chat_agent):
    cid, alice, bob = desk["cid"], desk["alice"], desk["bob"]
    alice_id, bob_id = desk["alice_id"], desk["bob_id"]
    assert bob.call("assign", {"conversation_id": cid, "agent_id": bob_id})["ok"]

    refused = alice.call("assign", {"conversation_id": cid, "agent_id": None})
    assert refused["ok"] is False and "'team' permission" in refused["error"]
    assert _conversation(app, cid) == ("open", bob_id)
    # Taking it over oneself stays allowed, as in any shared inbox.
    assert alice.call("assign", {"conversation_id": cid, "agent_id": alice_id})["ok"]

    with app.app_context():
        create_agent("lead@example.test", "Lea Lead", PASSWORD,
                     permissions=["send_messages", "team"])
        session().commit()
    lead = chat_agent(desk["url"], "lead@example.test")
    assert lead.call("assign", {"conversation_id": cid, "agent_id": bob_id})["ok"]
    assert _conversation(app, cid) == ("open", bob_id)


def test_refusals_change_nothing(app, desk, chat_agent):
    cid, alice, visitor = desk["cid"], desk["alice"], desk["visitor"]
    for event in ("resolve", "reopen", "assign"):
        ack = visitor.call(event, {"conversation_id": cid, "agent_id": None})
        assert ack["ok"] is False and "only agents" in ack["error"]
    assert visitor.call("set_status", {"status": "online"})["ok"] is False

    assert alice.call("resolve", {"conversation_id": 999_999}) == {
        "ok": False, "error": "no such conversation"}
    assert alice.call("resolve", {"conversation_id": "1"})["ok"] is False
    assert alice.call("resolve", None)["ok"] is False
    assert alice.call("assign", {"conversation_id": cid})["ok"] is False
    gone = alice.call("assign", {"conversation_id": cid, "agent_id": 424_242})
    assert gone["ok"] is False and "no such agent" in gone["error"]

    with app.app_context():
        create_agent("reader@example.test", "Rita Reader", PASSWORD, permissions=["user_data"])
        session().commit()
    reader = chat_agent(desk["url"], "reader@example.test")
    for event in ("resolve", "assign"):
        ack = reader.call(event, {"conversation_id": cid, "agent_id": None})
        assert ack["ok"] is False and "'send_messages' permission" in ack["error"]
    # Nor can she be given conversations: she cannot answer them.
    reader_id = _agent_id(app, "reader@example.test")
    ack = alice.call("assign", {"conversation_id": cid, "agent_id": reader_id})
    assert ack["ok"] is False
    assert _conversation(app, cid) == ("open", None)


def test_set_status_and_agents_online_now(app, desk):
    alice, bob = desk["alice"], desk["bob"]
    with app.app_context():
        assert agents_online() == 2
    assert alice.call("set_status", {"status": "away"}) == {"ok": True, "status": "away"}
    with app.app_context():
        assert session().get(Agent, desk["alice_id"]).presence == "away"
        assert agents_online() == 1
    refused = bob.call("set_status", {"status": "busy"})
    assert refused["ok"] is False and "online, away" in refused["error"]
    assert alice.call("set_status", {"status": "online"})["ok"]
    bob.close()
    # The server forgets Bob's socket when its disconnect is handled: wait for that.
    deadline = time.monotonic() + 10
    with app.app_context():
        while session().scalar(select(func.count()).select_from(LiveSocket)
                               .where(LiveSocket.agent_id == desk["bob_id"])):
            assert time.monotonic() < deadline, "Bob's socket was never forgotten"
            session().rollback()
            time.sleep(0.05)
        # His only socket closed: he no longer counts, though his status is online.
        assert agents_online() == 1
        assert session().get(Agent, desk["bob_id"]).presence == "online"


def test_the_inbox_summary_carries_status_assignee_and_a_stable_label(app, make_contact):
    anonymous = make_contact()
    named = make_contact("nina@example.test", name="Nina Named")
    with app.app_context():
        db = session()
        contact = db.get(Contact, anonymous)
        conversation = contact.conversations[0]
        conversation.status = "resolved"
        summary = conversation_summary(conversation, contact)
        assert summary["status"] == "resolved" and summary["assignee_id"] is None
        assert summary["contact_label"] == f"Visitor {anonymous}"
        assert contact_label(db.get(Contact, named)) == "Nina Named"
        assert avatar(db.get(Contact, named))["initials"] == "NN"
        assert avatar(contact) == avatar(db.get(Contact, anonymous))
        assert avatar(contact)["hue"] != avatar(db.get(Contact, named))["hue"]


# -- display names -----------------------------------------------------------------------


@pytest.mark.parametrize(("full_name", "shown"), [
    ("Dr. Jane Smith", "Jane"), ("Prof Dr. Ada Lovelace", "Ada"), ("Ms. O'Hara", "O'Hara"),
    ("Bob", "Bob"), ("Dr.", "Dr."),
])
def test_the_default_display_name_skips_titles(full_name, shown):
    assert first_name_of(full_name) == shown


def test_visitors_see_the_display_name_and_deletion_keeps_its_first_word(
        app, chat_server, chat_visitor, chat_agent, make_agent):
    make_agent("admin@example.test", name="Ada Admin", admin=True)
    with app.app_context():
        agent = create_agent("doc@example.test", "Dr. Jane Smith", PASSWORD,
                             permissions=["send_messages"])
        session().commit()
        assert (agent.display_name, agent.first_name) == ("Jane", "Jane")
        doc_id = agent.id
        update_agent(doc_id, display_name="Jane S.")
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    doc = chat_agent(chat_server.url, "doc@example.test")
    assert doc.call("send_message", {"conversation_id": cid, "text": "Hello"})["ok"]
    assert visitor.wait_for("message", lambda d: d["author"] == "agent")["author_name"] == "Jane S."
    doc.emit("typing", {"conversation_id": cid})
    assert visitor.wait_for("typing")["author_name"] == "Jane S."

    with app.app_context():
        delete_agent(doc_id, purge=False, actor="test")
        agent = session().get(Agent, doc_id)
        assert (agent.display_name, agent.full_name, agent.first_name) == (None, None, "Jane")
        message = session().scalars(select(Message).where(Message.agent_id == doc_id)).one()
        assert message.agent.public_name == "Jane"
        from flask_gdprchat.chat.conversations import history

        assert [m["author_name"] for m in history(session().get(Conversation, cid))] == ["Jane"]


def test_create_agent_takes_a_display_name_on_the_command_line(app, runner):
    result = runner.invoke(args=["gdprchat", "create-agent", "mo@example.test", "--name",
                                 "Mr. Mohammed Ali", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "visitors see Mohammed" in result.output
    result = runner.invoke(args=["gdprchat", "create-agent", "kim@example.test", "--name",
                                 "Kim Lee", "--display-name", "Kim from Support",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    with app.app_context():
        kim = session().scalars(select(Agent).where(agent_email_is("kim@example.test"))).one()
        assert (kim.display_name, kim.first_name) == ("Kim from Support", "Kim")
    blank = runner.invoke(args=["gdprchat", "create-agent", "x@example.test", "--name", "X Y",
                                "--display-name", "  ", "--password", PASSWORD])
    assert blank.exit_code == 1 and "display name" in blank.output


def test_the_team_form_edits_the_display_name(app, admin_client, make_agent, csrf_from):
    agent_id = make_agent("sam@example.test", name="Samantha Jones")
    page = admin_client.get(f"{ADMIN_URL}/team/edit/?id={agent_id}").get_data(as_text=True)
    assert 'name="display_name"' in page
    response = admin_client.post(
        f"{ADMIN_URL}/team/edit/?id={agent_id}",
        data={"csrf_token": csrf_from(page), "display_name": "Sam", "permissions": "send_messages",
              "is_active": "y"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert session().get(Agent, agent_id).public_name == "Sam"
    listing = admin_client.get(f"{ADMIN_URL}/team/").get_data(as_text=True)
    assert "Visitors see" in listing
    assert re.search(r'class="col-public_name"[^>]*>\s*Sam\s*<', listing)


# -- saved replies -----------------------------------------------------------------------


def test_saved_replies_are_managed_with_the_settings_permission(app, agent_client, csrf_from):
    helper = agent_client("send_messages")
    assert helper.get(f"{ADMIN_URL}/saved-replies/").status_code == 403
    manager = agent_client("settings")
    page = manager.get(f"{ADMIN_URL}/saved-replies/new/").get_data(as_text=True)
    response = manager.post(f"{ADMIN_URL}/saved-replies/new/", data={
        "csrf_token": csrf_from(page), "shortcut": "/Hours", "title": "Opening hours",
        "text": "We answer Monday to Friday, 9:00 to 17:00."})
    assert response.status_code == 302
    again = manager.post(f"{ADMIN_URL}/saved-replies/new/", data={
        "csrf_token": csrf_from(page), "shortcut": "hours", "text": "Twice"}, follow_redirects=True)
    assert "already uses /hours" in again.get_data(as_text=True)
    bad = manager.post(f"{ADMIN_URL}/saved-replies/new/", data={
        "csrf_token": csrf_from(page), "shortcut": "no spaces", "text": "x"}, follow_redirects=True)
    assert "lower-case letters" in bad.get_data(as_text=True)
    with app.app_context():
        replies = session().scalars(select(SavedReply)).all()
        assert [(r.shortcut, r.title) for r in replies] == [("hours", "Opening hours")]

    listed = helper.get("/gdprchat/agent/saved-replies.json").get_json()
    assert listed["saved_replies"] == [{"id": replies[0].id, "shortcut": "hours",
                                        "title": "Opening hours",
                                        "text": "We answer Monday to Friday, 9:00 to 17:00."}]
    assert app.test_client().get("/gdprchat/agent/saved-replies.json").status_code == 302


def test_the_console_json_says_what_the_agent_may_do(app, live_server, make_agent, agent_client):
    make_agent("agent@example.test")
    url = live_server(app).url
    cid = start_chat(url, name="Olga")["conversation_id"]
    worker, reader = agent_client("send_messages"), agent_client("user_data")
    data = worker.get(f"/gdprchat/agent/conversations/{cid}.json").get_json()
    assert data["can_work"] is True
    assert data["conversation"]["status"] == "open" and data["conversation"]["assignee_id"] is None
    assert data["contact"]["label"] == "Olga"
    assert reader.get(f"/gdprchat/agent/conversations/{cid}.json").get_json()["can_work"] is False
