"""Chat transcripts by e-mail, asked for by the subject or sent by an agent.

Each transcript mail has a plain-text and an HTML part, rendered from templates
under ``gdprchat/mail/``; the HTML template escapes visitor text like any page.
A subject who asks gets it in the language of the page they asked on; one an
agent sends is in the language the contact consented in.
"""
from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from flask_gdprchat.core import audit
from flask_gdprchat.core.config import config_value
from flask_gdprchat.core.i18n import (
    _,
    force_locale,
    language_of,
    template_helpers,
    translate_default,
    visitor_locale,
)
from flask_gdprchat.core.mail import MailError, deliver, queue_mail
from flask_gdprchat.core.models import Contact, Conversation
from flask_gdprchat.core.state import session
from flask_gdprchat.rights.export import iter_messages
from flask_gdprchat.rights.requests import fulfil, open_request
from flask_gdprchat.rights.subject import RightsError, ref_of


def _conversation_view(conversation: Conversation, contact: Contact) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "created_at": conversation.created_at,
        "messages": list(iter_messages(conversation, contact.name)),
    }


def render_transcript(contact: Contact, conversations: list[Conversation]) -> tuple[str, str]:
    """The text and HTML bodies of a transcript of ``conversations`` (current language)."""
    context = {
        **template_helpers(),
        "lang": visitor_locale(),
        "contact": contact,
        "conversations": [_conversation_view(c, contact) for c in conversations],
        "controller_name": translate_default("CONTROLLER_NAME", config_value("CONTROLLER_NAME")),
    }
    return (
        render_template("gdprchat/mail/transcript.txt", **context),
        render_template("gdprchat/mail/transcript.html", **context),
    )


def _send(contact: Contact, conversations: list[Conversation], ref: str, channel: str,
          actor: str | None = None) -> None:
    if not contact.email:
        raise RightsError(_("This contact has no e-mail address to send the transcript to."), 422)
    language = visitor_locale() if channel == "subject" else language_of(contact)
    with force_locale(language):
        text, html = render_transcript(contact, conversations)
        subject = _("Your chat transcript from %(controller)s", controller=translate_default(
            "CONTROLLER_NAME", config_value("CONTROLLER_NAME")))
    request = open_request("transcript", ref=ref, channel=channel)
    mail = queue_mail(
        contact.email,
        subject,
        text,
        html=html,
        headers={"Content-Language": language},
        contact_id=contact.id,
    )
    session().commit()
    try:
        if deliver([mail]) != 1:
            raise MailError("refused")
    except MailError:
        raise RightsError(_("The transcript could not be sent just now; it will be retried. "
                            "Please try again later if it does not arrive."), 503) from None
    fulfil(request)
    audit.record("transcript_sent", ref=ref, actor=actor or channel, conversations=len(conversations))
    session().commit()


def send_subject_transcript(contacts: list[Contact], *, channel: str) -> int:
    """Mail the subject the transcript of all their conversations; returns how many."""
    contact = next((c for c in contacts if c.email), contacts[0])
    ids = [c.id for c in contacts]
    conversations = list(
        session().scalars(
            select(Conversation).where(Conversation.contact_id.in_(ids)).order_by(Conversation.id)
        )
    )
    _send(contact, conversations, ref_of(contacts), channel)
    return len(conversations)


def send_conversation_transcript(conversation: Conversation, *, channel: str,
                                 actor: str | None = None) -> None:
    """Mail one conversation's transcript to its contact (an agent's action)."""
    contact = conversation.contact
    _send(contact, [conversation], audit.ref_for_contact(contact), channel, actor)


__all__ = ["render_transcript", "send_subject_transcript", "send_conversation_transcript"]
