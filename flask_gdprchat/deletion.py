"""How conversations and contacts are removed, completely, in one place.

Erasure, retention purges and agent deletion all delete through here. Deletes
are explicit Core statements child-first (edits, messages, sockets, then the
conversation), so they do not depend on the database enforcing foreign keys
and never leave an orphan behind. Nothing here commits: the caller decides the
transaction (one per batch in a purge, one per subject in an erasure).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import delete, select

from .models import (
    CampaignDelivery,
    ConsentRecord,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    MessageEdit,
    OutboundMail,
)
from .state import session


@dataclass
class Removed:
    """Row counts removed, by kind (never any values)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def merge(self, other: Removed) -> None:
        for kind, n in other.counts.items():
            self.add(kind, n)

    def total(self) -> int:
        return sum(self.counts.values())


def delete_conversations(conversation_ids: Iterable[int]) -> Removed:
    """Delete these conversations with their messages, edits and socket rows."""
    ids = list(conversation_ids)
    removed = Removed()
    if not ids:
        return removed
    db = session()
    message_ids = select(Message.id).where(Message.conversation_id.in_(ids)).scalar_subquery()
    removed.add("message_edits", db.execute(
        delete(MessageEdit).where(MessageEdit.message_id.in_(message_ids))
    ).rowcount)
    removed.add("messages", db.execute(
        delete(Message).where(Message.conversation_id.in_(ids))
    ).rowcount)
    removed.add("sockets", db.execute(
        delete(LiveSocket).where(LiveSocket.conversation_id.in_(ids))
    ).rowcount)
    removed.add("conversations", db.execute(
        delete(Conversation).where(Conversation.id.in_(ids))
    ).rowcount)
    return removed


def delete_contacts(contact_ids: Iterable[int]) -> Removed:
    """Delete these contacts and everything held about them.

    Conversations, messages, consent records, campaign deliveries and unsent mail
    go with them. Privacy links die because they name a contact that no longer
    exists.
    """
    ids = list(contact_ids)
    removed = Removed()
    if not ids:
        return removed
    db = session()
    conversation_ids = list(
        db.scalars(select(Conversation.id).where(Conversation.contact_id.in_(ids)))
    )
    removed.merge(delete_conversations(conversation_ids))
    removed.add("consent_records", db.execute(
        delete(ConsentRecord).where(ConsentRecord.contact_id.in_(ids))
    ).rowcount)
    removed.add("campaign_deliveries", db.execute(
        delete(CampaignDelivery).where(CampaignDelivery.contact_id.in_(ids))
    ).rowcount)
    removed.add("pending_mail", db.execute(
        delete(OutboundMail).where(OutboundMail.contact_id.in_(ids))
    ).rowcount)
    removed.add("contacts", db.execute(delete(Contact).where(Contact.id.in_(ids))).rowcount)
    # Objects loaded earlier in this session must not be flushed back.
    db.expire_all()
    return removed
