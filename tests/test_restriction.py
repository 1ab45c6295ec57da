"""Restriction (Art. 18): data kept but frozen; lifting within the grace period restores it."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from flask_gdprchat.core import access, signals
from flask_gdprchat.core.eligibility import may_receive_campaigns
from flask_gdprchat.core.models import Agent, AuditEvent, Contact, Conversation, SubjectRequest
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import identity_is_restricted
from flask_gdprchat.rights.restriction import restrict_by_email
from flask_gdprchat.rights.subject import RightsError


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_restriction_freezes_and_lifting_restores(make_app, make_subject, listen_to, backend):
    app = make_app(backend)
    subject = make_subject(app)
    chat = app.extensions["gdprchat"].chat
    with app.app_context():
        agent = session().get(Agent, subject.agent_id)
        conversation = session().get(Conversation, subject.conversation_id)
        assert may_receive_campaigns(conversation.contact)
        assert access.agent_may_reply(agent, conversation)

        with listen_to(signals.subject_restricted) as sent:
            assert chat.restrict_subject(subject.email) is True
        assert sent == [{"sender": app, "contact_id": subject.contact_id, "restricted": True}]
        session().expire_all()
        contact = session().get(Contact, subject.contact_id)
        assert contact.restricted_at is not None
        assert contact.name == subject.name  # kept, not deleted
        assert not may_receive_campaigns(contact)
        assert identity_is_restricted(email=subject.email.upper())
        assert not access.agent_may_reply(agent, session().get(Conversation, subject.conversation_id))

        with listen_to(signals.subject_restricted) as lifted:
            assert chat.unrestrict_subject(subject.email) is True
        assert lifted[0]["restricted"] is False
        session().expire_all()
        contact = session().get(Contact, subject.contact_id)
        assert contact.restricted_at is None and may_receive_campaigns(contact)
        assert not identity_is_restricted(email=subject.email)
        assert access.agent_may_reply(agent, session().get(Conversation, subject.conversation_id))
        assert chat.unrestrict_subject(subject.email) is False  # nothing to lift
        kinds = sorted(session().scalars(select(SubjectRequest.kind)))
        assert kinds == ["restrict", "unrestrict"]
        events = {e.event for e in session().scalars(select(AuditEvent))}
        assert {"subject_restricted", "restriction_lifted"} <= events


def test_lifting_after_the_grace_period_is_refused(make_app, make_subject, client_for_link):
    app = make_app(GDPRCHAT_RESTRICTED_GRACE_DAYS=30)
    subject = make_subject(app)
    with app.app_context():
        assert restrict_by_email(subject.email, True, channel="api")
        contact = session().get(Contact, subject.contact_id)
        contact.restricted_at = contact.restricted_at - dt.timedelta(days=31)
        session().commit()
        with pytest.raises(RightsError, match="grace period ended"):
            restrict_by_email(subject.email, False, channel="api")
    client, path = client_for_link(app, subject.email)
    page = client.get(path).get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"{path}/unrestrict", data={"csrf_token": token})
    assert response.status_code == 409
    assert "can no longer be lifted" in response.get_data(as_text=True)
    with app.app_context():
        assert session().get(Contact, subject.contact_id).restricted_at is not None


def test_restricting_an_unknown_address_does_nothing(make_app):
    app = make_app()
    with app.app_context():
        assert app.extensions["gdprchat"].chat.restrict_subject("nobody@example.test") is False
        assert session().scalars(select(SubjectRequest)).all() == []
