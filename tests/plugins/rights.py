"""Fixtures shared by the rights tests: a data subject with a chat history, links."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from flask_gdprchat.core.access import new_visitor_token
from flask_gdprchat.core.models import (
    Agent,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import agent_email_is


@dataclass
class SubjectData:
    """What a test subject typed, and the ids it got."""

    email: str
    name: str
    company: str
    phone: str
    contact_id: int
    conversation_id: int
    visitor_token: str
    agent_id: int
    visitor_texts: list[str] = field(default_factory=list)
    agent_texts: list[str] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)

    @property
    def values(self) -> list[str]:
        """Every personal value of the subject, to look for after erasure."""
        return [self.email, self.name, self.company, self.phone, *self.visitor_texts]


def _start_with_api(app: Flask, payload: dict[str, Any]) -> tuple[int, str] | None:
    """Start the chat through the public API; None while that route is not built."""
    response = app.test_client().post("/gdprchat/api/conversations", json=payload)
    if response.status_code != 201:
        return None
    data = response.get_json()
    return data["conversation_id"], data["visitor_token"]


def _start_with_models(payload: dict[str, Any]) -> tuple[int, str]:
    db = session()
    contact = Contact(
        name=payload["name"], email=payload["email"].lower(), company=payload["company"],
        phone=payload["phone"], marketing_consent=payload["marketing_consent"],
    )
    db.add(contact)
    db.flush()
    db.add(ConsentRecord(contact_id=contact.id, purpose="privacy_policy", policy_version="1",
                         wording="I have read and accept the privacy policy."))
    if payload["marketing_consent"]:
        db.add(ConsentRecord(contact_id=contact.id, purpose="marketing", policy_version="1",
                             wording="Send me news and offers by e-mail. (optional)"))
    token, digest = new_visitor_token()
    conversation = Conversation(contact_id=contact.id, visitor_token_hash=digest)
    db.add(conversation)
    db.commit()
    return conversation.id, token


@pytest.fixture
def make_subject() -> Callable[..., SubjectData]:
    """``make_subject(app, email=..., name=..., visitor_texts=[...])``: a subject who
    consented, chatted with an agent, and whose agent edited a reply."""

    def factory(
        app: Flask,
        *,
        email: str = "Samira.Subject@Example.test",
        name: str = "Samira Quillfeather",
        company: str = "Quillfeather Tiles Ltd",
        phone: str = "+44 20 7946 0321",
        visitor_texts: list[str] | None = None,
        agent_email: str = "bruno@example.test",
        marketing: bool = True,
    ) -> SubjectData:
        texts = visitor_texts or [
            "Hello, my order 88231-ZX never arrived",
            "My flat is at 14 Larkspur Mews",
        ]
        payload = {
            "name": name, "email": email, "company": company, "phone": phone,
            "consent": True, "marketing_consent": marketing, "policy_version": "1",
        }
        started = _start_with_api(app, payload)
        with app.app_context():
            if started is None:
                started = _start_with_models(payload)
            conversation_id, token = started
            db = session()
            agent = db.query(Agent).filter(agent_email_is(agent_email)).first()
            if agent is None:
                agent = Agent(email=agent_email, full_name="Bruno Helpwell", first_name="Bruno",
                              permissions="send_messages")
                db.add(agent)
                db.flush()
            base = dt.datetime(2024, 5, 1, 9, 0)
            ids = []
            agent_texts = ["Sorry to hear that! Let me check.", "Found it: it ships today."]
            for i, text in enumerate(texts):
                visitor = Message(conversation_id=conversation_id, author="visitor", text=text,
                                  created_at=base + dt.timedelta(minutes=2 * i))
                reply = Message(conversation_id=conversation_id, author="agent",
                                agent_id=agent.id, text=agent_texts[i % 2],
                                created_at=base + dt.timedelta(minutes=2 * i + 1))
                db.add_all([visitor, reply])
                db.flush()
                ids += [visitor.id, reply.id]
            # The agent corrected its last reply; the export keeps the earlier text.
            db.add(MessageEdit(message_id=ids[-1], previous_text="Found it: it shipd today.",
                               agent_id=agent.id, edited_at=base + dt.timedelta(hours=1)))
            last = db.get(Message, ids[-1])
            last.edited_at = base + dt.timedelta(hours=1)
            contact_id = db.get(Conversation, conversation_id).contact_id
            db.commit()
            return SubjectData(
                email=email, name=name, company=company, phone=phone, contact_id=contact_id,
                conversation_id=conversation_id, visitor_token=token, agent_id=agent.id,
                visitor_texts=list(texts), agent_texts=agent_texts, message_ids=ids,
            )

    return factory


LINK_RE = re.compile(r"https?://\S+/gdprchat/privacy/[A-Za-z0-9_.\-]+")


def request_link(client: Any, email: str) -> Any:
    """Ask for a privacy link the way the form does; closes the response as a server
    does after sending it, which is when the mail goes out."""
    page = client.get("/gdprchat/privacy")
    token = _csrf(page.get_data(as_text=True))
    response = client.post("/gdprchat/privacy/request", data={"email": email, "csrf_token": token})
    body = response.get_data()
    response.close()
    response.body_bytes = body
    return response


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


def link_path(message: Any) -> str:
    """The path of the privacy link in a mail's text part."""
    part = message.get_body(preferencelist=("plain",))
    match = LINK_RE.search(part.get_content())
    assert match, "no privacy link in the mail"
    return urlsplit(match.group(0)).path


def files_holding(paths: list[Any], values: list[str]) -> dict[str, list[str]]:
    """Which of ``values`` occur (case-insensitively) in the raw bytes of each file."""
    found: dict[str, list[str]] = {}
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read().lower()
        hits = [v for v in values if v.lower().encode("utf-8") in data]
        if hits:
            found[str(path)] = hits
    return found


@pytest.fixture
def rights_helpers() -> Any:
    """The helpers above, for tests that prefer a fixture to an import."""
    return type("Helpers", (), {
        "request_link": staticmethod(request_link),
        "link_path": staticmethod(link_path),
        "files_holding": staticmethod(files_holding),
        "csrf": staticmethod(_csrf),
    })


@pytest.fixture
def client_for_link() -> Callable[[Flask, str], tuple[Any, str]]:
    """``client_for_link(app, email)`` -> (a test client, the path of a fresh link)."""

    def make(app: Flask, email: str) -> tuple[Any, str]:
        from flask_gdprchat.rights.links import make_token

        with app.test_request_context():
            token = make_token(email)
        assert token, "no data held for that address"
        return app.test_client(), f"/gdprchat/privacy/{token}"

    return make
