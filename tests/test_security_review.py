"""What a careful reviewer tries against the HTTP and Socket.IO surfaces."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from flask_gdprchat.models import Contact, Message
from flask_gdprchat.state import session

START = "/gdprchat/api/conversations"


def form(**extra: Any) -> dict[str, Any]:
    return {"consent": True, "policy_version": "1", **extra}


def contacts(app: Any) -> list[tuple[Any, ...]]:
    with app.app_context():
        return [(c.external_id, c.name, c.email, c.company, c.phone)
                for c in session().scalars(select(Contact).order_by(Contact.id))]


# -- text no database stores as given ------------------------------------------------------


@pytest.mark.parametrize("field, value", [
    ("name", "Ann\ud800"), ("company", "\udfff"), ("name", "Ann\x00"), ("company", "A\x07B"),
    ("policy_version", "1\x00"),
])
def test_prechat_text_with_invalid_characters_is_refused_clearly(app, client, field, value):
    raw = ('{"consent": true, "policy_version": "1", "%s": "%s"}'
           % (field, value.encode("unicode_escape").decode().replace("\\x", "\\u00")))
    response = client.post(START, data=raw, content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == field
    assert contacts(app) == []


def test_messages_with_nul_or_lone_surrogates_are_refused_by_ack(app, chat_server, chat_visitor,
                                                                 chat_agent):
    chat, visitor = chat_visitor(chat_server.url)
    cid = chat["conversation_id"]
    agent = chat_agent(chat_server.url)
    for who in (visitor, agent):
        for text in ("a\x00b", "a\ud800b"):
            ack = who.call("send_message", {"conversation_id": cid, "text": text})
            assert ack["ok"] is False and "invalid characters" in ack["error"], ack
    ack = visitor.call("send_message", {"conversation_id": cid, "text": "line one\n\tline two"})
    assert ack["ok"] is True
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Message)) == 1
