"""Rectification (Art. 16): corrections leave no old value behind, and e-mail moves the link."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from flask_gdprchat.core import signals
from flask_gdprchat.core.database import database_files
from flask_gdprchat.core.models import AuditEvent, Contact, SubjectRequest
from flask_gdprchat.core.state import session
from tests.plugins.rights import files_holding, link_path


def token_of(client, path):
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"',
                     client.get(path).get_data(as_text=True)).group(1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_corrections_replace_the_old_values_everywhere(make_app, make_subject, client_for_link,
                                                       listen_to, backend):
    app = make_app(backend)
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    token = token_of(client, path)
    with listen_to(signals.subject_rectified) as sent:
        response = client.post(f"{path}/rectify", data={
            "csrf_token": token, "name": "  Samira Brightwater ", "email": subject.email,
            "company": "", "phone": "+44 20 1234 5678"})
    assert response.status_code == 303
    assert sent == [{"sender": app, "contact_id": subject.contact_id,
                     "fields": ["company", "name", "phone"]}]
    with app.app_context():
        contact = session().get(Contact, subject.contact_id)
        assert (contact.name, contact.company, contact.phone) == (
            "Samira Brightwater", None, "+44 20 1234 5678")
        event = session().scalars(select(AuditEvent).where(
            AuditEvent.event == "subject_rectified")).one()
        assert event.details == {"fields": ["company", "name", "phone"]}
        assert subject.name not in json.dumps(event.details)
        assert session().scalars(select(SubjectRequest.kind)).all() == ["rectify"]
        if backend == "sqlite":
            # The old values cannot be read back from the files either.
            assert files_holding(database_files(), [subject.name, subject.company,
                                                    subject.phone]) == {}
    # Messages show the current name: names are looked up, never copied.
    page = client.get(path).get_data(as_text=True)
    assert "Samira Brightwater · 09:00" in page and subject.name not in page


def test_a_new_email_kills_the_old_link_and_mails_a_new_one(make_app, make_subject, smtp_server,
                                                             client_for_link):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    token = token_of(client, path)
    response = client.post(f"{path}/rectify", data={
        "csrf_token": token, "email": "Samira.New@Example.test"})
    body = response.get_data(as_text=True)
    response.close()  # the server sends the mail once the answer is out
    assert response.status_code == 200 and "sent a new one to your new address" in body
    assert client.get(path).status_code == 410
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "samira.new@example.test"
    new_path = link_path(mail)
    page = client.get(new_path)
    assert page.status_code == 200 and "samira.new@example.test" in page.get_data(as_text=True)
    with app.app_context():
        contact = session().get(Contact, subject.contact_id)
        assert contact.email == "samira.new@example.test" and contact.link_epoch == 1
        assert files_holding(database_files(), [subject.email]) == {}


@pytest.mark.parametrize("form, error", [
    ({"email": "not-an-address"}, "not valid"),
    ({"email": ""}, "cannot be emptied"),
    ({"name": "n" * 256}, "too long"),
    ({"phone": "<script>"}, "phone number"),
    ({"company": "bad\x00byte"}, "control characters"),
])
def test_bad_input_is_refused_and_nothing_is_stored(make_app, make_subject, client_for_link,
                                                    form, error):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    response = client.post(f"{path}/rectify", data={"csrf_token": token_of(client, path), **form})
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    with app.app_context():
        contact = session().get(Contact, subject.contact_id)
        assert (contact.name, contact.email, contact.company, contact.phone) == (
            subject.name, subject.email.lower(), subject.company, subject.phone)
        assert session().scalars(select(SubjectRequest)).all() == []


def test_a_restricted_subject_cannot_be_edited(make_app, make_subject, client_for_link):
    app = make_app()
    subject = make_subject(app)
    client, path = client_for_link(app, subject.email)
    with app.app_context():
        assert app.extensions["gdprchat"].chat.restrict_subject(subject.email)
    response = client.post(f"{path}/rectify", data={"csrf_token": token_of(client, path),
                                                    "name": "Changed"})
    assert response.status_code == 409 and "restricted" in response.get_data(as_text=True)
    with app.app_context():
        assert session().get(Contact, subject.contact_id).name == subject.name
