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


# -- how the dashboard words each event ----------------------------------------------------

SENTENCES = [
    ("agent_signed_in", "agent:1", {}, "Agent #1 signed in."),
    ("agent_signed_out_everywhere", "agent:3", {"agent": 3}, "Agent #3 signed out on every device."),
    ("agent_signed_out_everywhere", "agent:1", {"agent": 3},
     "Agent #1 signed team member #3 out on every device."),
    ("agent_created", "cli", {"agent_id": 2, "admin": False,
                              "permissions": ["send_messages", "user_data"]},
     "The command line added team member #2 with Send messages and User data."),
    ("agent_changed", "agent:1", {"agent_id": 2, "admin": False, "active": False,
                                  "permissions": ["settings"]},
     "Agent #1 changed team member #2: Settings; disabled."),
    ("agent_erased", "agent:1", {"agent_id": 2, "purged": True},
     "Agent #1 deleted team member #2 (completely, first name too)."),
    ("subject_rectified", "subject", {"fields": ["phone"]}, "A subject corrected their phone number."),
    ("subject_rectified", "agent:4", {"fields": ["name", "email", "phone"]},
     "Agent #4 corrected a subject's name, e-mail address and phone number."),
    ("retention_purge", "scheduler", {"counts": {"conversations": 3}},
     "Retention purge removed 3 conversations."),
    ("retention_purge", "cli", {"counts": {"messages": 12, "contacts": 1, "conversations": 2}},
     "Retention purge removed 1 contact, 2 conversations and 12 messages (run from the command line)."),
    ("retention_purge", "scheduler", {"counts": {}}, "Retention purge found nothing to remove."),
    ("subject_erased", "subject", {"counts": {"contacts": 1, "messages": 5}},
     "A subject erased their data (1 contact and 5 messages removed)."),
    ("subject_exported", "api", {"format": "json", "contacts": 1},
     "The host application exported a subject's data as JSON."),
    ("subject_unsubscribed", "one_click", {"contacts": 1},
     "A subject unsubscribed from campaigns with one click in their mail program."),
    ("subject_restricted", "subject", {"contacts": 1},
     "A subject restricted the processing of their data."),
    ("restriction_lifted", "agent", {"contacts": 1},
     "An agent lifted the restriction on a subject's data."),
    ("transcript_sent", "agent:2", {"conversations": 1},
     "Agent #2 e-mailed a subject the transcript of 1 conversation."),
    ("access_link_requested", "subject", {"found": False},
     "A subject asked for a link to their data (the address is unknown, nothing was sent)."),
    ("consent_given", None, {"purpose": "marketing", "policy_version": "3"},
     "A visitor agreed to receive marketing e-mails (policy version 3)."),
    ("settings_changed", "agent:1", {"keys": ["WIDGET_COLOR"]},
     "Agent #1 changed 1 setting: widget colour."),
    ("something_new", "agent:5", {}, "Agent #5: something new."),
]


@pytest.mark.parametrize("event,actor,details,expected", SENTENCES)
def test_the_dashboard_words_each_event_as_a_sentence(event, actor, details, expected):
    from flask_gdprchat.admin.audit_log import sentence

    assert sentence(AuditEvent(event=event, actor=actor, details=details)) == expected
