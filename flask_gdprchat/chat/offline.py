"""Messages left while nobody can answer, and the answers agents send by e-mail.

A visitor who finds nobody online leaves a message with an e-mail address. It
is stored as a conversation marked ``offline``, with the same consent records
(wording and language) as a chat start, and shown to the agents in the inbox.
No visitor token is handed out: nobody waits on a socket. An agent's reply in
such a conversation is stored like any reply and mailed to the visitor, in the
language they wrote in, through the outbox (:mod:`flask_gdprchat.core.mail`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select

from flask_gdprchat.chat import consent, conversations
from flask_gdprchat.chat.conversations import ChatError
from flask_gdprchat.core import access, signals, subjects
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.config import config_value
from flask_gdprchat.core.i18n import (
    _,
    force_locale,
    language_of,
    template_helpers,
    translate_default,
)
from flask_gdprchat.core.mail import MailError, deliver, queue_mail
from flask_gdprchat.core.models import Agent, Contact, Conversation, Message, OutboundMail
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session


@dataclass
class Left:
    """A stored offline message: its conversation, contact, consents and what was masked."""

    conversation: Conversation
    contact: Contact
    message: Message
    consents: list[Any]
    masked: list[str]


def leave_message(form: dict[str, Any], identity: dict[str, Any] | None = None) -> Left:
    """Store a validated offline message (:func:`load_offline_message`) and commit.

    The text is checked and masked like a chat message; a wrong policy version is
    a 409 and a restricted address (or host identity) a 403, as for a chat start.
    All or nothing: contact, conversation, message and consent records go in one
    transaction. The contact is the address the visitor gave for the answer.
    """
    text, masked = conversations.prepare_text(form.get("text"))
    if form["policy_version"] != setting("PRIVACY_POLICY_VERSION"):
        raise ChatError(
            _("the privacy policy has changed: reload the page and accept the current version"),
            status=409, field="policy_version",
        )
    email = subjects.normalise_email(form["email"])
    external_id = str(identity["external_id"]) if identity and identity.get("external_id") else None
    if subjects.identity_is_restricted(email, external_id):
        raise ChatError(_("chat is not available for this identity while its processing is "
                          "restricted"), status=403)
    db = session()
    now = utcnow()
    contact = Contact(email=email, last_activity_at=now)
    if form.get("name"):
        contact.name = form["name"].strip()[:255]
    if form.get("marketing_consent"):
        contact.marketing_consent = True
    db.add(contact)
    # A token is needed by the table but never handed out: the answer goes by e-mail.
    _token, token_hash = access.new_visitor_token()
    conversation = Conversation(contact=contact, visitor_token_hash=token_hash, offline=True,
                                created_at=now, last_activity_at=now, unread_count=1)
    db.add(conversation)
    message = Message(conversation=conversation, author="visitor", text=text, created_at=now)
    db.add(message)
    db.flush()
    records = conversations.record_consents(contact, form)
    db.commit()
    consent.announce(records)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.conversation_started.send(app, conversation_id=conversation.id,
                                      contact_id=contact.id)
    signals.message_sent.send(app, message_id=message.id, conversation_id=conversation.id,
                              author="visitor")
    return Left(conversation, contact, message, records, masked)


def _first_message(conversation: Conversation) -> str:
    message = session().scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.author == "visitor")
        .order_by(Message.id).limit(1)
    )
    return (message.text if message is not None else None) or ""


def queue_answer(conversation: Conversation, agent: Agent, text: str) -> OutboundMail:
    """Write an agent's answer to the visitor's address into the outbox (not committed).

    In the language the visitor wrote in; visitor text is escaped in the HTML part.
    """
    contact = conversation.contact
    if not contact.email:
        raise ChatError("this contact has no e-mail address to answer to", status=422)
    language = language_of(contact)
    with force_locale(language):
        controller = translate_default("CONTROLLER_NAME", config_value("CONTROLLER_NAME"))
        original = _first_message(conversation)
        context = {
            **template_helpers(),
            "lang": language,
            "name": contact.name,
            "answer": text,
            "author_name": agent.public_name,
            "original": original,
            "quoted": "\n".join("> " + line for line in original.splitlines()),
            "controller_name": controller,
        }
        body = render_template("gdprchat/mail/offline_answer.txt", **context)
        html = render_template("gdprchat/mail/offline_answer.html", **context)
        subject = _("Our answer to your message to %(controller)s", controller=controller)
    return queue_mail(contact.email, subject, body, html=html,
                      headers={"Content-Language": language}, contact_id=contact.id)


@dataclass
class Answered:
    """An agent's stored answer, and whether its mail went out at once."""

    message_id: int
    created_at: Any
    delivered: bool


def answer_by_email(conversation: Conversation, agent: Agent, text: str, *,
                    client_msg_id: str | None = None) -> Answered:
    """Store an agent's reply in an offline conversation and mail it to the visitor.

    The mail is queued with the reply: a mail server that is down leaves it in the
    outbox for a retry (``delivered`` is then False), never a reply without its mail.
    """
    db = session()
    # Written (and so checked) first, but kept out of the session until the reply is
    # stored: storing commits the session, and a refused retry must not mail again.
    mail = queue_answer(conversation, agent, text)
    db.expunge(mail)
    message_id, created = conversations.store_message(
        conversation.id, conversation.contact_id, "agent", text, agent_id=agent.id,
        client_msg_id=client_msg_id,
    )
    db.add(mail)
    db.commit()
    try:
        delivered = deliver([mail]) == 1
    except MailError:
        delivered = False
    return Answered(message_id, created, delivered)


__all__ = ["Answered", "Left", "answer_by_email", "leave_message", "queue_answer"]
