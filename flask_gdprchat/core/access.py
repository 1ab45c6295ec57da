"""Who may reach what. Every HTTP view and Socket.IO handler asks here.

Visitors hold a bearer token that opens their own conversation and nothing else.
Agents act by named permission; a deleted, disabled or downgraded agent fails
these checks at its very next request or event.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select

from flask_gdprchat.core import sealing
from flask_gdprchat.core.config import PERMISSIONS
from flask_gdprchat.core.models import Agent, Contact, Conversation
from flask_gdprchat.core.state import session


def hash_token(token: str) -> str:
    """The stored form of a visitor token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_visitor_token() -> tuple[str, str]:
    """A fresh visitor token and its stored hash."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


_conversations, _contacts = Conversation.__table__, Contact.__table__
#: Built once: it runs for every chat message.
_TOKEN_ROW = (
    select(_conversations.c.id, _conversations.c.contact_id, _conversations.c.visitor_token_hash,
           _contacts.c.name, _contacts.c.name_sealed, _contacts.c.restricted_at,
           _contacts.c.last_activity_at)
    .join(_contacts, _contacts.c.id == _conversations.c.contact_id)
    .where(_conversations.c.visitor_token_hash == bindparam("digest"))
)


def _token_row(token: str | None) -> Any:
    """The one lookup of a visitor token: its conversation and contact, as a row."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    digest = hash_token(token)
    row = session().execute(_TOKEN_ROW, {"digest": digest}).first()
    # Compare again in constant time: the index lookup is not a secret-safe compare.
    if row is None or not hmac.compare_digest(row.visitor_token_hash, digest):
        return None
    return row


def conversation_for_token(token: str | None) -> Conversation | None:
    """The conversation a visitor token opens, or None for an unknown token."""
    row = _token_row(token)
    return session().get(Conversation, row.id) if row is not None else None


def visitor_may_access(token: str | None, conversation_id: object) -> Conversation | None:
    """The conversation if ``token`` opens exactly ``conversation_id``, else None."""
    found = visitor_access(token, conversation_id)
    return session().get(Conversation, found.conversation_id) if found is not None else None


def agent_is_active(agent: Agent | None) -> bool:
    """An agent that can still sign in: present, enabled and not deleted."""
    return agent is not None and agent.is_active and agent.deleted_at is None


def agent_can(agent: Agent | None, permission: str | None = None) -> bool:
    """True if ``agent`` is active and holds ``permission`` (admins hold all).

    ``permission=None`` asks only whether the agent may use the console at all.
    """
    if not agent_is_active(agent):
        return False
    if permission is None:
        return True
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    assert agent is not None
    return agent.is_admin or permission in agent.permission_set


def agent_may_view(agent: Agent | None, conversation: Conversation | None) -> bool:
    """Every active agent sees the shared team inbox."""
    return conversation is not None and agent_can(agent)


def agent_may_reply(agent: Agent | None, conversation: Conversation | None) -> bool:
    """Replying needs ``send_messages`` and a contact whose processing is not restricted."""
    return (
        agent_may_view(agent, conversation)
        and agent_can(agent, "send_messages")
        and conversation_is_open_for_processing(conversation)
    )


def conversation_is_open_for_processing(conversation: Conversation | None) -> bool:
    """A restricted subject's data is kept but not processed (Art. 18)."""
    if conversation is None:
        return False
    contact: Contact | None = conversation.contact
    return contact is not None and contact.restricted_at is None


@dataclass(frozen=True)
class VisitorAccess:
    """What the message path needs to know about a visitor's own conversation."""

    conversation_id: int
    contact_id: int
    contact_name: str | None
    #: False for a restricted subject (see :func:`conversation_is_open_for_processing`).
    open_for_processing: bool
    contact_last_activity_at: dt.datetime | None = None


_NAME = sealing.field(Contact, "name")


def visitor_access(token: str | None, conversation_id: object) -> VisitorAccess | None:
    """The rule of :func:`visitor_may_access` without loading ORM objects.

    None unless ``token`` opens exactly ``conversation_id``. The message path
    uses this form because it runs for every chat message.
    """
    row = _token_row(token)
    if row is None or str(row.id) != str(conversation_id):
        return None
    name = row.name
    if row.name_sealed is not None:
        name = sealing.open_value(sealing.existing_contact_key(row.contact_id), _NAME,
                                  row.contact_id, row.name_sealed)
    return VisitorAccess(row.id, row.contact_id, name, row.restricted_at is None,
                         row.last_activity_at)


# -- the conversation workflow: resolving, reopening, assigning --------------------------
#
# Working a conversation (resolve, reopen, take it) needs what replying needs,
# ``send_messages``, but not an unrestricted contact: tidying the inbox processes
# no personal data. Handing a conversation to someone else, or back to the shared
# inbox, is a hand-off of one's own work: allowed while it is unassigned or the
# caller's own. Moving a colleague's conversation elsewhere is redistributing the
# team's work and needs the ``team`` permission (a lead's). Anyone who may work a
# conversation may still take it to themselves, as in any shared inbox.


def agent_may_work(agent: Agent | None, conversation: Conversation | None) -> bool:
    """Resolve, reopen or take a conversation: an active agent with ``send_messages``."""
    return agent_may_view(agent, conversation) and agent_can(agent, "send_messages")


def agent_may_be_assigned(agent: Agent | None) -> bool:
    """Only someone who can answer may own a conversation."""
    return agent_can(agent, "send_messages")


def agent_may_assign(agent: Agent | None, conversation: Conversation | None,
                     assignee: Agent | None) -> bool:
    """``agent`` may give ``conversation`` to ``assignee`` (None: the shared inbox).

    ``assignee`` must be able to answer; see the rules above this function.
    """
    if not agent_may_work(agent, conversation):
        return False
    assert agent is not None and conversation is not None
    if assignee is not None and not agent_may_be_assigned(assignee):
        return False
    if assignee is not None and assignee.id == agent.id:
        return True
    owner = conversation.assigned_agent_id
    return owner is None or owner == agent.id or agent_can(agent, "team")
