"""Conversations and messages: starting a chat, storing and describing messages.

The message path is kept lean on purpose: a message is one Core ``INSERT`` plus
two Core ``UPDATE`` statements in one transaction (no ORM unit of work), stored
before it is broadcast. Author names are looked up when a message is shown and
never copied into the message, so a rectified or erased name leaves no trace.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app
from sqlalchemy import Connection, Table, bindparam, insert, select, update

from flask_gdprchat.chat import consent, workflow
from flask_gdprchat.chat.message_writer import writer_for_app
from flask_gdprchat.chat.schemas import load_identity
from flask_gdprchat.core import access, push, sealing, signals, subjects
from flask_gdprchat.core.agent_names import public_names
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.i18n import _, visitor_locale
from flask_gdprchat.core.masking import mask_text
from flask_gdprchat.core.models import (
    Agent,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    MessageEdit,
    row_id,
)
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session, state
from flask_gdprchat.core.text import is_storable_text

log = logging.getLogger("flask_gdprchat")

VISITOR_FALLBACK_NAME = "Visitor"
#: How fresh a contact's ``last_activity_at`` is kept by the message path.
CONTACT_ACTIVITY_RESOLUTION = dt.timedelta(minutes=1)

_messages = cast(Table, Message.__table__)
_conversations = cast(Table, Conversation.__table__)
_contacts = cast(Table, Contact.__table__)

# The message path's statements, built once: building a statement costs more
# than SQLite takes to run it.
# sort_by_parameter_order: the ids come back in the order the rows were given.
_INSERT_MESSAGES = insert(_messages).returning(_messages.c.id, sort_by_parameter_order=True)
_TOUCH = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("cid"))
    .values(last_activity_at=bindparam("now"))
)
#: A visitor's message counts as unread; an agent's reply marks the conversation read.
_TOUCH_UNREAD = _TOUCH.values(unread_count=_conversations.c.unread_count + 1)
_TOUCH_READ = _TOUCH.values(unread_count=0)
#: A message is inserted with a blank text and sealed once its id (bound into the
#: ciphertext) is known, in the same transaction.
_SEAL_MESSAGES = (
    update(_messages).where(_messages.c.id == bindparam("mid"))
    .values(text_sealed=bindparam("sealed"))
)
_TEXT = sealing.field(Message, "text")
#: A message as shown: its text (plain or sealed); its author's name is looked up
#: apart (see :func:`flask_gdprchat.core.agent_names.public_names`).
_MESSAGE_ROWS = select(
    _messages.c.id, _messages.c.author, _messages.c.text, _messages.c.text_sealed,
    _messages.c.created_at, _messages.c.edited_at, _messages.c.agent_id,
)
_TOUCH_CONTACT = (
    update(_contacts)
    .where(_contacts.c.id == bindparam("contact_id"),
           _contacts.c.last_activity_at < bindparam("stale"))
    .values(last_activity_at=bindparam("now"))
)


class ChatError(Exception):
    """A chat action refused; ``status`` and ``field`` tell the client what to fix."""

    def __init__(self, error: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.field = field

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.field:
            body["field"] = self.field
        return body


def iso(moment: dt.datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a ``Z``."""
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def check_text(text: Any) -> str:
    """The message text if it may be sent; ``ChatError`` if empty, not text or too long."""
    if not isinstance(text, str):
        raise ChatError(_("the message must be text"), field="text")
    if not text.strip():
        raise ChatError(_("the message is empty"), field="text")
    if not is_storable_text(text, multiline=True):
        raise ChatError(_("the message holds invalid characters (such as NUL)"), field="text")
    limit = setting("MAX_MESSAGE_LENGTH")
    if len(text) > limit:
        raise ChatError(_("the message is longer than %(limit)s characters", limit=limit),
                        field="text")
    return text


def prepare_text(text: Any) -> tuple[str, list[str]]:
    """The text to store and relay, and which kinds of value were masked in it.

    :func:`check_text` first, then ``GDPRCHAT_MASK_PATTERNS`` (card numbers,
    IBANs) so that the original never reaches the database, a queue or a mail.
    """
    return mask_text(check_text(text), setting("MASK_PATTERNS"))


def visitor_name(contact: Contact | None) -> str:
    """How a visitor is shown: the contact's current name, else "Visitor"."""
    return (contact.name if contact is not None and contact.name else None) or VISITOR_FALLBACK_NAME


# -- starting a conversation ------------------------------------------------------------


def host_identity() -> dict[str, Any] | None:
    """The host's signed-in user (``@chat.identify_visitor``) as a clean identity, or None.

    A callback that raises, or returns nothing usable, leaves the visitor
    unidentified: they chat through the pre-chat form like anyone else, and the
    host's page and the chat keep working.
    """
    identify = state.identify_visitor
    if identify is None:
        return None
    try:
        raw = identify()
    except Exception as exc:  # the host's code: its failure must not break the chat
        log.warning("identify_visitor raised %s; the visitor is not identified",
                    type(exc).__name__)
        return None
    return load_identity(raw)


@dataclass
class Started:
    """A new conversation and the token that opens it (shown once, never stored)."""

    conversation: Conversation
    contact: Contact
    token: str
    consents: list[ConsentRecord]


def start_conversation(form: dict[str, Any], identity: dict[str, Any] | None) -> Started:
    """Make the contact, the conversation and the consent records, and commit.

    ``form`` is the validated pre-chat form; ``identity`` is the host's
    signed-in user from :func:`host_identity`, or None. A restricted
    subject cannot start a chat (Art. 18).
    """
    if form["policy_version"] != setting("PRIVACY_POLICY_VERSION"):
        raise ChatError(
            _("the privacy policy has changed: reload the page and accept the current version"),
            status=409,
            field="policy_version",
        )
    external_id = str(identity["external_id"]) if identity and identity.get("external_id") else None
    email = (identity or {}).get("email") if identity else form.get("email")
    if subjects.identity_is_restricted(email, external_id):
        raise ChatError(_("chat is not available for this identity while its processing is "
                          "restricted"),
                        status=403)
    db = session()
    contact = subjects.contact_for_external_id(external_id) if external_id else None
    if contact is None:
        contact = Contact(external_id=external_id)
        db.add(contact)
    details = identity if identity else form
    for key in ("name", "email", "company", "phone"):
        value = details.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            setattr(contact, key, subjects.normalise_email(value) if key == "email" else value[:255])
    now = utcnow()
    contact.last_activity_at = now
    if form.get("marketing_consent"):
        # A fresh, explicit opt-in: newer than any earlier objection.
        contact.marketing_consent = True
        contact.unsubscribed_at = None
    token, token_hash = access.new_visitor_token()
    conversation = Conversation(contact=contact, visitor_token_hash=token_hash,
                                created_at=now, last_activity_at=now)
    db.add(conversation)
    db.flush()
    records = record_consents(contact, form)
    db.commit()
    consent.announce(records)
    signals.conversation_started.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        conversation_id=conversation.id,
        contact_id=contact.id,
    )
    return Started(conversation, contact, token, records)


def record_consents(contact: Contact, form: dict[str, Any]) -> list[ConsentRecord]:
    """Add the consent records a form's ticks stand for (the caller commits).

    The wording recorded is the one the widget showed, with the language it is in.
    """
    shown = consent.shown_wordings(form.get("locale") or visitor_locale())
    text, locale = shown[consent.PRIVACY_POLICY]
    records = [consent.record_consent(contact, consent.PRIVACY_POLICY, text, locale=locale)]
    if form.get("marketing_consent"):
        text, locale = shown[consent.MARKETING]
        records.append(consent.record_consent(contact, consent.MARKETING, text, locale=locale))
    return records


def renew_consent(conversation: Conversation, form: dict[str, Any]) -> list[ConsentRecord]:
    """Record a returning visitor's consent to the policy version now in force; commit."""
    if form["policy_version"] != setting("PRIVACY_POLICY_VERSION"):
        raise ChatError(_("the privacy policy has changed again: reload the page"),
                        status=409, field="policy_version")
    if not access.conversation_is_open_for_processing(conversation):
        raise ChatError(_("this conversation is restricted"), status=403)
    contact = conversation.contact
    if form.get("marketing_consent"):
        contact.marketing_consent = True
        contact.unsubscribed_at = None
    records = record_consents(contact, form)
    session().commit()
    consent.announce(records)
    return records


# -- messages ----------------------------------------------------------------------------


def store_message(
    conversation_id: int,
    contact_id: int,
    author: str,
    text: str,
    *,
    agent_id: int | None = None,
    contact_active_at: dt.datetime | None = None,
    client_msg_id: str | None = None,
) -> tuple[int, dt.datetime]:
    """Store a message and the conversation's activity, committed before it returns.

    A visitor's message counts as unread and reopens a resolved conversation;
    an agent's reply marks the conversation read. ``contact_active_at``, when
    the caller knows it, spares the contact's activity update while it is fresh.
    Messages arriving together share one transaction (see
    :mod:`flask_gdprchat.chat.message_writer`). Returns the message id and its time.
    """
    # End this thread's own transaction first (committing what it holds, as this
    # function always did): a sender waiting for its batch must not keep a pooled
    # connection checked out, or a crowd of waiters starves the batch's own writer.
    session().commit()
    # The contact's key is fetched here, once per subject and cached: the batch's
    # transaction only encrypts.
    key = sealing.contact_key(contact_id) if state.seal_at_rest else None
    message_id, now, reopened = writer_for_app(_write_batch).store({
        "conversation_id": conversation_id, "contact_id": contact_id, "author": author,
        "agent_id": agent_id, "text": text, "client_msg_id": client_msg_id,
        "contact_active_at": contact_active_at, "key": key,
    })
    if reopened:
        workflow.announce_reopened(conversation_id)
    return message_id, now


def _write_batch(
    connection: Connection, batch: list[dict[str, Any]]
) -> list[tuple[int, dt.datetime, bool]]:
    """Write a batch of messages in the caller's transaction: one INSERT for all,
    then each conversation's activity (and each contact's, when a minute old)."""
    now = utcnow()
    ids = connection.execute(_INSERT_MESSAGES, [
        {"conversation_id": p["conversation_id"], "author": p["author"],
         "agent_id": p["agent_id"], "text": "" if p["key"] else p["text"], "created_at": now,
         "client_msg_id": p["client_msg_id"]}
        for p in batch
    ]).scalars().all()
    sealed = [
        {"mid": message_id, "sealed": sealing.seal(p["key"], _TEXT, message_id, p["text"])}
        for p, message_id in zip(batch, ids, strict=True) if p["key"]
    ]
    if sealed:
        connection.execute(_SEAL_MESSAGES, sealed)
    # The contact's activity only feeds retention (counted in days): refresh it
    # when a minute old, so most messages write no contact page at all.
    stale = now - CONTACT_ACTIVITY_RESOLUTION
    results = []
    for params, message_id in zip(batch, ids, strict=True):
        author = params["author"]
        touch = _TOUCH_UNREAD if author == "visitor" else _TOUCH_READ if author == "agent" else _TOUCH
        connection.execute(touch, {"cid": params["conversation_id"], "now": now})
        # A visitor writing again reopens a resolved conversation (one cheap UPDATE).
        reopened = author == "visitor" and workflow.reopen_for_visitor(
            params["conversation_id"], connection=connection)
        active_at = params["contact_active_at"]
        if active_at is None or active_at < stale:
            connection.execute(_TOUCH_CONTACT, {"contact_id": params["contact_id"], "now": now,
                                                "stale": stale})
        results.append((message_id, now, reopened))
    return results


def message_payload(
    message_id: int,
    conversation_id: int,
    author: str,
    author_name: str,
    text: str,
    created_at: dt.datetime,
    edited_at: dt.datetime | None = None,
    agent_id: int | None = None,
    masked: list[str] | None = None,
) -> dict[str, Any]:
    """The ``message`` event body (and one history entry).

    ``masked`` names what :func:`prepare_text` hid; it is sent only when something was.
    """
    body = {
        "id": message_id,
        "conversation_id": conversation_id,
        "author": author,
        "author_name": author_name,
        "text": text,
        "created_at": iso(created_at),
        "edited_at": iso(edited_at),
        "agent_id": agent_id,
    }
    if masked:
        body["masked"] = masked
    return body


def check_client_msg_id(value: Any) -> str | None:
    """The sender's own message id if it is a usable one (text, 1 to 64 characters)."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64 or not is_storable_text(value):
        raise ChatError(_("client_msg_id must be text of at most 64 characters"),
                        field="client_msg_id")
    return value


def stored_under_client_id(conversation_id: int, client_msg_id: str) -> dict[str, Any] | None:
    """The message already stored for this sender id in this conversation, as sent."""
    row = session().execute(
        _MESSAGE_ROWS.where(_messages.c.conversation_id == conversation_id,
                            _messages.c.client_msg_id == client_msg_id)
    ).first()
    if row is None:
        return None
    conversation = session().get(Conversation, conversation_id)
    if row.author == "visitor":
        author_name = visitor_name(conversation.contact if conversation else None)
    else:
        author_name = public_names([row.agent_id]).get(row.agent_id) or "Agent"
    key = sealing.existing_contact_key(conversation.contact_id if conversation else None)
    text = message_text(row.id, row.text, row.text_sealed, key)
    return message_payload(row.id, conversation_id, row.author, author_name, text,
                           row.created_at, row.edited_at, row.agent_id)



def message_text(message_id: int, text: str | None, sealed: bytes | None,
                 key: bytes | None) -> str:
    """A stored message's text: opened from ``sealed`` under the contact's key, else plain."""
    return sealing.open_value(key, _TEXT, message_id, sealed, text) or ""


def history(conversation: Conversation) -> list[dict[str, Any]]:
    """Every message of a conversation, oldest first, with names looked up now."""
    name = visitor_name(conversation.contact)
    key = sealing.existing_contact_key(conversation.contact_id)
    rows = session().execute(
        _MESSAGE_ROWS.where(_messages.c.conversation_id == conversation.id)
        .order_by(_messages.c.id)
    ).all()
    agents = public_names(row.agent_id for row in rows)
    out = []
    for row in rows:
        if row.author == "visitor":
            author_name = name
        elif row.author == "agent":
            author_name = agents.get(row.agent_id) or "Agent"
        else:
            author_name = ""
        text = message_text(row.id, row.text, row.text_sealed, key)
        out.append(message_payload(row.id, conversation.id, row.author, author_name, text,
                                   row.created_at, row.edited_at, row.agent_id))
    return out


def edit_message(agent: Agent, message_id: Any, text: Any) -> dict[str, Any]:
    """Change an agent's own message, keeping the previous text; commit.

    Needs ``edit_messages`` and a contact whose processing is not restricted.
    Returns the ``message_edited`` event body.
    """
    text, masked = prepare_text(text)
    if not access.agent_can(agent, "edit_messages"):
        raise ChatError("editing messages needs the 'edit_messages' permission", status=403)
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise ChatError("message_id must be a number", field="message_id")
    db = session()
    message = db.get(Message, message_id) if row_id(message_id) else None
    if message is None or message.author != "agent" or message.agent_id != agent.id:
        raise ChatError("you can edit only your own messages", status=403)
    if not access.conversation_is_open_for_processing(message.conversation):
        raise ChatError("this contact's processing is restricted", status=403)
    now = utcnow()
    db.add(MessageEdit(message_id=message.id, previous_text=message.text, edited_at=now,
                       agent_id=agent.id))
    message.text = text
    message.edited_at = now
    db.commit()
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "text": text,
        "edited_at": iso(now),
        **({"masked": masked} if masked else {}),
    }


def post_notice(conversation_id: int, text: str) -> int:
    """Post a system notice (a chat campaign, for instance) into a conversation.

    Stores a ``Message(author="system")`` and **commits** it, then emits a
    ``notice {conversation_id, id, text, created_at}`` event to the conversation's
    room, so the visitor's widget shows it. Returns the message id.
    """
    text, _masked = prepare_text(text)
    conversation = session().get(Conversation, conversation_id)
    if conversation is None:
        raise ChatError("no such conversation", status=404)
    message_id, created = store_message(conversation_id, conversation.contact_id, "system", text)
    push.emit_notice(
        {"conversation_id": conversation_id, "id": message_id, "text": text,
         "created_at": iso(created)}
    )
    return message_id


def announce_message(payload: dict[str, Any]) -> None:
    """``message_sent`` for a stored and relayed message."""
    signals.message_sent.send(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        message_id=payload["id"],
        conversation_id=payload["conversation_id"],
        author=payload["author"],
    )
