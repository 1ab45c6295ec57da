"""Fixtures shared by the admin tests: agents by permission, contacts with flags."""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from flask_gdprchat.core.access import new_visitor_token
from flask_gdprchat.core.models import ConsentRecord, Contact, Conversation
from flask_gdprchat.core.state import session

ADMIN_URL = "/gdprchat/admin"


@pytest.fixture
def agent_client(app: Flask, make_agent: Callable[..., int], login_as: Callable[..., Any]) -> Any:
    """``agent_client(*permissions, admin=False)`` -> a client signed in as a new agent."""
    counter = itertools.count(1)

    def factory(*permissions: str, admin: bool = False) -> Any:
        email = f"member{next(counter)}@example.test"
        make_agent(email, name="Mona Member", permissions=permissions, admin=admin)
        client = app.test_client()
        assert login_as(client, email).status_code == 302
        client.agent_email = email
        return client

    return factory


@pytest.fixture
def make_contact(app: Flask) -> Callable[..., int]:
    """``make_contact(email=..., marketing=True, unsubscribed=False, restricted=False,
    chat_days_ago=1)`` -> the id of a contact with one conversation (unless
    ``chat_days_ago=None``)."""

    def factory(
        email: str | None = None,
        *,
        name: str | None = None,
        marketing: bool = True,
        unsubscribed: bool = False,
        restricted: bool = False,
        chat_days_ago: int | None = 1,
    ) -> int:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with app.app_context():
            db = session()
            contact = Contact(
                email=email,
                name=name,
                marketing_consent=marketing,
                unsubscribed_at=now if unsubscribed else None,
                restricted_at=now if restricted else None,
            )
            db.add(contact)
            db.flush()
            db.add(ConsentRecord(contact_id=contact.id, purpose="privacy_policy",
                                 policy_version="1", wording="I accept."))
            if marketing:
                db.add(ConsentRecord(contact_id=contact.id, purpose="marketing",
                                     policy_version="1", wording="Send me news."))
            if chat_days_ago is not None:
                _token, digest = new_visitor_token()
                db.add(Conversation(contact_id=contact.id, visitor_token_hash=digest,
                                    created_at=now - dt.timedelta(days=chat_days_ago)))
            db.commit()
            return contact.id

    return factory
