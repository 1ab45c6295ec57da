"""Erasure (Art. 17): everything goes at once, nothing is recoverable, proof stays."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from flask_gdprchat.core import signals
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.mail import queue_mail
from flask_gdprchat.core.models import (
    AuditEvent,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
    OutboundMail,
    SubjectRequest,
)
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.verification import find_traces
from tests.plugins.rights import files_holding


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_erase_subject_removes_everything_and_keeps_pii_free_proof(make_app, make_subject,
                                                                    listen_to, backend):
    app = make_app(backend)
    subject = make_subject(app)
    bystander = make_subject(app, email="kept@example.test", name="Kept Person",
                             company="Other Co", phone="+1 555 0100", visitor_texts=["hi there"])
    chat = app.extensions["gdprchat"].chat
    with app.app_context():
        queue_mail(subject.email, "pending", "Dear Samira", contact_id=subject.contact_id)
        session().commit()
        assert find_traces(subject.email) == [
            f"gdprchat_contacts.email_index (contact {subject.contact_id}, sealed)"]
        with listen_to(signals.subject_erased) as sent:
            assert chat.erase_subject(subject.email) is True
        assert chat.erase_subject(subject.email) is False
        assert sent[0]["counts"] == {"contacts": 1, "conversations": 1, "messages": 4,
                                     "message_edits": 1, "consent_records": 2, "pending_mail": 1}
        assert sent[0]["channel"] == "api" and len(sent[0]["subject_ref"]) == 64
        for model in (Contact, Conversation, Message, MessageEdit, ConsentRecord, OutboundMail):
            owned = session().scalar(select(func.count()).select_from(model))
            expected = {Contact: 1, Conversation: 1, Message: 2, MessageEdit: 1,
                        ConsentRecord: 2, OutboundMail: 0}[model]
            assert owned == expected, model  # only the bystander's rows are left
        request = session().scalars(select(SubjectRequest).where(
            SubjectRequest.kind == "erase")).one()
        assert request.status == "fulfilled" and request.fulfilled_at is not None
        events = session().scalars(select(AuditEvent)).all()
        erased = [e for e in events if e.event == "subject_erased"][0]
        assert erased.subject_ref == sent[0]["subject_ref"]
        assert erased.details["counts"]["messages"] == 4
        for event in events:
            dumped = json.dumps([event.event, event.subject_ref, event.actor, event.details]).lower()
            assert not [v for v in subject.values if v.lower() in dumped]
        assert find_traces(subject.email) == []
        assert find_traces(bystander.email) != []
        if backend == "sqlite":
            files = database_files()
            assert files_holding(files, subject.values) == {}
            # Sealed from the first row: not even the bystander's address is readable.
            assert files_holding(files, [bystander.email]) == {}


def test_the_raw_database_files_never_hold_the_values(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    runner = app.test_cli_runner()
    with app.app_context():
        files = database_files()
        assert any(str(f).endswith("-wal") for f in files)
        assert files_holding(files, subject.values) == {}  # sealed, WAL included
        assert session().get(Contact, subject.contact_id).name == subject.name
    before = runner.invoke(args=["gdprchat", "verify-erasure", subject.email])
    assert before.exit_code == 1
    assert "gdprchat_contacts.email_index" in before.output
    with app.app_context():
        app.extensions["gdprchat"].chat.erase_subject(subject.email)
        assert files_holding(database_files(), subject.values) == {}
    after = runner.invoke(args=["gdprchat", "verify-erasure", subject.email])
    assert after.exit_code == 0, after.output


def test_open_sockets_are_told_and_closed(make_app, make_subject, live_server):
    import socketio

    app = make_app()
    subject = make_subject(app)
    server = live_server(app)
    told, closed = threading.Event(), threading.Event()
    payloads = []
    client = socketio.Client(reconnection=False)

    @client.on("conversation_erased", namespace="/gdprchat")
    def on_erased(data):
        payloads.append(data)
        told.set()

    @client.on("disconnect", namespace="/gdprchat")
    def on_disconnect(*_args):
        closed.set()

    client.connect(server.url, namespaces=["/gdprchat"], socketio_path="socket.io",
                   auth={"visitor_token": subject.visitor_token}, wait_timeout=10)
    try:
        with app.app_context():
            app.extensions["gdprchat"].chat.erase_subject(subject.email)
        assert told.wait(10) and payloads == [{"conversation_id": subject.conversation_id}]
        assert closed.wait(10)
    finally:
        client.disconnect()


def test_an_unknown_address_erases_nothing(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    with app.app_context():
        assert app.extensions["gdprchat"].chat.erase_subject("nobody@example.test") is False
        assert session().get(Contact, subject.contact_id) is not None
