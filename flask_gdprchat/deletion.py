"""How conversations and contacts are removed, completely, in one place.

Erasure, retention purges and agent deletion all delete through here. Deletes
are explicit Core statements child-first (edits, messages, sockets, then the
conversation), so they do not depend on the database enforcing foreign keys
and never leave an orphan behind. Nothing here commits: the caller decides the
transaction (one per batch in a purge, one per subject in an erasure).

Each kind of removal is written once, as a *plan*: the tables to clear, in
order, each with the condition naming its rows. :func:`delete_conversations`
and :func:`delete_contacts` carry a plan out; :func:`count_conversations` and
:func:`count_contacts` count the very same rows without touching them (a purge's
dry run), so a count can never drift from what a deletion really removes.
Children are found through sub-selects rather than id lists fetched first, so
a deletion is a fixed handful of statements whatever its size, and every
statement sees the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Union

from sqlalchemy import ColumnElement, Select, delete, func, select

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

#: Ids given as a list, or as a select of ids evaluated inside the statement.
Ids = Union[Iterable[int], Select[Any]]
#: One step of a plan: the kind reported, the model, and the condition on its rows.
Step = tuple[str, Any, ColumnElement[bool]]


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


def _ids(ids: Ids) -> Any:
    return ids if isinstance(ids, Select) else list(ids)


def _conversation_plan(conversation_ids: Any) -> list[Step]:
    message_ids = select(Message.id).where(Message.conversation_id.in_(conversation_ids))
    return [
        ("message_edits", MessageEdit, MessageEdit.message_id.in_(message_ids)),
        ("messages", Message, Message.conversation_id.in_(conversation_ids)),
        ("sockets", LiveSocket, LiveSocket.conversation_id.in_(conversation_ids)),
        ("conversations", Conversation, Conversation.id.in_(conversation_ids)),
    ]


def _contact_plan(contact_ids: Any) -> list[Step]:
    conversation_ids = select(Conversation.id).where(Conversation.contact_id.in_(contact_ids))
    return _conversation_plan(conversation_ids) + [
        ("consent_records", ConsentRecord, ConsentRecord.contact_id.in_(contact_ids)),
        ("campaign_deliveries", CampaignDelivery, CampaignDelivery.contact_id.in_(contact_ids)),
        ("pending_mail", OutboundMail, OutboundMail.contact_id.in_(contact_ids)),
        ("contacts", Contact, Contact.id.in_(contact_ids)),
    ]


def _carry_out(plan: list[Step]) -> Removed:
    db = session()
    removed = Removed()
    for kind, model, condition in plan:
        # No session synchronisation: it would fetch every deleted key back
        # (a million rows in a purge); the caller's objects are expired instead.
        statement = delete(model).where(condition).execution_options(synchronize_session=False)
        removed.add(kind, db.execute(statement).rowcount)
    # Objects loaded earlier in this session must not be flushed back.
    db.expire_all()
    return removed


def _count(plan: list[Step]) -> Removed:
    db = session()
    removed = Removed()
    for kind, model, condition in plan:
        removed.add(kind, db.scalar(select(func.count()).select_from(model).where(condition)))
    return removed


def _is_empty(ids: Any) -> bool:
    return isinstance(ids, list) and not ids


def delete_conversations(conversation_ids: Ids) -> Removed:
    """Delete these conversations with their messages, edits and socket rows."""
    ids = _ids(conversation_ids)
    if _is_empty(ids):
        return Removed()
    return _carry_out(_conversation_plan(ids))


def count_conversations(conversation_ids: Ids) -> Removed:
    """What :func:`delete_conversations` would remove now, removing nothing."""
    ids = _ids(conversation_ids)
    if _is_empty(ids):
        return Removed()
    return _count(_conversation_plan(ids))


def delete_contacts(contact_ids: Ids) -> Removed:
    """Delete these contacts and everything held about them.

    Conversations, messages, consent records, campaign deliveries and unsent mail
    go with them. Privacy links die because they name a contact that no longer
    exists.
    """
    ids = _ids(contact_ids)
    if _is_empty(ids):
        return Removed()
    return _carry_out(_contact_plan(ids))


def count_contacts(contact_ids: Ids) -> Removed:
    """What :func:`delete_contacts` would remove now, removing nothing."""
    ids = _ids(contact_ids)
    if _is_empty(ids):
        return Removed()
    return _count(_contact_plan(ids))
