"""Retention: the purge that removes what the site no longer may keep.

:func:`purge_expired` is the one purge; the scheduler, ``flask gdprchat purge``
and the tests all call it. The rules, with ``now`` the time of the run and each
limit read through :func:`flask_gdprchat.core.config.setting` (so a value saved in the
dashboard wins over the configuration, at the next run, without a restart):

0. **Unreadable contacts**: those whose data key was destroyed after they were
   made, or whose sealed values have no key (see
   :func:`flask_gdprchat.core.sealing.unreadable_contacts`). A live database
   has none; a database restored from a backup taken before an erasure holds
   the erased subjects again, and this rule removes them whole, blind indexes
   included, at the first run after the restore. Team members such a copy brings
   back after their erasure (see
   :func:`flask_gdprchat.core.sealing.unreadable_agents`) are erased again: their
   rows stay, as after any erasure, with the first name only.
1. **Restricted subjects** whose restriction began more than
   ``RESTRICTED_GRACE_DAYS`` ago are removed whole (profile, consent records,
   conversations, messages, pending mail). Within the grace period a restricted
   contact is frozen: none of the rules below touches it, however old its chats,
   because Art. 18 asks that its data be *kept* until the restriction ends.
2. **Expired contacts.** A contact that is not restricted is removed whole when
   its own last activity and the last activity of every one of its
   conversations are older than its retention: ``ANONYMOUS_RETENTION_DAYS`` for
   an anonymous contact (:attr:`Contact.is_anonymous`, the one rule: no name,
   e-mail, phone or company), ``IDENTIFIED_RETENTION_DAYS`` for an identified one
   (never while that setting is ``None``: kept until erased). This covers the
   contact left without any conversation once its conversations expired: its
   profile and consent records are personal data that were kept only for the
   chats, so they go with the last chat, anonymous or identified alike. A
   marketing opt-in does not extend retention. Consent records are proof for
   the chats they allowed and leave with the contact, never before.
3. **Expired conversations** of contacts that stay (an identified contact of the
   host's signed-in user, reused across chats, with one recent chat and one old
   one): each conversation whose last activity is older than its contact's
   retention is removed with its messages, edits and socket rows.
4. **Stuck mail**: outbox entries not delivered within :data:`OUTBOX_MAX_AGE`
   (they hold addresses and text, and nobody is going to receive them).
5. **Stale socket rows** older than :data:`SOCKET_MAX_AGE`, left by a process that
   died without saying goodbye.
6. **Throttle entries** older than :data:`THROTTLE_MAX_AGE`, far past any window a
   rate limit looks at.

"Older than" is strict: age counts from the last activity
(``last_activity_at``), never from creation, and a record exactly as old as its
limit is kept; one second more and it goes. Fulfilled subject requests and the
audit log hold no personal data and are proof of accountability: they are kept.

Bounded transactions: every rule works in batches of whole items (a whole
contact, or a whole conversation with its edits, messages and socket rows),
taking items until about ``GDPRCHAT_PURGE_BATCH_SIZE`` rows would be deleted
(at least one item), one commit per batch. A crash loses at most the batch in
flight, which rolls back whole; the next run finds the rest by the same rules.
Each batch locks its items (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a write
transaction begun at once on SQLite), so two purges running together share the
work and remove each row once.

A dry run (``dry_run=True``) walks the same batches with the same queries and
counts, through :func:`flask_gdprchat.core.deletion.count_contacts` and
:func:`~flask_gdprchat.core.deletion.count_conversations`, what the real run would
remove: rules are written so that no row is claimed by two of them, which keeps
the dry run's counts equal to the real run's.
"""
from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from flask_gdprchat.core import audit, database, deletion, sealing, signals
from flask_gdprchat.core.clock import utcnow
from flask_gdprchat.core.deletion import IDS, Removed
from flask_gdprchat.core.models import (
    Agent,
    Contact,
    Conversation,
    LiveSocket,
    Message,
    OutboundMail,
    Throttle,
)
from flask_gdprchat.core.settings import setting
from flask_gdprchat.core.state import session

#: Undelivered mail older than this is given up and removed.
OUTBOX_MAX_AGE = dt.timedelta(days=7)
#: A socket row this old belongs to a connection that is long gone. Kept long on
#: purpose: the rows hold no personal data, a stale one costs nothing (closing a
#: gone sid is a no-op), and a console left open for days must still be reachable
#: when its agent is revoked from another process.
SOCKET_MAX_AGE = dt.timedelta(days=30)
#: Rate-limit entries older than this no longer count in any window.
THROTTLE_MAX_AGE = dt.timedelta(days=1)

#: Rules in the order they run, with the words the summary uses for their items.
RULES = {
    "unreadable_contacts": "contacts whose key was destroyed (back from a restored backup)",
    "unreadable_agents": "team members erased again (back from a restored backup)",
    "restricted_subjects": "restricted contacts past the grace period",
    "expired_contacts": "expired contacts",
    "expired_conversations": "expired conversations of contacts kept",
    "stuck_mail": "undeliverable mails",
    "stale_sockets": "stale socket rows",
    "expired_throttle": "expired rate-limit entries",
}


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove): counts only."""

    now: dt.datetime
    dry_run: bool = False
    #: Rows by kind of record (``messages``, ``conversations``, ``contacts``...).
    counts: dict[str, int] = field(default_factory=dict)
    #: Items by rule (see :data:`RULES`): contacts, conversations, mails...
    rules: dict[str, int] = field(default_factory=dict)
    #: Transactions committed (in a dry run: batches counted).
    batches: int = 0
    #: The longest single batch transaction, in seconds.
    longest_batch_seconds: float = 0.0
    #: The whole run, in seconds.
    duration_seconds: float = 0.0

    def total(self) -> int:
        """All rows removed, of every kind."""
        return sum(self.counts.values())

    def _add(self, rule: str, items: int, removed: Removed, seconds: float) -> None:
        self.rules[rule] = self.rules.get(rule, 0) + items
        for kind, n in removed.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        self.batches += 1
        self.longest_batch_seconds = max(self.longest_batch_seconds, seconds)

    def summary(self) -> str:
        """A few lines for people: per rule, per kind of record, and the batches."""
        verb = "Would remove" if self.dry_run else "Removed"
        if not self.total():
            return "Nothing to purge." if self.dry_run else "Nothing was purged."
        lines = [f"{verb}:"]
        for rule, words in RULES.items():
            if self.rules.get(rule):
                lines.append(f"  {self.rules[rule]} {words}")
        lines.append("Rows by kind:")
        for kind in sorted(self.counts):
            lines.append(f"  {kind}: {self.counts[kind]}")
        lines.append(
            f"{self.batches} batch(es); longest transaction {self.longest_batch_seconds:.3f} s; "
            f"total {self.duration_seconds:.2f} s."
        )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (counts only)."""
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "counts": dict(self.counts),
            "rules": dict(self.rules),
            "batches": self.batches,
            "longest_batch_seconds": self.longest_batch_seconds,
            "duration_seconds": self.duration_seconds,
        }


# -- the rules, as conditions -----------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The cut-off times in force for one run: older than these goes."""

    anonymous: dt.datetime
    identified: dt.datetime | None
    restricted: dt.datetime

    @classmethod
    def at(cls, now: dt.datetime) -> Limits:
        """The limits the current settings (dashboard over config) give at ``now``."""
        identified_days = setting("IDENTIFIED_RETENTION_DAYS")
        return cls(
            anonymous=now - dt.timedelta(days=setting("ANONYMOUS_RETENTION_DAYS")),
            identified=(
                None if identified_days is None else now - dt.timedelta(days=identified_days)
            ),
            restricted=now - dt.timedelta(days=setting("RESTRICTED_GRACE_DAYS")),
        )


def _restricted_past_grace(limits: Limits) -> ColumnElement[bool]:
    return and_(Contact.restricted_at.is_not(None), Contact.restricted_at < limits.restricted)


def _contact_expired(limits: Limits) -> ColumnElement[bool]:
    """An unrestricted contact whose every activity is older than its retention."""
    other = aliased(Conversation)

    def idle_since(cutoff: dt.datetime) -> ColumnElement[bool]:
        recent = exists().where(other.contact_id == Contact.id, other.last_activity_at >= cutoff)
        return and_(Contact.last_activity_at < cutoff, ~recent)

    expired = and_(Contact.is_anonymous, idle_since(limits.anonymous))
    if limits.identified is not None:
        expired = or_(expired, and_(not_(Contact.is_anonymous), idle_since(limits.identified)))
    return and_(Contact.restricted_at.is_(None), expired)


def _contact_goes(limits: Limits) -> ColumnElement[bool]:
    """Contacts that rules 1 and 2 remove whole."""
    return or_(_restricted_past_grace(limits), _contact_expired(limits))


def _conversation_expired(limits: Limits) -> ColumnElement[bool]:
    """Expired conversations of contacts that stay (needs ``Contact`` joined)."""
    expired = and_(Contact.is_anonymous, Conversation.last_activity_at < limits.anonymous)
    if limits.identified is not None:
        expired = or_(
            expired,
            and_(not_(Contact.is_anonymous), Conversation.last_activity_at < limits.identified),
        )
    return and_(Contact.restricted_at.is_(None), expired, not_(_contact_expired(limits)))


def _conversation_goes(limits: Limits) -> ColumnElement[bool]:
    """Conversations that rules 1 to 3 remove (needs ``Contact`` joined)."""
    return or_(_contact_goes(limits), _conversation_expired(limits))


# -- batches ------------------------------------------------------------------------------


@dataclass
class _Rule:
    name: str
    key: Any
    candidates: Select[Any]
    lock: Any
    remove: Callable[[list[Any]], Removed]
    count: Callable[[list[Any]], Removed]
    #: Rows each item takes with it, for the batch budget: a correlated count
    #: fetched with the candidates themselves (one query, one round trip).
    weight: ColumnElement[int] | None = None


def _contact_weight() -> ColumnElement[int]:
    """Rows a contact takes with it: itself, its conversations and their messages."""
    conversation = aliased(Conversation)
    conversations = (
        select(func.count()).select_from(conversation)
        .where(conversation.contact_id == Contact.id).scalar_subquery()
    )
    messages = (
        select(func.count()).select_from(Message)
        .join(conversation, conversation.id == Message.conversation_id)
        .where(conversation.contact_id == Contact.id).scalar_subquery()
    )
    return 1 + conversations + messages


def _conversation_weight() -> ColumnElement[int]:
    """Rows a conversation takes with it: itself and its messages."""
    return 1 + (
        select(func.count()).select_from(Message)
        .where(Message.conversation_id == Conversation.id).scalar_subquery()
    )


def _plain(kind: str, model: Any, key: Any) -> tuple[Callable[..., Removed], Callable[..., Removed]]:
    """Remove and count functions for single rows with no children."""
    table = model.__table__
    column = table.c[key.key]
    delete_statement = delete(table).where(column.in_(IDS))
    count_statement = select(func.count()).select_from(table).where(column.in_(IDS))

    def remove(ids: list[Any]) -> Removed:
        removed = Removed()
        removed.add(kind, session().connection().execute(delete_statement, {"ids": ids}).rowcount)
        return removed

    def count(ids: list[Any]) -> Removed:
        removed = Removed()
        removed.add(kind, session().connection().execute(count_statement, {"ids": ids}).scalar_one())
        return removed

    return remove, count


def _rules(limits: Limits, now: dt.datetime, unreadable: list[int],
           unreadable_agents: list[int]) -> list[_Rule]:
    # Rule 0 takes the unreadable contacts; the others leave them to it, so no
    # row is claimed twice (a dry run counts what a real run removes).
    swept = Contact.id.in_(unreadable) if unreadable else false()
    contacts_going = or_(swept, _contact_goes(limits))
    conversations_going = (
        select(Conversation.id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(or_(swept, _conversation_goes(limits)))
    )
    mail_remove, mail_count = _plain("pending_mail", OutboundMail, OutboundMail.id)
    socket_remove, socket_count = _plain("sockets", LiveSocket, LiveSocket.sid)
    throttle_remove, throttle_count = _plain("throttle_entries", Throttle, Throttle.id)
    return [
        _Rule(
            "unreadable_agents",
            Agent.id,
            select(Agent.id).where(Agent.id.in_(unreadable_agents) if unreadable_agents
                                   else false()),
            Agent,
            deletion.erase_agents,
            deletion.count_agents,
        ),
        _Rule(
            "unreadable_contacts",
            Contact.id,
            select(Contact.id).where(swept),
            Contact,
            deletion.delete_contacts,
            deletion.count_contacts,
            _contact_weight(),
        ),
        _Rule(
            "restricted_subjects",
            Contact.id,
            select(Contact.id).where(_restricted_past_grace(limits), not_(swept)),
            Contact,
            deletion.delete_contacts,
            deletion.count_contacts,
            _contact_weight(),
        ),
        _Rule(
            "expired_contacts",
            Contact.id,
            select(Contact.id).where(_contact_expired(limits), not_(swept)),
            Contact,
            deletion.delete_contacts,
            deletion.count_contacts,
            _contact_weight(),
        ),
        _Rule(
            "expired_conversations",
            Conversation.id,
            select(Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(_conversation_expired(limits), not_(swept)),
            Conversation,
            deletion.delete_conversations,
            deletion.count_conversations,
            _conversation_weight(),
        ),
        # The sweeps below leave alone what the rules above remove with their
        # subject, so that no row is counted twice by a dry run.
        _Rule(
            "stuck_mail",
            OutboundMail.id,
            select(OutboundMail.id).where(
                OutboundMail.created_at < now - OUTBOX_MAX_AGE,
                # Mail that goes with a contact removed above (the same rule as
                # deletion.mail_of_contacts) is left to that contact's rule.
                ~exists().where(
                    or_(
                        Contact.id == OutboundMail.contact_id,
                        and_(OutboundMail.contact_id.is_(None),
                             func.lower(Contact.email) == func.lower(OutboundMail.to_address)),
                    ),
                    contacts_going,
                ),
            ),
            OutboundMail,
            mail_remove,
            mail_count,
        ),
        _Rule(
            "stale_sockets",
            LiveSocket.sid,
            select(LiveSocket.sid).where(
                LiveSocket.connected_at < now - SOCKET_MAX_AGE,
                or_(
                    LiveSocket.conversation_id.is_(None),
                    # Correlated, so its cost follows the few socket rows.
                    ~exists(conversations_going.where(
                        Conversation.id == LiveSocket.conversation_id)),
                ),
            ),
            LiveSocket,
            socket_remove,
            socket_count,
        ),
        _Rule(
            "expired_throttle",
            Throttle.id,
            select(Throttle.id).where(Throttle.at < now - THROTTLE_MAX_AGE),
            Throttle,
            throttle_remove,
            throttle_count,
        ),
    ]


def _begin_batch(db: Any, *, write: bool) -> None:
    """Open the batch's transaction.

    SQLite's driver opens a transaction lazily at the first write, after this
    batch's reads, and a write lock taken that late can fail at once when another
    process committed in between. ``BEGIN IMMEDIATE`` takes it first (waiting
    out the busy timeout), so the batch reads and deletes under one lock.
    """
    connection = db.connection()
    if write and connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _take(candidates: Sequence[Any], budget: int) -> tuple[list[Any], int]:
    """The longest prefix of ``(id, weight)`` rows within ``budget`` (at least one)."""
    taken: list[Any] = []
    rows = 0
    for item, weight in candidates:
        if taken and rows + weight > budget:
            break
        taken.append(item)
        rows += weight
    return taken, rows


def _drain(
    rule: _Rule,
    report: PurgeReport,
    budget: int,
    on_batch: Callable[[PurgeReport], None] | None,
) -> None:
    """Run one rule batch by batch until nothing (unlocked) is left for it."""
    db = session()
    # Built once per rule and run with new bounds each batch (compiled once too).
    weight = rule.weight if rule.weight is not None else literal(1)
    first = rule.candidates.add_columns(weight).order_by(rule.key).limit(bindparam("limit"))
    after = first.where(rule.key > bindparam("cursor"))
    if not report.dry_run and db.get_bind().dialect.name == "postgresql":
        # Another purge running now skips what this one holds, and vice versa:
        # together they remove each row once.
        first, after = (q.with_for_update(skip_locked=True, of=rule.lock) for q in (first, after))
    cursor: Any = None
    limit = budget
    while True:
        started = time.perf_counter()
        try:
            _begin_batch(db, write=not report.dry_run)
            query, params = (first, {"limit": limit}) if cursor is None else (
                after, {"limit": limit, "cursor": cursor})
            candidates = db.connection().execute(query, params).all()
            if not candidates:
                db.rollback()
                return
            taken, rows = _take(candidates, budget)
            if report.dry_run:
                removed = rule.count(taken)
                db.rollback()
            else:
                removed = rule.remove(taken)
                db.commit()
        except BaseException:
            db.rollback()
            raise
        report._add(rule.name, len(taken), removed, time.perf_counter() - started)
        cursor = taken[-1]
        # Fetch about as many candidates as the budget will take next time.
        per_item = max(1.0, rows / len(taken))
        limit = max(1, min(budget, math.ceil(budget / per_item * 1.25) + 1))
        if on_batch is not None:
            on_batch(report)


def purge_expired(
    now: dt.datetime | None = None,
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    actor: str = "scheduler",
    on_batch: Callable[[PurgeReport], None] | None = None,
) -> PurgeReport:
    """Apply every retention rule at ``now`` (default: the current time).

    ``dry_run`` removes nothing and reports exactly what a run would remove.
    ``batch_size`` overrides ``GDPRCHAT_PURGE_BATCH_SIZE`` (rows per transaction).
    ``actor`` (``scheduler`` or ``cli``) is written to the audit log.
    ``on_batch`` is called after each committed batch, outside its transaction
    (the scheduler renews its lease there; raising stops the purge between
    batches). A real run is audited with its counts, announced with
    :data:`flask_gdprchat.core.signals.purge_completed`, and on SQLite followed by a
    scrub of the freed space.
    """
    if now is None:
        now = utcnow()
    elif not isinstance(now, dt.datetime):
        raise ValueError(f"now must be a datetime, got {type(now).__name__}")
    elif now.tzinfo is not None:
        now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if batch_size is None:
        batch_size = setting("PURGE_BATCH_SIZE")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch size must be a positive whole number, got {batch_size!r}")

    started = time.perf_counter()
    report = PurgeReport(now=now, dry_run=dry_run)
    limits = Limits.at(now)
    unreadable = sealing.unreadable_contacts()
    unreadable_agents = sealing.unreadable_agents()
    session().rollback()  # end the read before the batches begin their own
    for rule in _rules(limits, now, unreadable, unreadable_agents):
        _drain(rule, report, batch_size, on_batch)
    report.duration_seconds = time.perf_counter() - started
    if dry_run:
        return report

    db = session()
    # Counts go in as one mapping: a rule named like one of record()'s own
    # keywords (actor, ref...) must not collide with them.
    audit.record("retention_purge", actor=actor, counts=dict(report.counts))
    db.commit()
    if report.total():
        database.scrub_free_space()
    signals.purge_completed.send(current_app._get_current_object(), report=report)  # type: ignore[attr-defined]
    return report


__all__ = ["PurgeReport", "Limits", "purge_expired", "RULES"]
