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

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)

from flask_gdprchat.core import sealing
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.models import (
    Agent,
    AgentSession,
    CampaignDelivery,
    ConsentRecord,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    MessageEdit,
    OutboundMail,
)
from flask_gdprchat.core.state import session

#: One step of a plan: the kind reported, the table, and the condition on its rows.
Step = tuple[str, Table, ColumnElement[bool]]


@dataclass(frozen=True)
class _Statements:
    """A plan made into statements, once: the deletes and their counting twins."""

    steps: list[tuple[str, Delete, Select[Any]]]
    #: PostgreSQL: every delete of the plan in one statement (one round trip).
    #: Its parts share one snapshot, so each still finds the rows a child step
    #: looks up through its parent, and foreign-key actions run only after all.
    combined: Select[Any]

    @classmethod
    def of(cls, plan: list[Step]) -> _Statements:
        parts = [
            delete(table).where(condition).returning(literal_column("1")).cte(f"gone_{i}")
            for i, (_kind, table, condition) in enumerate(plan)
        ]
        combined = select(*[
            select(func.count()).select_from(part).scalar_subquery().label(f"n{i}")
            for i, part in enumerate(parts)
        ])
        return cls([
            (kind, delete(table).where(condition),
             select(func.count()).select_from(table).where(condition))
            for kind, table, condition in plan
        ], combined)

#: The ids a plan acts on, bound when it runs: a plan is built once and reused,
#: so a purge of a million rows does not rebuild and recompile its statements.
IDS: BindParameter[Any] = bindparam("ids", expanding=True)


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


def _table(model: Any) -> Table:
    # Declarative models type __table__ as a FromClause; ours are all Tables.
    return cast(Table, model.__table__)


def _conversation_steps(conversation_ids: Any) -> list[Step]:
    messages, edits, sockets, conversations = (
        _table(Message), _table(MessageEdit), _table(LiveSocket), _table(Conversation)
    )
    message_ids = select(messages.c.id).where(messages.c.conversation_id.in_(conversation_ids))
    return [
        ("message_edits", edits, edits.c.message_id.in_(message_ids)),
        ("messages", messages, messages.c.conversation_id.in_(conversation_ids)),
        ("sockets", sockets, sockets.c.conversation_id.in_(conversation_ids)),
        ("conversations", conversations, conversations.c.id.in_(conversation_ids)),
    ]


@functools.cache
def _conversation_plan() -> _Statements:
    return _Statements.of(_conversation_steps(IDS))


def mail_of_contacts(contact_ids: Any) -> ColumnElement[bool]:
    """Outbox rows that go with these contacts: those naming one of them, and those
    naming no contact but addressed to one of their e-mail addresses."""
    outbox, contacts = OutboundMail.__table__, Contact.__table__
    addresses = select(func.lower(contacts.c.email)).where(
        contacts.c.id.in_(contact_ids), contacts.c.email.is_not(None)
    )
    return or_(
        outbox.c.contact_id.in_(contact_ids),
        and_(outbox.c.contact_id.is_(None), func.lower(outbox.c.to_address).in_(addresses)),
    )


@functools.cache
def _contact_plan() -> _Statements:
    conversations = Conversation.__table__
    conversation_ids = select(conversations.c.id).where(conversations.c.contact_id.in_(IDS))
    by_contact = [
        ("consent_records", _table(ConsentRecord)),
        ("campaign_deliveries", _table(CampaignDelivery)),
    ]
    contacts = _table(Contact)
    return _Statements.of(
        _conversation_steps(conversation_ids)
        + [(kind, table, table.c.contact_id.in_(IDS)) for kind, table in by_contact]
        + [("pending_mail", _table(OutboundMail), mail_of_contacts(IDS))]
        + [("contacts", contacts, contacts.c.id.in_(IDS))]
    )


def _carry_out(plan: _Statements, ids: list[int]) -> Removed:
    db = session()
    removed = Removed()
    if not ids:
        return removed
    # Pending changes reach the database first, as the ORM's own deletes would.
    db.flush()
    connection = db.connection()
    if connection.dialect.name == "postgresql":
        counts = connection.execute(plan.combined, {"ids": ids}).one()
        for (kind, _statement, _count_statement), n in zip(plan.steps, counts, strict=True):
            removed.add(kind, n)
    else:
        for kind, statement, _count_statement in plan.steps:
            removed.add(kind, connection.execute(statement, {"ids": ids}).rowcount)
    # Objects loaded earlier in this session must not be flushed back.
    db.expire_all()
    return removed


def _count(plan: _Statements, ids: list[int]) -> Removed:
    db = session()
    removed = Removed()
    if not ids:
        return removed
    connection = db.connection()
    for kind, _delete_statement, statement in plan.steps:
        removed.add(kind, connection.execute(statement, {"ids": ids}).scalar_one())
    return removed


def delete_conversations(conversation_ids: Iterable[int]) -> Removed:
    """Delete these conversations with their messages, edits and socket rows."""
    return _carry_out(_conversation_plan(), list(conversation_ids))


def count_conversations(conversation_ids: Iterable[int]) -> Removed:
    """What :func:`delete_conversations` would remove now, removing nothing."""
    return _count(_conversation_plan(), list(conversation_ids))


def delete_contacts(contact_ids: Iterable[int]) -> Removed:
    """Delete these contacts and everything held about them.

    Conversations, messages, consent records, campaign deliveries and unsent mail
    (see :func:`mail_of_contacts`) go with them. Privacy links die because they name a contact that no longer
    exists.

    Their data keys are destroyed first, in the key store's own transaction, so
    every copy of their sealed values (a backup, a replica, dead tuples) is
    unreadable from that moment, whatever becomes of this transaction; if it
    rolls back, the rows left are unreadable and the purge job sweeps them.
    """
    ids = list(contact_ids)
    sealing.destroy_contact_keys(ids)
    return _carry_out(_contact_plan(), ids)


def count_contacts(contact_ids: Iterable[int]) -> Removed:
    """What :func:`delete_contacts` would remove now, removing nothing."""
    return _count(_contact_plan(), list(contact_ids))


# -- team members -----------------------------------------------------------------------


def erased_agent_values() -> dict[str, Any]:
    """What erasing a team member leaves in its row, by attribute.

    Every personal column the declaration does not keep on deletion goes blank,
    with its sealed twin and blind index, and the agent can no longer sign in.
    The first name stays (see :class:`~flask_gdprchat.core.models.Agent`).
    """
    values: dict[str, Any] = {}
    for column in Agent.__table__.columns:
        info = column.info
        erased = info.get("personal") == "agent" and not info.get("kept_on_delete")
        if erased or info.get("sealed_twin") or info.get("blind_index"):
            values[column.key] = None
    values.update(permissions="", is_admin=False, is_active=False)
    return values


def erase_agents(agent_ids: Iterable[int]) -> Removed:
    """Erase these team members (the caller commits and closes their sockets).

    Their data keys are destroyed first, as for contacts, so every copy of their
    sealed values is unreadable whatever becomes of this transaction. Their rows
    stay, keeping the first name (see :func:`erased_agent_values`); their sign-ins
    end and their conversations go back to the shared inbox. The same erasure
    runs again for a team member a restored backup brings back (the purge).
    """
    ids = list(agent_ids)
    removed = Removed()
    if not ids:
        return removed
    sealing.destroy_agent_keys(ids)
    connection = session().connection()
    agents, sign_ins, conversations = _table(Agent), _table(AgentSession), _table(Conversation)
    result = connection.execute(
        update(agents).where(agents.c.id.in_(ids)).values(
            **erased_agent_values(),
            deleted_at=func.coalesce(agents.c.deleted_at, utcnow()),
            # Ends every signed-in browser at its next request.
            session_epoch=agents.c.session_epoch + 1,
        ))
    removed.add("agents_erased", result.rowcount)
    removed.add("agent_sessions", connection.execute(
        delete(sign_ins).where(sign_ins.c.agent_id.in_(ids))).rowcount)
    connection.execute(update(conversations).where(conversations.c.assigned_agent_id.in_(ids))
                       .values(assigned_agent_id=None))
    return removed


def count_agents(agent_ids: Iterable[int]) -> Removed:
    """What :func:`erase_agents` would change now, changing nothing."""
    ids = list(agent_ids)
    removed = Removed()
    if ids:
        removed.add("agents_erased", session().scalar(
            select(func.count()).select_from(Agent).where(Agent.id.in_(ids))) or 0)
        removed.add("agent_sessions", session().scalar(
            select(func.count()).select_from(AgentSession)
            .where(AgentSession.agent_id.in_(ids))) or 0)
    return removed
