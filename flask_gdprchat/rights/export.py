"""Exports of a subject's data (Art. 15 access, Art. 20 portability) as CSV, JSON, XML.

Every format streams: profiles and consent records are small, but messages are
read in keyset batches (by id, on the ``(conversation_id, id)`` index) and turned
into output batch by batch, so a subject with 100,000 messages never sits in
memory at once. JSON is the complete machine-readable form; CSV and XML carry
the same facts.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from flask import Response, current_app, stream_with_context
from sqlalchemy import select

from flask_gdprchat.core import audit, signals
from flask_gdprchat.core.agent_names import public_names
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import Contact, Conversation, Message, MessageEdit
from flask_gdprchat.core.state import session
from flask_gdprchat.core.subjects import contacts_for_email, normalise_email
from flask_gdprchat.rights.export_schemas import (
    EXPORT_VERSION,
    conversation_schema,
    dump_consent,
    dump_profile,
    message_schema,
)
from flask_gdprchat.rights.requests import log_fulfilled

#: Messages read per query.
BATCH_SIZE = 500

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xml": "application/xml",
}
FORMATS = tuple(MIMETYPES)


def check_format(fmt: str) -> str:
    """The format name, or ValueError naming the ones there are."""
    if fmt not in MIMETYPES:
        raise ValueError(f"unknown export format {fmt!r}; choose csv, json or xml")
    return fmt


# -- reading ---------------------------------------------------------------------------


def _conversations(contact: Contact) -> list[Conversation]:
    return list(
        session().scalars(
            select(Conversation).where(Conversation.contact_id == contact.id).order_by(Conversation.id)
        )
    )


def iter_messages(conversation: Conversation, visitor_name: str | None) -> Iterator[dict[str, Any]]:
    """The conversation's messages as export dicts, read in keyset batches.

    Authors are named the way the product shows them: an agent by display name
    (only its first word once the agent is erased), the visitor by the current name.
    """
    db = session()
    last_id = 0
    while True:
        messages = db.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.id > last_id)
            .order_by(Message.id)
            .limit(BATCH_SIZE)
        ).all()
        if not messages:
            return
        agents = public_names(m.agent_id for m in messages)
        ids = [message.id for message in messages]
        edits: dict[int, list[MessageEdit]] = {}
        for edit in db.scalars(
            select(MessageEdit).where(MessageEdit.message_id.in_(ids)).order_by(MessageEdit.id)
        ):
            edits.setdefault(edit.message_id, []).append(edit)
        for message in messages:
            name = agents.get(message.agent_id or 0) if message.author == "agent" else (
                visitor_name if message.author == "visitor" else None
            )
            yield message_schema.dump(
                {
                    "id": message.id,
                    "conversation_id": message.conversation_id,
                    "author": message.author,
                    "author_name": name,
                    "created_at": message.created_at,
                    "text": message.text,
                    "edited_at": message.edited_at,
                    "edits": edits.get(message.id, []),
                }
            )
        last_id = ids[-1]
        # Drop the batch from the identity map so memory stays flat.
        for message in messages:
            db.expunge(message)
        for batch_edits in edits.values():
            for edit in batch_edits:
                db.expunge(edit)


# -- JSON ------------------------------------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def iter_json(email: str, contacts: list[Contact]) -> Iterator[str]:
    """The complete export as JSON text, in pieces."""
    generated_at = _json(utcnow().isoformat())
    subject_email = _json(normalise_email(email) if email else None)
    yield (f'{{"export_version":{EXPORT_VERSION:d},"generated_at":{generated_at},'
           f'"subject":{{"email":{subject_email}}},"contacts":[')
    for i, contact in enumerate(contacts):
        yield ("," if i else "") + '{"profile":' + _json(dump_profile(contact))
        yield ',"consents":' + _json([dump_consent(r) for r in contact.consents])
        yield ',"conversations":['
        for j, conversation in enumerate(_conversations(contact)):
            head = _json(conversation_schema.dump(conversation))
            yield ("," if j else "") + head[:-1] + ',"messages":['
            buffer: list[str] = []
            for k, message in enumerate(iter_messages(conversation, contact.name)):
                buffer.append(("," if k else "") + _json(message))
                if len(buffer) >= BATCH_SIZE:
                    yield "".join(buffer)
                    buffer.clear()
            yield "".join(buffer) + "]}"
        yield "]}"
    yield "]}\n"


# -- CSV -------------------------------------------------------------------------------

CSV_COLUMNS = (
    "section", "contact_id", "conversation_id", "item_id", "time",
    "author_role", "author_name", "field", "value",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise_cell(value) if isinstance(value, str) else value


def _csv_rows(contacts: list[Contact]) -> Iterator[tuple[Any, ...]]:
    for contact in contacts:
        for field_name, value in dump_profile(contact).items():
            if field_name != "id":
                yield ("profile", contact.id, "", "", "", "", "", field_name, value)
        for record in contact.consents:
            data = dump_consent(record)
            for field_name, value in data.items():
                if field_name not in ("id", "given_at"):
                    yield ("consent", contact.id, "", record.id, data["given_at"], "", "",
                           field_name, value)
        for conversation in _conversations(contact):
            yield ("conversation", contact.id, conversation.id, "",
                   conversation.created_at.isoformat(), "", "", "status", conversation.status)
            for m in iter_messages(conversation, contact.name):
                yield ("message", contact.id, conversation.id, m["id"], m["created_at"],
                       m["author"], m["author_name"], "text", m["text"])
                if m["edited_at"]:
                    yield ("message", contact.id, conversation.id, m["id"], m["edited_at"],
                           m["author"], m["author_name"], "edited_at", m["edited_at"])
                for edit in m["edits"]:
                    yield ("message_edit", contact.id, conversation.id, m["id"], edit["edited_at"],
                           m["author"], m["author_name"], "previous_text", edit["previous_text"])


def iter_csv(email: str, contacts: list[Contact]) -> Iterator[str]:
    """The export as one CSV table (one row per fact), formula cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for n, row in enumerate(_csv_rows(contacts), 1):
        writer.writerow([_csv_value(v) for v in row])
        if n % BATCH_SIZE == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


# -- XML -------------------------------------------------------------------------------

# Characters XML 1.0 does not allow at all (not even escaped).
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: Any) -> str:
    """Text XML 1.0 can hold: forbidden control characters and lone surrogates removed."""
    return _XML_FORBIDDEN.sub("", "" if value is None else str(value))


class _Xml:
    """A small streaming writer over :class:`XMLGenerator` that always escapes."""

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.gen = XMLGenerator(self.out, encoding="utf-8", short_empty_elements=True)

    def drain(self) -> str:
        text = self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        return text

    def start(self, name: str, **attrs: Any) -> None:
        clean = {k.replace("_", "-"): xml_safe(v) for k, v in attrs.items() if v is not None}
        self.gen.startElement(name, AttributesImpl(clean))

    def end(self, name: str) -> None:
        self.gen.endElement(name)

    def leaf(self, name: str, value: Any) -> None:
        if value is None:
            self.start(name, nil="true")
        else:
            self.start(name)
            self.gen.characters(xml_safe(value if not isinstance(value, bool) else str(value).lower()))
        self.end(name)


def iter_xml(email: str, contacts: list[Contact]) -> Iterator[str]:
    """The export as well-formed XML 1.0 for any stored text."""
    x = _Xml()
    x.gen.startDocument()
    x.start("subject-export", version=EXPORT_VERSION, generated_at=utcnow().isoformat())
    x.leaf("email", normalise_email(email) if email else None)
    for contact in contacts:
        x.start("contact", id=contact.id)
        x.start("profile")
        for field_name, value in dump_profile(contact).items():
            if field_name != "id":
                x.leaf(field_name.replace("_", "-"), value)
        x.end("profile")
        x.start("consents")
        for record in contact.consents:
            data = dump_consent(record)
            x.start("consent", id=data.pop("id"))
            for field_name, value in data.items():
                x.leaf(field_name.replace("_", "-"), value)
            x.end("consent")
        x.end("consents")
        x.start("conversations")
        yield x.drain()
        for conversation in _conversations(contact):
            x.start("conversation", id=conversation.id, status=conversation.status,
                    created_at=conversation.created_at.isoformat())
            for n, m in enumerate(iter_messages(conversation, contact.name), 1):
                x.start("message", id=m["id"], author=m["author"], author_name=m["author_name"],
                        created_at=m["created_at"], edited_at=m["edited_at"])
                x.leaf("text", m["text"])
                for edit in m["edits"]:
                    x.start("edit", edited_at=edit["edited_at"])
                    x.leaf("previous-text", edit["previous_text"])
                    x.end("edit")
                x.end("message")
                if n % BATCH_SIZE == 0:
                    yield x.drain()
            x.end("conversation")
            yield x.drain()
        x.end("conversations")
        x.end("contact")
    x.end("subject-export")
    x.gen.endDocument()
    yield x.drain() + "\n"


_WRITERS: dict[str, Callable[[str, list[Contact]], Iterator[str]]] = {
    "csv": iter_csv,
    "json": iter_json,
    "xml": iter_xml,
}


# -- entry points ----------------------------------------------------------------------


def record_export(email: str | None, contacts: Iterable[Contact], fmt: str, channel: str,
                  *, actor: str | None = None) -> None:
    """Log the access request as fulfilled, audit it and signal it (then commit)."""
    contacts = list(contacts)
    ref = audit.subject_ref(normalise_email(email)) if email else audit.ref_for_contact(contacts[0])
    log_fulfilled("export", ref=ref, channel=channel)
    audit.record("subject_exported", ref=ref, actor=actor or channel, format=fmt,
                 contacts=len(contacts))
    session().commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for contact in contacts:
        signals.subject_exported.send(app, contact_id=contact.id, format=fmt, channel=channel)


def iter_export(email: str | None, fmt: str, contact_ids: list[int] | None = None
                ) -> Iterator[str]:
    """The export of ``email`` (or of the contacts ``contact_ids``) in ``fmt``, in pieces.

    Contacts are loaded when the first piece is asked for, so the generator works
    in whatever session is current then (a streamed response runs after the view's
    own session is gone). Nothing is logged here: callers use :func:`record_export`.
    """
    check_format(fmt)

    def generate() -> Iterator[str]:
        if contact_ids is None:
            contacts = contacts_for_email(email or "")
        else:
            contacts = list(
                session().scalars(
                    select(Contact).where(Contact.id.in_(contact_ids)).order_by(Contact.id)
                )
            )
        yield from _WRITERS[fmt](email or "", contacts)

    return generate()


def export_bytes(email: str, fmt: str, channel: str) -> bytes:
    """The whole export as bytes (Python API and CLI). ValueError for an unknown format
    or an address of which nothing is held."""
    check_format(fmt)
    contacts = contacts_for_email(email)
    if not contacts:
        raise ValueError("no data is held for that e-mail address")
    record_export(email, contacts, fmt, channel)
    return "".join(iter_export(email, fmt, [c.id for c in contacts])).encode("utf-8")


def export_response(email: str | None, fmt: str, channel: str, contacts: list[Contact],
                    *, actor: str | None = None) -> Response:
    """A streamed download of the export (logged before the first byte)."""
    check_format(fmt)
    contact_ids = [c.id for c in contacts]
    record_export(email, contacts, fmt, channel, actor=actor)
    stamp = utcnow().strftime("%Y%m%d")
    body = stream_with_context(iter_export(email, fmt, contact_ids))
    response = Response(body, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="my-chat-data-{stamp}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


__all__ = [
    "FORMATS",
    "check_format",
    "neutralise_cell",
    "xml_safe",
    "iter_export",
    "export_bytes",
    "export_response",
    "record_export",
]
