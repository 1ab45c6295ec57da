"""How the agents' inbox lists a conversation."""
from __future__ import annotations

from typing import Any

from flask_gdprchat.chat import conversations
from flask_gdprchat.core.models import Contact, Conversation


def contact_label(contact: Contact) -> str:
    """How agents tell contacts apart: the name, else "Visitor <contact id>".

    The number is the contact's own id, so the label stays the same across the
    contact's conversations and reloads, and two anonymous visitors never share one.
    """
    return contact.name or f"{conversations.VISITOR_FALLBACK_NAME} {contact.id}"


def avatar(contact: Contact) -> dict[str, Any]:
    """Initials and a hue for the contact's avatar, both stable for the contact.

    A named contact shows the initials of up to two words; an anonymous one the
    last two digits of its number, matching its label "Visitor <id>". The hue
    steps by the golden angle, so contacts that arrive one after another get
    colours far apart.
    """
    if contact.name and contact.name.strip():
        initials = "".join(word[0] for word in contact.name.split()[:2]).upper()
    else:
        initials = str(contact.id)[-2:]
    return {"initials": initials, "hue": (contact.id * 137) % 360}


def conversation_summary(conversation: Conversation, contact: Contact) -> dict[str, Any]:
    """How the inbox lists a conversation (for agents only)."""
    return {
        "conversation_id": conversation.id,
        "contact_id": contact.id,
        "contact_name": conversations.visitor_name(contact),
        "contact_label": contact_label(contact),
        "avatar": avatar(contact),
        "identified": not contact.is_anonymous,
        "status": conversation.status or "open",
        "assignee_id": conversation.assigned_agent_id,
        "created_at": conversations.iso(conversation.created_at),
        "last_activity_at": conversations.iso(conversation.last_activity_at),
        "unread_count": conversation.unread_count or 0,
        "restricted": contact.restricted_at is not None,
        #: Left while nobody could answer: replies go to the contact by e-mail.
        "offline": bool(conversation.offline),
    }
