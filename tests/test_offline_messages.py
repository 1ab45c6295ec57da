"""Messages left while nobody can answer: consent as for a chat, answered by e-mail."""
from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from flask_gdprchat import consent_given, conversation_started
from flask_gdprchat.core.models import (
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    OutboundMail,
)
from flask_gdprchat.core.state import session
from tests.plugins.mail import body_html, body_text

OFFLINE = "/gdprchat/api/offline-messages"
CARD = "4111 1111 1111 1111"


def message(**extra: Any) -> dict[str, Any]:
    return {"email": "Vera@Example.TEST", "text": "Do you roast decaf?", "consent": True,
            "policy_version": "1", **extra}


def counts(app: Any) -> dict[str, int]:
    with app.app_context():
        db = session()
        return {model.__name__: db.scalar(select(func.count()).select_from(model))
                for model in (Contact, Conversation, Message, ConsentRecord)}


NOTHING = {"Contact": 0, "Conversation": 0, "Message": 0, "ConsentRecord": 0}


def test_a_message_is_stored_as_an_offline_conversation_with_the_consent_shown(
    app, client, listen_to
):
    with listen_to(consent_given) as consents, listen_to(conversation_started) as started:
        response = client.post(OFFLINE, json=message(
            name="Vera Visitor", locale="de", marketing_consent=True,
            text=f"My card {CARD} was charged twice."))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["email"] == "vera@example.test"
    assert body["masked"] == ["card"]
    assert "visitor_token" not in body  # nobody waits on a socket: the answer comes by e-mail
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        conversation = session().get(Conversation, body["conversation_id"])
        assert conversation.offline is True and conversation.unread_count == 1
        contact = conversation.contact
        assert (contact.name, contact.email, contact.marketing_consent) == (
            "Vera Visitor", "vera@example.test", True)
        [stored] = conversation.messages
        assert stored.author == "visitor"
        assert CARD not in stored.text and stored.text.endswith("1111 was charged twice.")
        records = {r.purpose: r for r in contact.consents}
        assert records["privacy_policy"].locale == "de"
        assert records["privacy_policy"].wording.startswith("Ich bin einverstanden")
        assert records["privacy_policy"].wording.endswith(" Datenschutzerklärung")
        assert records["marketing"].locale == "de"
    assert sorted(c["purpose"] for c in consents) == ["marketing", "privacy_policy"]
    assert started[0]["conversation_id"] == body["conversation_id"]


@pytest.mark.parametrize("payload, status, field", [
    ({"email": "v@example.test", "text": "hi", "policy_version": "1"}, 400, "consent"),
    (message(consent=False), 400, "consent"),
    (message(consent="yes"), 400, "consent"),
    (message(email="not-an-address"), 422, "email"),
    (message(email=""), 422, "email"),
    ({"text": "hi", "consent": True, "policy_version": "1"}, 422, "email"),
    (message(text="   "), 422, "text"),
    (message(text=None), 422, "text"),
    (message(text="x" * 5001), 422, "text"),
    (message(text="nul\x00byte"), 422, "text"),
    (message(company="Acme"), 422, "company"),
    (message(locale="xx"), 422, "locale"),
    ({k: v for k, v in message().items() if k != "text"}, 422, "text"),
])
def test_a_refused_message_says_which_field_and_stores_nothing(app, client, payload, status,
                                                               field):
    response = client.post(OFFLINE, json=payload)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["field"] == field and body["fields"][field]
    assert counts(app) == NOTHING


def test_the_errors_are_in_the_visitor_language(client):
    body = client.post(OFFLINE + "?lang=de", json=message(email="")).get_json()
    assert body["fields"]["email"] == ["Geben Sie die E-Mail-Adresse an, an die wir antworten sollen."]


def test_a_name_is_taken_only_when_the_form_asks_for_it(make_app):
    app = make_app(GDPRCHAT_PRECHAT_FIELDS=["email"])
    response = app.test_client().post(OFFLINE, json=message(name="Vera"))
    assert response.status_code == 422 and response.get_json()["field"] == "name"
    assert counts(app) == NOTHING


def test_an_old_policy_version_is_refused(app, client):
    response = client.post(OFFLINE, json=message(policy_version="0"))
    assert response.status_code == 409 and response.get_json()["field"] == "policy_version"
    assert counts(app) == NOTHING


def test_messages_from_one_address_are_throttled_like_chat_starts(make_app):
    app = make_app(GDPRCHAT_CONVERSATION_STARTS_PER_HOUR=2)
    client = app.test_client()
    assert [client.post(OFFLINE, json=message(text=f"try {n}")).status_code
            for n in range(3)] == [201, 201, 429]
    refused = client.post(OFFLINE, json=message())
    assert refused.status_code == 429 and "Too many messages" in refused.get_json()["error"]
    assert counts(app)["Conversation"] == 2
    # Chat starts keep their own count.
    assert client.post("/gdprchat/api/conversations",
                       json={"consent": True, "policy_version": "1"}).status_code == 201


# -- answered by e-mail ----------------------------------------------------------------------


def leave(url: str, **extra: Any) -> dict[str, Any]:
    response = requests.post(url + OFFLINE, json=message(**extra), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_agents_see_it_and_an_answer_goes_by_e_mail_in_the_visitor_language(
    app, smtp_server, chat_server, chat_agent, chat_visitor
):
    url = chat_server.url
    agent = chat_agent(url)
    left = leave(url, name="Vera <b>Visitor</b>", locale="de",
                 text="Röstet ihr auch <i>entkoffeiniert</i>?")
    cid = left["conversation_id"]
    announced = agent.wait_for("conversation_started", lambda d: d["conversation_id"] == cid)
    assert announced["offline"] is True
    assert announced["preview"] == "Röstet ihr auch <i>entkoffeiniert</i>?"
    assert announced["unread_count"] == 1
    # A live chat in another conversation must not hear the answer.
    _live, visitor = chat_visitor(url, name="Live Visitor")

    ack = agent.call("send_message", {"conversation_id": cid, "text": "Ja, einen aus Peru.",
                                      "client_msg_id": "answer-1"})
    assert ack["ok"] is True and ack["emailed"] is True
    assert ack["message"]["author"] == "agent"
    relayed = agent.wait_for("message", lambda d: d["id"] == ack["message"]["id"])
    assert relayed["text"] == "Ja, einen aus Peru."

    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "vera@example.test"
    assert mail["Content-Language"] == "de"
    assert mail["Subject"] == "Unsere Antwort auf Ihre Nachricht an Der Betreiber dieser Website"
    text = body_text(mail)
    assert text.startswith("Guten Tag Vera <b>Visitor</b>,")
    assert "Ja, einen aus Peru." in text
    assert "> Röstet ihr auch <i>entkoffeiniert</i>?" in text
    assert "Sie erhalten diese E-Mail, weil Sie" in text
    html = body_html(mail)
    assert "&lt;i&gt;entkoffeiniert&lt;/i&gt;" in html and "<i>" not in html
    assert "Vera &lt;b&gt;Visitor&lt;/b&gt;" in html

    # A retry with the same id mails nothing twice and stores nothing new.
    again = agent.call("send_message", {"conversation_id": cid, "text": "Ja, einen aus Peru.",
                                        "client_msg_id": "answer-1"})
    assert again["ok"] is True and again["message"]["id"] == ack["message"]["id"]
    visitor.drain(0.5)
    assert not [d for name, d in visitor.seen if name == "message"]
    with app.app_context():
        authors = session().scalars(select(Message.author).where(Message.conversation_id == cid)
                                    .order_by(Message.id)).all()
        assert authors == ["visitor", "agent"]
        assert session().scalar(select(func.count()).select_from(OutboundMail)) == 0
    assert len(smtp_server.messages) == 1


def test_with_the_mail_server_down_the_answer_waits_in_the_outbox(make_app, live_server,
                                                                   chat_agent):
    from flask_gdprchat.team.agents import create_agent
    from tests.plugins.chat import PASSWORD
    from tests.plugins.servers import free_port

    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens there
    with app.app_context():
        create_agent("agent@example.test", "Alice Agent", PASSWORD, permissions=["send_messages"])
        session().commit()
    server = live_server(app)
    cid = leave(server.url)["conversation_id"]
    ack = chat_agent(server.url).call("send_message", {"conversation_id": cid,
                                                       "text": "Yes, from Peru."})
    assert ack["ok"] is True and ack["emailed"] is False
    with app.app_context():
        [queued] = session().scalars(select(OutboundMail)).all()
        assert queued.to_address == "vera@example.test" and queued.attempts == 1
        assert session().scalar(select(func.count()).select_from(Message)) == 2


def test_the_console_marks_it_and_says_the_reply_goes_by_e_mail(app, client, agent_client):
    cid = client.post(OFFLINE, json=message(name="Vera")).get_json()["conversation_id"]
    live = client.post("/gdprchat/api/conversations",
                       json={"consent": True, "policy_version": "1", "name": "Live"}).get_json()
    console = agent_client("send_messages")
    page = console.get("/gdprchat/agent/").get_data(as_text=True)
    row = page.split(f'data-conversation-id="{cid}"', 1)[1].split("</li>", 1)[0]
    assert 'data-offline="true"' in row
    assert '<span class="gdprchat-inbox-email"' in row and " hidden>E-mail" not in row
    other = page.split(f'data-conversation-id="{live["conversation_id"]}"', 1)[1].split("</li>", 1)[0]
    assert "data-offline" not in other and " hidden>E-mail</span>" in other
    data = console.get(f"/gdprchat/agent/conversations/{cid}.json").get_json()
    assert data["conversation"]["offline"] is True
    assert data["contact"]["email"] == "vera@example.test"
    opened = console.get(f"/gdprchat/agent/?conversation={cid}").get_data(as_text=True)
    badge = opened.split('id="gdprchat-offline-badge"', 1)[1].split(">", 1)[0]
    assert "hidden" not in badge
