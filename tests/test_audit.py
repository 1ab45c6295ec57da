"""The audit log: a hash chain of every request and fulfilment, with no personal data."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, update

from flask_gdprchat.core.models import AuditEvent
from flask_gdprchat.core.state import session
from tests.plugins.rights import request_link


def exercise_every_right(app, subject, client_for_link):
    client, path = client_for_link(app, subject.email)
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get(path).get_data(as_text=True)).group(1)
    request_link(client, subject.email)
    client.get(f"{path}/export.json")
    client.post(f"{path}/rectify", data={"csrf_token": token, "name": "New Name"})
    client.post(f"{path}/restrict", data={"csrf_token": token})
    client.post(f"{path}/unrestrict", data={"csrf_token": token})
    client.post(f"{path}/unsubscribe", data={"csrf_token": token})
    client.post(f"{path}/erase", data={"csrf_token": token})


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_chain_verifies_and_holds_no_personal_data(make_app, make_subject, client_for_link,
                                                       backend):
    app = make_app(backend)
    subject = make_subject(app)
    exercise_every_right(app, subject, client_for_link)
    with app.app_context():
        events = session().scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        names = [e.event for e in events]
        for expected in ("access_link_requested", "subject_exported", "subject_rectified",
                         "subject_restricted", "restriction_lifted", "subject_unsubscribed",
                         "erasure_requested", "subject_erased"):
            assert expected in names
        values = [v.lower() for v in subject.values + ["New Name"]]
        for event in events:
            row = json.dumps([event.event, event.subject_ref, event.actor, event.details,
                              event.prev_hash, event.hash]).lower()
            assert not [v for v in values if v in row], event.event
    result = app.test_cli_runner().invoke(args=["gdprchat", "audit-verify"])
    assert result.exit_code == 0
    assert f"{len(events)} events checked" in result.stdout


@pytest.mark.parametrize("change", ["details", "removed"])
def test_an_altered_entry_breaks_the_chain_at_that_event(make_app, make_subject, client_for_link,
                                                         change):
    app = make_app()
    subject = make_subject(app)
    exercise_every_right(app, subject, client_for_link)
    with app.app_context():
        ids = session().scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        target = ids[3]
        if change == "details":
            session().execute(update(AuditEvent).where(AuditEvent.id == target)
                              .values(details={"fields": ["nothing"]}))
            broken = target
        else:
            session().delete(session().get(AuditEvent, target))
            broken = ids[4]  # the next one no longer follows its predecessor
        session().commit()
    result = app.test_cli_runner().invoke(args=["gdprchat", "audit-verify"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: audit chain broken at event {broken}:")
    assert len(result.stderr.strip().splitlines()) == 1
