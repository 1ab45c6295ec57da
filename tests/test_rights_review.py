"""Rights checked where they are easiest to get wrong: stray copies of a subject's
data, subjects with several contacts, and campaigns racing an objection."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import create_engine, func, select, update

from flask_gdprchat.chat.campaigns import _send_to, eligible_contacts_query
from flask_gdprchat.core import audit
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.mail import deliver, queue_mail
from flask_gdprchat.core.models import (
    AuditEvent,
    Campaign,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    OutboundMail,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email
from flask_gdprchat.rights.erasure import erase_by_email
from flask_gdprchat.rights.objection import unsubscribe_contact
from flask_gdprchat.rights.rectification import rectify
from flask_gdprchat.rights.transcript import render_transcript
from flask_gdprchat.rights.verification import find_traces
from tests.plugins.rights import files_holding


def _count(model, *where):
    return session().scalar(select(func.count()).select_from(model).where(*where))


# -- erasure ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_erasure_takes_mail_to_the_subject_queued_without_a_contact(make_app, make_subject,
                                                                    backend):
    app = make_app(backend)
    subject = make_subject(app)
    bystander = make_subject(app, email="kept@example.test", name="Kept Person",
                             company="Other Co", phone="+1 555 0100", visitor_texts=["hi"])
    with app.app_context():
        # Mail addressed to the subject but not tied to a contact (as any caller of
        # queue_mail may leave it), and one for somebody else that must stay.
        queue_mail(subject.email.upper(), "About your data", "Dear Samira")
        queue_mail(bystander.email, "Hello", "Dear Kept")
        session().commit()
        assert find_traces(subject.email)  # sealed under the contact it was addressed to
        assert erase_by_email(subject.email, channel="api")
        assert find_traces(subject.email) == []
        assert [m.to_address for m in session().scalars(select(OutboundMail))] == [bystander.email]


def test_erasure_takes_the_host_identified_contact_with_that_email(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    with app.app_context():
        db = session()
        host_user = Contact(external_id="host-user-4711", email=subject.email.lower(),
                            name="Samira Q.", marketing_consent=False)
        db.add(host_user)
        db.flush()
        db.add(ConsentRecord(contact_id=host_user.id, purpose="privacy_policy",
                             policy_version="1", wording="I accept.", ip_address="203.0.113.9",
                             user_agent="Mozilla/5.0 SamiraBrowser"))
        db.commit()
        assert erase_by_email(subject.email, channel="api")
        assert _count(Contact) == 0 and _count(ConsentRecord) == 0
        assert find_traces(subject.email) == []
        values = subject.values + ["host-user-4711", "203.0.113.9", "SamiraBrowser"]
        assert files_holding(database_files(), values) == {}


# -- rectification ---------------------------------------------------------------------


def test_rectification_leaves_no_old_value_in_pending_mail_or_the_file(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    with app.test_request_context():
        contacts = contacts_for_email(subject.email)
        conversations = list(session().scalars(select(Conversation)))
        # A transcript that could not be sent yet: it quotes the name as author.
        text, html = render_transcript(contacts[0], conversations)
        assert subject.name in text
        queue_mail(subject.email.lower(), "Your transcript", text, html=html,
                   contact_id=subject.contact_id)
        # Mail that holds none of the old values is kept, readdressed.
        queue_mail(subject.email.lower(), "Spring news", "Flowers now.",
                   contact_id=subject.contact_id)
        session().commit()
        changed = rectify(contacts, {"name": "Samira Renamed", "email": "samira.new@example.test"},
                          channel="api")
        assert changed == ["email", "name"]
        session().expire_all()
        assert [(m.to_address, m.subject) for m in session().scalars(select(OutboundMail))] == [
            ("samira.new@example.test", "Spring news")
        ]
        old = [subject.name, subject.email]
        assert find_traces(subject.email) == []
        assert files_holding(database_files(), old) == {}


# -- objection and campaigns -----------------------------------------------------------


def test_unsubscribing_one_contact_stops_campaigns_to_the_whole_subject(app, make_contact,
                                                                      smtp_server):
    first = make_contact("twice@example.test")
    second = make_contact("twice@example.test")
    with app.app_context():
        assert unsubscribe_contact(session().get(Contact, first), channel="link")
        session().commit()
        session().expire_all()
        assert session().get(Contact, second).unsubscribed_at is not None
        campaign = Campaign(name="n", subject="News", body="Hello", channel="email")
        session().add(campaign)
        session().flush()
        assert session().scalars(eligible_contacts_query(campaign)).all() == []
        session().rollback()
        # Unsubscribing again changes nothing.
        assert not unsubscribe_contact(session().get(Contact, second), channel="link")


@pytest.mark.parametrize("channel", ["email", "chat"])
def test_a_running_campaign_skips_a_contact_unsubscribed_meanwhile(app, make_contact,
                                                                   smtp_server, channel):
    app.config["GDPRCHAT_PUBLIC_URL"] = "https://shop.example"  # sent outside a request
    leaving = make_contact("leaving@example.test")
    staying = make_contact("staying@example.test")
    with app.app_context():
        db = session()
        campaign = Campaign(name="n", subject="News", body="Hello", channel=channel)
        db.add(campaign)
        db.commit()
        audience = list(db.scalars(eligible_contacts_query(campaign)))
        assert [c.id for c in audience] == [leaving, staying]
        # Another process unsubscribes the first contact while this one sends.
        other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with other.begin() as connection:
            connection.execute(update(Contact).where(Contact.id == leaving)
                               .values(unsubscribed_at=dt.datetime(2024, 1, 1)))
        other.dispose()
        assert _send_to(campaign, audience) == 1
        if channel == "email":
            assert [m["To"] for m in smtp_server.wait_for(1)] == ["staying@example.test"]
        else:
            notices = db.scalars(select(Conversation.contact_id).join(Message)
                                 .where(Message.author == "system")).all()
            assert notices == [staying]


def test_campaign_mail_still_queued_is_not_sent_after_an_objection(app, make_contact,
                                                                   smtp_server):
    app.config["GDPRCHAT_PUBLIC_URL"] = "https://shop.example"  # sent outside a request
    contact_id = make_contact("queued@example.test")
    with app.app_context():
        campaign = Campaign(name="n", subject="News", body="Hello", channel="email")
        session().add(campaign)
        session().flush()
        contact = session().get(Contact, contact_id)
        from flask_gdprchat.chat.campaigns import _email

        _email(campaign, contact)  # queued while the mail server was down
        queue_mail(contact.email, "Your transcript", "text", contact_id=contact_id)
        session().commit()
        assert unsubscribe_contact(contact, channel="link")
        session().commit()
        assert deliver() == 1
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Your transcript"
    with app.app_context():
        assert _count(OutboundMail) == 0


# -- audit chain -----------------------------------------------------------------------


def test_reordered_events_break_the_chain(make_app):
    app = make_app()
    with app.app_context():
        for n in range(4):
            audit.record("settings_changed", actor="system", n=n)
        session().commit()
        events = session().scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        a, b = events[1], events[2]
        first_moved = a.id
        swapped = {k: getattr(b, k) for k in ("created_at", "event", "details", "prev_hash",
                                               "hash")}, {
            k: getattr(a, k) for k in ("created_at", "event", "details", "prev_hash", "hash")}
        # Swap the rows' contents (keeping ids): a reordering of the log.
        for event in (a, b):  # first free the unique hashes
            session().execute(update(AuditEvent).where(AuditEvent.id == event.id)
                              .values(prev_hash=f"tmp{event.id}", hash=f"tmp{event.id}h"))
        session().flush()
        for event, values in ((a, swapped[0]), (b, swapped[1])):
            session().execute(update(AuditEvent).where(AuditEvent.id == event.id).values(**values))
        session().commit()
    result = app.test_cli_runner().invoke(args=["gdprchat", "audit-verify"])
    assert result.exit_code == 1
    assert f"broken at event {first_moved}" in result.stderr


@pytest.mark.postgres
def test_two_writers_appending_at_once_never_fork_the_chain(make_app):
    app = make_app("postgres")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(25):
                    audit.record("settings_changed", actor=f"writer{n}", i=i)
                    session().commit()
                session().remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        assert audit.verify_chain().ok
        assert _count(AuditEvent) == 100


def test_rectification_refuses_values_that_are_not_text(app):
    """A number or a list must not silently clear a field; null clears it on purpose."""
    from flask_gdprchat.rights.rectification import clean_rectification
    from flask_gdprchat.rights.subject import RightsError

    for bad in ({"name": 5}, {"phone": ["1"]}, {"company": {"a": 1}}, {"name": "a\ud800"}):
        with pytest.raises(RightsError) as refused:
            clean_rectification(bad)
        assert refused.value.status == 422
    assert clean_rectification({"name": None, "company": ""}) == {"name": None, "company": None}
