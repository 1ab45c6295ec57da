"""The /gdprchat namespace with real python-socketio clients against a real server."""
from __future__ import annotations

import threading

import pytest
import requests
import socketio
from sqlalchemy import select

from flask_gdprchat import message_sent
from flask_gdprchat.core.models import (
    Agent,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    MessageEdit,
)
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is
from tests.plugins.chat import NAMESPACE, Client, start_chat


def test_visitor_and_agent_talk_both_ways(app, chat_server, chat_visitor, chat_agent, listen_to):
    url = chat_server.url
    agent = chat_agent(url)
    chat, visitor = chat_visitor(url, name="Vera Visitor")
    cid = chat["conversation_id"]
    started = agent.wait_for("conversation_started", lambda d: d["conversation_id"] == cid)
    assert started["contact_name"] == "Vera Visitor"

    with listen_to(message_sent) as sent:
        ack = visitor.call("send_message", {"conversation_id": cid, "text": "Hello, anyone there?"})
    assert ack["ok"] is True
    incoming = agent.wait_for("message", lambda d: d["id"] == ack["message"]["id"])
    assert {k: incoming[k] for k in ("conversation_id", "author", "author_name", "text")} == {
        "conversation_id": cid, "author": "visitor", "author_name": "Vera Visitor",
        "text": "Hello, anyone there?",
    }
    assert incoming["created_at"].endswith("Z")
    assert sent[0]["message_id"] == incoming["id"] and sent[0]["author"] == "visitor"

    joined = agent.call("join", {"conversation_id": cid})
    assert joined["ok"] is True
    assert [m["text"] for m in joined["messages"]] == ["Hello, anyone there?"]
    reply = agent.call("send_message", {"conversation_id": cid, "text": "Hi Vera, Alice here."})
    assert reply["ok"] is True
    got = visitor.wait_for("message", lambda d: d["author"] == "agent")
    assert (got["author_name"], got["text"]) == ("Alice", "Hi Vera, Alice here.")

    with app.app_context():
        stored = session().scalars(select(Message).where(Message.conversation_id == cid)
                                   .order_by(Message.id)).all()
        assert [(m.author, m.text) for m in stored] == [
            ("visitor", "Hello, anyone there?"), ("agent", "Hi Vera, Alice here.")]
        conversation = session().get(Conversation, cid)
        assert conversation.unread_count == 0
        assert conversation.last_activity_at >= stored[-1].created_at


def test_unread_counts_visitor_messages_until_an_agent_reads(app, chat_server, chat_visitor,
                                                            chat_agent):
    agent = chat_agent(chat_server.url)
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    for text in ("one", "two"):
        assert visitor.call("send_message", {"conversation_id": cid, "text": text})["ok"]
    with app.app_context():
        assert session().get(Conversation, cid).unread_count == 2
    assert agent.call("join", {"conversation_id": cid})["ok"]
    with app.app_context():
        assert session().get(Conversation, cid).unread_count == 0


def test_visitors_are_isolated_from_each_other(chat_server, chat_visitor, chat_agent):
    url = chat_server.url
    agent = chat_agent(url)
    a_chat, a = chat_visitor(url, name="A")
    b_chat, b = chat_visitor(url, name="B")
    a_id = a_chat["conversation_id"]
    assert a.call("send_message", {"conversation_id": a_id, "text": "secret of A"})["ok"]
    agent.call("join", {"conversation_id": a_id})
    assert agent.call("send_message", {"conversation_id": a_id, "text": "reply to A"})["ok"]
    a.wait_for("message", lambda d: d["text"] == "reply to A")

    refused = b.call("send_message", {"conversation_id": a_id, "text": "I am A"})
    assert refused["ok"] is False and refused["error"]
    assert b.call("join", {"conversation_id": a_id})["ok"] is False
    assert b.call("typing", {"conversation_id": a_id})["ok"] is False
    assert b.call("edit_message", {"message_id": 1, "text": "x"})["ok"] is False
    # B's own message proves its socket works and that it gets only its own traffic.
    assert b.call("send_message", {"conversation_id": b_chat["conversation_id"], "text": "B here"})["ok"]
    b.wait_for("message", lambda d: d["text"] == "B here")
    seen = b.drain()
    assert all(data.get("conversation_id") != a_id for _name, data in seen if isinstance(data, dict))
    assert not [d for n, d in seen if n == "conversation_started"]


def test_connections_without_valid_credentials_are_refused(app, chat_server):
    url = chat_server.url
    for kwargs in ({}, {"auth": {"visitor_token": "made-up"}}, {"auth": {"visitor_token": 42}},
                   {"headers": {"Cookie": "session=forged"}}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Client().connect(url, **kwargs)
    with app.app_context():
        assert session().scalars(select(LiveSocket)).all() == []


def handshake(url: str, origin: str) -> requests.Response:
    """The Engine.IO opening request a browser on ``origin`` would make."""
    return requests.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                        headers={"Origin": origin}, timeout=10)


def test_only_the_sites_origin_may_connect(make_app, live_server):
    server = live_server(make_app())
    chat = start_chat(server.url)
    auth = {"visitor_token": chat["visitor_token"]}
    with pytest.raises(socketio.exceptions.ConnectionError):
        Client().connect(server.url, auth=auth, headers={"Origin": "http://evil.example"},
                         transports=("polling",))
    assert handshake(server.url, "http://evil.example").status_code == 400
    assert handshake(server.url, server.url).status_code == 200

    partner = live_server(make_app(GDPRCHAT_CORS_ALLOWED_ORIGINS=["https://shop.example"]))
    allowed = handshake(partner.url, "https://shop.example")
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert handshake(partner.url, "http://evil.example").status_code == 400


def test_bad_messages_get_an_error_ack(app, chat_server, chat_visitor):
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    limit = app.config["GDPRCHAT_MAX_MESSAGE_LENGTH"]
    for payload in ({"conversation_id": cid, "text": "x" * (limit + 1)},
                    {"conversation_id": cid, "text": "   "},
                    {"conversation_id": cid, "text": ["not", "text"]},
                    {"conversation_id": str(cid), "text": "id as text"},
                    "just a string"):
        ack = visitor.call("send_message", payload)
        assert ack["ok"] is False and ack["error"], payload
    assert visitor.call("send_message", {"conversation_id": cid, "text": "x" * limit})["ok"]
    with app.app_context():
        assert len(session().scalars(select(Message)).all()) == 1


def test_a_flood_from_one_socket_is_throttled(make_app, live_server, chat_sockets):
    server = live_server(make_app(GDPRCHAT_MESSAGES_PER_10S=3))
    chat = start_chat(server.url)
    visitor = chat_sockets().connect(server.url, auth={"visitor_token": chat["visitor_token"]})
    acks = [visitor.call("send_message", {"conversation_id": chat["conversation_id"], "text": f"m{i}"})
            for i in range(5)]
    assert [a["ok"] for a in acks] == [True, True, True, False, False]
    assert "too many" in acks[-1]["error"]


def test_typing_reaches_the_other_side(chat_server, chat_visitor, chat_agent):
    agent = chat_agent(chat_server.url)
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    assert visitor.call("typing", {"conversation_id": cid})["ok"]
    assert agent.wait_for("typing")["author"] == "visitor"
    agent.call("join", {"conversation_id": cid})
    assert agent.call("typing", {"conversation_id": cid})["ok"]
    typing = visitor.wait_for("typing")
    assert (typing["author"], typing["author_name"]) == ("agent", "Alice")


def test_agents_edit_only_their_own_messages(app, chat_server, chat_visitor, chat_agent, make_agent):
    make_agent("bob@example.test", name="Bob Other", permissions=["send_messages", "edit_messages"])
    make_agent("carl@example.test", name="Carl NoEdit", permissions=["send_messages"])
    alice, bob = chat_agent(chat_server.url), chat_agent(chat_server.url, "bob@example.test")
    carl = chat_agent(chat_server.url, "carl@example.test")
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    mine = alice.call("send_message", {"conversation_id": cid, "text": "Typo hre"})["message"]
    visitor_msg = visitor.call("send_message", {"conversation_id": cid, "text": "hello"})["message"]

    assert bob.call("edit_message", {"message_id": mine["id"], "text": "hijack"})["ok"] is False
    assert alice.call("edit_message", {"message_id": visitor_msg["id"], "text": "x"})["ok"] is False
    carl_msg = carl.call("send_message", {"conversation_id": cid, "text": "by carl"})["message"]
    assert carl.call("edit_message", {"message_id": carl_msg["id"], "text": "x"})["ok"] is False
    assert alice.call("edit_message", {"message_id": mine["id"], "text": "x" * 6000})["ok"] is False

    edited = alice.call("edit_message", {"message_id": mine["id"], "text": "Typo here"})
    assert edited["ok"] is True
    shown = visitor.wait_for("message_edited")
    assert (shown["id"], shown["text"]) == (mine["id"], "Typo here")
    with app.app_context():
        message = session().get(Message, mine["id"])
        assert message.text == "Typo here" and message.edited_at is not None
        assert [e.previous_text for e in session().scalars(select(MessageEdit))] == ["Typo hre"]


def test_a_revoked_agent_fails_at_its_next_event(app, chat_server, chat_visitor, chat_agent):
    agent = chat_agent(chat_server.url)
    chat, _visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    assert agent.call("join", {"conversation_id": cid})["ok"]
    with app.app_context():
        row = session().scalars(select(Agent).where(agent_email_is("agent@example.test"))).one()
        row.session_epoch += 1
        session().commit()
    ack = agent.call("send_message", {"conversation_id": cid, "text": "still here?"})
    assert ack["ok"] is False
    with app.app_context():
        assert session().scalars(select(Message)).all() == []


def test_restricted_contacts_get_no_messages(app, chat_server, chat_visitor, chat_agent):
    agent = chat_agent(chat_server.url)
    chat, visitor = chat_visitor(chat_server.url, email="r@example.test")
    cid = chat["conversation_id"]
    with app.app_context():
        from flask_gdprchat.core.clock import utcnow

        session().get(Conversation, cid).contact.restricted_at = utcnow()
        session().commit()
    assert agent.call("send_message", {"conversation_id": cid, "text": "hi"})["ok"] is False
    assert visitor.call("send_message", {"conversation_id": cid, "text": "hi"})["ok"] is False


def test_a_new_policy_version_stops_the_chat_until_consent_is_renewed(app, chat_server, chat_sockets):
    url = chat_server.url
    chat = start_chat(url)
    cid, token = chat["conversation_id"], chat["visitor_token"]
    with app.app_context():
        save_settings({"PRIVACY_POLICY_VERSION": "2"})
    old = chat_sockets().connect(url, auth={"visitor_token": token})
    refused = old.call("send_message", {"conversation_id": cid, "text": "hello"})
    assert refused["ok"] is False and refused["error"].startswith("consent_required")
    renewed = requests.post(f"{url}/gdprchat/api/conversations/{cid}/consent",
                            json={"consent": True, "policy_version": "2"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert renewed.status_code == 200
    again = chat_sockets().connect(url, auth={"visitor_token": token})
    assert again.call("send_message", {"conversation_id": cid, "text": "hello"})["ok"] is True


def test_post_notice_reaches_the_visitor(app, chat_server, chat_visitor):
    chat, visitor = chat_visitor(chat_server.url)
    with app.app_context():
        from flask_gdprchat.chat.conversations import post_notice

        message_id = post_notice(chat["conversation_id"], "We are closed on Monday")
    notice = visitor.wait_for("notice")
    assert notice == {"conversation_id": chat["conversation_id"], "id": message_id,
                      "text": "We are closed on Monday", "created_at": notice["created_at"]}


def test_sockets_are_listed_while_open(app, chat_server, chat_visitor):
    chat, visitor = chat_visitor(chat_server.url)
    with app.app_context():
        [row] = session().scalars(select(LiveSocket)).all()
        assert row.conversation_id == chat["conversation_id"]
        assert session().scalars(select(Contact)).one()


def test_a_packet_over_the_size_limit_closes_that_socket_only(app, chat_server, chat_visitor):
    started = start_chat(chat_server.url, name="Big")
    closed = threading.Event()
    sender = socketio.Client(reconnection=False)
    sender.on("disconnect", lambda *args: closed.set(), namespace=NAMESPACE)
    sender.connect(chat_server.url, namespaces=[NAMESPACE], transports=["websocket"],
                   auth={"visitor_token": started["visitor_token"]}, wait_timeout=10)
    # Far beyond the transport's buffer: refused before any handler runs, and the
    # server closes that connection instead of reading on.
    huge = "x" * (app.config["GDPRCHAT_MAX_MESSAGE_LENGTH"] * 4 + 100_000)
    sender.emit("send_message", {"conversation_id": started["conversation_id"], "text": huge},
                namespace=NAMESPACE)
    try:
        assert closed.wait(timeout=15), "the oversized sender stayed connected"
    finally:
        sender.disconnect()
        # The client library leaves its half of a connection the server cut open.
        if sender.eio.ws is not None:
            sender.eio.ws.shutdown()
    with app.app_context():
        assert session().scalars(select(Message)).all() == []
    # The server is fine: another visitor chats as usual.
    other_chat, other = chat_visitor(chat_server.url)
    assert other.call("send_message", {"conversation_id": other_chat["conversation_id"],
                                       "text": "still here"})["ok"]
