"""The widget's HTTP API: starting a chat with consent, history, re-consent."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from flask_gdprchat import consent_given, conversation_started
from flask_gdprchat.core.models import AuditEvent, ConsentRecord, Contact, Conversation, Message
from flask_gdprchat.core.settings import save_settings
from flask_gdprchat.core.state import session

START = "/gdprchat/api/conversations"


def counts(app: Any) -> dict[str, int]:
    with app.app_context():
        db = session()
        return {
            model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Contact, Conversation, ConsentRecord, Message)
        }


def form(**extra: Any) -> dict[str, Any]:
    return {"consent": True, "policy_version": "1", **extra}


def test_start_records_contact_consent_and_returns_token(app, client, listen_to):
    with listen_to(consent_given) as consents, listen_to(conversation_started) as started:
        response = client.post(START, json=form(name="Ann Lee", email="  Ann@Example.TEST ",
                                                 company="Acme", phone="+44 20 7946 0000"))
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= {"conversation_id", "visitor_token"}
    with app.app_context():
        conversation = session().get(Conversation, body["conversation_id"])
        contact = conversation.contact
        assert (contact.name, contact.email, contact.company) == ("Ann Lee", "ann@example.test", "Acme")
        assert body["visitor_token"] not in conversation.visitor_token_hash
        [record] = contact.consents
        assert record.purpose == "privacy_policy"
        assert record.policy_version == "1"
        # The line beside the box as the visitor read it: retention filled in, link words too.
        assert record.wording == ("I agree that my details and messages are used only to answer "
                                  "me and are deleted 270 days after our last message. "
                                  "Privacy policy")
        assert record.ip_address is None
        audit = session().scalars(select(AuditEvent).where(AuditEvent.event == "consent_given")).one()
        assert audit.details == {"purpose": "privacy_policy", "policy_version": "1"}
        assert "ann" not in str(audit.details).lower()
    assert [c["purpose"] for c in consents] == ["privacy_policy"]
    assert started[0]["conversation_id"] == body["conversation_id"]


def test_marketing_opt_in_is_a_separate_record(app, client):
    body = client.post(START, json=form(email="b@example.test", marketing_consent=True)).get_json()
    with app.app_context():
        contact = session().get(Conversation, body["conversation_id"]).contact
        assert sorted(r.purpose for r in contact.consents) == ["marketing", "privacy_policy"]
        assert contact.marketing_consent is True


def test_ip_is_stored_only_when_the_site_opts_in(make_app):
    app = make_app(GDPRCHAT_STORE_IP=True)
    body = app.test_client().post(START, json=form()).get_json()
    with app.app_context():
        [record] = session().get(Conversation, body["conversation_id"]).contact.consents
        assert record.ip_address == "127.0.0.1"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"policy_version": "1"}, "consent"),
        ({"consent": False, "policy_version": "1"}, "consent"),
        ({"consent": "yes", "policy_version": "1"}, "consent"),
        (form(email="not-an-address"), "email"),
        (form(phone="call me maybe"), "phone"),
        (form(name="x" * 300), "name"),
        (form(favourite_colour="red"), "favourite_colour"),
        ({"consent": True}, "policy_version"),
    ],
)
def test_refusals_name_the_field_and_store_nothing(app, client, payload, field):
    before = counts(app)
    response = client.post(START, json=payload)
    assert response.status_code in (400, 422)
    body = response.get_json()
    assert body["error"]
    assert body["field"] == field
    assert counts(app) == before


def test_not_json_is_refused(app, client):
    response = client.post(START, data="consent=true")
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_required_fields_follow_the_settings_in_force(app, client):
    with app.app_context():
        save_settings({"PRECHAT_FIELDS": ["name", "email"], "PRECHAT_REQUIRED": ["email"]})
    response = client.post(START, json=form(name="No Mail"))
    assert response.status_code == 422
    assert response.get_json()["field"] == "email"
    response = client.post(START, json=form(email="a@example.test", company="Not asked"))
    assert response.get_json()["field"] == "company"
    assert client.post(START, json=form(email="a@example.test")).status_code == 201


def test_an_old_policy_version_is_refused(make_app):
    app = make_app(GDPRCHAT_PRIVACY_POLICY_VERSION="2")
    before = counts(app)
    response = app.test_client().post(START, json=form())
    assert response.status_code == 409
    assert response.get_json()["field"] == "policy_version"
    assert "reload" in response.get_json()["error"]
    assert counts(app) == before


def test_a_restricted_identity_cannot_start_a_chat(app, client):
    body = client.post(START, json=form(email="frozen@example.test")).get_json()
    with app.app_context():
        from flask_gdprchat.core.clock import utcnow

        session().get(Conversation, body["conversation_id"]).contact.restricted_at = utcnow()
        session().commit()
    before = counts(app)
    response = client.post(START, json=form(email="FROZEN@example.test"))
    assert response.status_code == 403
    assert "restricted" in response.get_json()["error"]
    assert counts(app) == before


def test_each_form_chat_makes_its_own_contact(app, client):
    first = client.post(START, json=form(email="same@example.test")).get_json()
    second = client.post(START, json=form(email="same@example.test")).get_json()
    with app.app_context():
        a = session().get(Conversation, first["conversation_id"]).contact_id
        b = session().get(Conversation, second["conversation_id"]).contact_id
    assert a != b


def test_identified_visitors_reuse_their_contact_and_still_consent(make_app):
    app = make_app()
    chat = app.extensions["gdprchat"].chat
    user = {"external_id": "u-42", "name": "Host User", "email": "User@Shop.test"}
    chat.identify_visitor(lambda: user)
    client = app.test_client()
    assert client.post(START, json={"policy_version": "1"}).status_code == 400
    first = client.post(START, json=form()).get_json()
    user["name"] = "Host User Renamed"
    second = client.post(START, json=form()).get_json()
    refused = client.post(START, json=form(email="typed@example.test"))
    assert refused.status_code == 422
    with app.app_context():
        one = session().get(Conversation, first["conversation_id"]).contact
        two = session().get(Conversation, second["conversation_id"]).contact
        assert one.id == two.id
        assert (two.external_id, two.name, two.email) == ("u-42", "Host User Renamed", "user@shop.test")
        assert len(two.consents) == 2


def test_history_needs_the_conversations_own_token(app, client):
    a = client.post(START, json=form(name="A")).get_json()
    b = client.post(START, json=form(name="B")).get_json()
    url = f"{START}/{a['conversation_id']}/messages"
    ok = client.get(url, headers={"Authorization": f"Bearer {a['visitor_token']}"})
    assert ok.status_code == 200
    assert ok.get_json()["messages"] == []
    assert ok.get_json()["consent_required"] is False
    for headers in ({}, {"Authorization": f"Bearer {b['visitor_token']}"},
                    {"Authorization": "Bearer nonsense"}, {"Authorization": a["visitor_token"]}):
        denied = client.get(url, headers=headers)
        assert denied.status_code in (403, 404)
        assert "error" in denied.get_json()


def test_history_shows_names_looked_up_now(app, client, make_agent):
    agent_id = make_agent("h@example.test", name="Hana Smith")
    body = client.post(START, json=form(name="Old Name")).get_json()
    with app.app_context():
        from flask_gdprchat.chat import conversations

        conversation = session().get(Conversation, body["conversation_id"])
        conversations.store_message(conversation.id, conversation.contact_id, "visitor", "<b>hi</b>")
        conversations.store_message(conversation.id, conversation.contact_id, "agent", "Hello", agent_id=agent_id)
        conversation.contact.name = "New Name"
        session().commit()
    history = client.get(f"{START}/{body['conversation_id']}/messages",
                         headers={"Authorization": f"Bearer {body['visitor_token']}"}).get_json()
    assert [(m["author"], m["author_name"], m["text"]) for m in history["messages"]] == [
        ("visitor", "New Name", "<b>hi</b>"),
        ("agent", "Hana", "Hello"),
    ]


def test_a_new_policy_version_asks_for_consent_again(app, client, listen_to):
    body = client.post(START, json=form()).get_json()
    auth = {"Authorization": f"Bearer {body['visitor_token']}"}
    url = f"{START}/{body['conversation_id']}"
    with app.app_context():
        save_settings({"PRIVACY_POLICY_VERSION": "2"})
    history = client.get(f"{url}/messages", headers=auth).get_json()
    assert history["consent_required"] is True
    assert history["policy_version"] == "2"
    assert client.post(f"{url}/consent", json={"consent": False, "policy_version": "2"},
                       headers=auth).status_code == 400
    assert client.post(f"{url}/consent", json={"consent": True, "policy_version": "1"},
                       headers=auth).status_code == 409
    other = client.post(START, json=form(policy_version="2")).get_json()
    assert client.post(f"{url}/consent", json={"consent": True, "policy_version": "2"},
                       headers={"Authorization": f"Bearer {other['visitor_token']}"}).status_code == 404
    with listen_to(consent_given) as sent:
        renewed = client.post(f"{url}/consent", json={"consent": True, "policy_version": "2"},
                              headers=auth)
    assert renewed.status_code == 200
    assert sent[0]["policy_version"] == "2"
    assert client.get(f"{url}/messages", headers=auth).get_json()["consent_required"] is False


def test_post_notice_stores_a_system_message(app, client):
    body = client.post(START, json=form()).get_json()
    with app.app_context():
        from flask_gdprchat.chat.conversations import post_notice

        message_id = post_notice(body["conversation_id"], "Our summer sale starts today")
        message = session().get(Message, message_id)
        assert (message.author, message.text) == ("system", "Our summer sale starts today")
